"""Relaying an admitted request to the model's upstream, whole or streamed; refunded if no upstream answers."""

import json
import time
from dataclasses import dataclass

from gateway import balancer, messages, metrics
from gateway.bodies import ModelRequest
from gateway.catalogue import Route, Target
from gateway.errors import UpstreamError, UpstreamRefused
from gateway.http import SSE_HEADERS, Receive, Send, send_bytes, send_error
from gateway.refusals import admission_headers
from gateway.sse import EventSplitter, body_usage_tokens, carries_usage, event_payload, event_usage, usage_tokens
from gateway.streams import Stream
from gateway.tasks import unless_client_leaves
from keys import metering
from keys.metering import Admission, KeyInfo


@dataclass(slots=True)
class Tally:
    """Tokens a stream reported so far."""

    prompt: int = 0
    completion: int = 0


@dataclass(frozen=True, slots=True)
class Call:
    """One admitted request on its way upstream."""

    info: KeyInfo
    admission: Admission
    route: Route
    path: str
    request: ModelRequest
    asks_usage: bool  # chat and text completions report usage in a stream only when asked

    def body_for(self, target: Target) -> bytes:
        return self.request.body_for(target.model, include_usage=self.asks_usage)

    def headers(self) -> dict:
        return {"content-type": self.request.content_type}


async def relay_whole(send: Send, call: Call) -> None:
    async def attempt(target: Target) -> tuple[bytes, str]:
        return await target.client.request("POST", call.path, call.body_for(target), call.headers())

    started = time.monotonic()
    try:
        (answer, content_type), _ = await balancer.with_failover(call.route, attempt)
    except (UpstreamError, UpstreamRefused) as exc:
        return await upstream_failed(send, call, exc)
    finally:
        metrics.note(upstream_seconds=time.monotonic() - started)
    prompt, completion = body_usage_tokens(answer)
    metrics.count_tokens(call.route.model, prompt, completion)
    metering.record_usage(call.info, model=call.route.model, prompt_tokens=prompt, completion_tokens=completion)
    headers = [(b"content-type", content_type.encode("latin-1")), *admission_headers(call.admission)]
    await send_bytes(send, 200, answer, headers)


async def relay_stream(receive: Receive, send: Send, call: Call) -> None:
    payload = call.request.payload or {}
    client_wants_usage = not call.asks_usage or bool((payload.get("stream_options") or {}).get("include_usage"))

    async def attempt(target: Target) -> Stream:
        return await target.client.stream(call.path, call.body_for(target), call.headers())

    started = time.monotonic()
    try:
        stream, _ = await balancer.with_failover(call.route, attempt)
    except (UpstreamError, UpstreamRefused) as exc:
        metrics.note(upstream_seconds=time.monotonic() - started)
        return await upstream_failed(send, call, exc)
    tally = Tally()
    headers = admission_headers(call.admission)
    try:
        relay = relay_events(send, stream, headers, client_wants_usage, tally)
        await unless_client_leaves(relay, receive, stream.close)
    except UpstreamError as failure:
        await metering.refund(call.info)
        await send_stream_error(send, failure)
        return
    finally:
        metrics.note(upstream_seconds=time.monotonic() - started)
    metrics.count_tokens(call.route.model, tally.prompt, tally.completion)
    metering.record_usage(
        call.info, model=call.route.model, prompt_tokens=tally.prompt, completion_tokens=tally.completion
    )


async def upstream_failed(send: Send, call: Call, exc: Exception) -> None:
    """Refund the request and say what happened: a request the model did not answer is not charged."""
    await metering.refund(call.info)
    headers = admission_headers(call.admission, given_back=1)
    if isinstance(exc, UpstreamRefused):
        return await send_bytes(send, exc.status, exc.body, [(b"content-type", exc.content_type.encode()), *headers])
    await send_error(
        send, exc.status, f"{exc.message} {messages.NOT_CHARGED}", "upstream_error", "upstream_unavailable", headers
    )


async def relay_events(send: Send, stream: Stream, headers: list, wants_usage: bool, tally: Tally) -> None:
    """Pass the upstream's events on as they arrive, whole events only, noting the usage they carry.

    Most chunks carry no usage: they go on as they are, split only at their last event boundary.
    """
    splitter = EventSplitter()
    await send({"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *headers]})
    async for chunk in stream.chunks():
        out = splitter.complete(chunk)
        if out and b'"usage"' in out:
            out = b"".join(_noting_usage(splitter.events(out), wants_usage, tally))
        if out:
            await send({"type": "http.response.body", "body": out, "more_body": True})
    await send({"type": "http.response.body", "body": splitter.rest(), "more_body": False})


def _noting_usage(events: list[bytes], wants_usage: bool, tally: Tally) -> list[bytes]:
    kept = []
    for event in events:
        if carries_usage(event):
            data = event_payload(event) or {}
            tally.prompt, tally.completion = usage_tokens(event_usage(data))
            if not wants_usage and not data.get("choices"):
                continue  # asked for by Tollgate, not by the client
        kept.append(event)
    return kept


async def send_stream_error(send: Send, failure: UpstreamError) -> None:
    message = f"{failure.message} {messages.NOT_CHARGED}"
    error = {"error": {"message": message, "type": "upstream_error", "code": "upstream_unavailable"}}
    body = b"data: " + json.dumps(error).encode() + b"\n\n"
    await send({"type": "http.response.body", "body": body, "more_body": False})
