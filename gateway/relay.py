"""The /v1 endpoints: relay a request upstream once it is admitted, refund it if the model fails."""

import json
from dataclasses import dataclass

from gateway import messages
from gateway.http import JSON, SSE_HEADERS, Receive, Scope, Send, read_body, send_bytes, send_error
from gateway.refusals import admit, authenticate, current_ratelimit_headers, ratelimit_headers
from gateway.sse import EventSplitter, body_usage_tokens, carries_usage, event_payload, usage_tokens
from gateway.streams import Stream
from gateway.tasks import unless_client_leaves
from gateway.upstream import UpstreamError, UpstreamRefused, default_model, get_upstream
from gateway.validation import validate_chat
from keys import metering
from keys.metering import Admission, KeyInfo


async def models(scope: Scope, receive: Receive, send: Send) -> None:
    if await authenticate(scope, send) is None:
        return
    try:
        body = await get_upstream().request("GET", "/models")
    except UpstreamError as exc:
        return await send_error(send, exc.status, exc.message, "upstream_error", "upstream_unavailable")
    except UpstreamRefused as exc:
        return await send_bytes(send, exc.status, exc.body, [(b"content-type", exc.content_type.encode())])
    await send_bytes(send, 200, body, [JSON])


async def chat_completions(scope: Scope, receive: Receive, send: Send) -> None:
    info = await authenticate(scope, send)
    if info is None:
        return
    body = await read_body(receive)
    payload, problem = validate_chat(body)
    if payload is None:
        headers = await current_ratelimit_headers(info)
        return await send_error(send, 400, problem, "invalid_request_error", "invalid_request", headers)
    if not payload.get("model"):
        payload["model"] = default_model()
        body = None
        if not payload["model"]:
            headers = await current_ratelimit_headers(info)
            return await send_error(
                send, 400, messages.MODEL_REQUIRED, "invalid_request_error", "model_required", headers
            )
    admission = await admit(info, send)
    if admission is None:
        return
    if payload.get("stream"):
        return await relay_stream(receive, send, info, payload, admission)
    try:
        answer = await get_upstream().request("POST", "/chat/completions", body or json.dumps(payload).encode())
    except (UpstreamError, UpstreamRefused) as exc:
        return await upstream_failed(send, info, exc, admission)
    prompt, completion = body_usage_tokens(answer)
    metering.record_usage(info, prompt_tokens=prompt, completion_tokens=completion)
    await send_bytes(send, 200, answer, [JSON, *ratelimit_headers(admission.limit, admission.remaining)])


async def upstream_failed(send: Send, info: KeyInfo, exc: Exception, admission: Admission) -> None:
    """Refund the request and say what happened: a request the model did not answer is not charged."""
    await metering.refund(info)
    headers = ratelimit_headers(admission.limit, admission.remaining + 1)
    if isinstance(exc, UpstreamRefused):
        return await send_bytes(send, exc.status, exc.body, [(b"content-type", exc.content_type.encode()), *headers])
    await send_error(
        send, exc.status, f"{exc.message} {messages.NOT_CHARGED}", "upstream_error", "upstream_unavailable", headers
    )


@dataclass(slots=True)
class Tally:
    """Tokens a stream reported so far."""

    prompt: int = 0
    completion: int = 0


async def relay_stream(receive: Receive, send: Send, info: KeyInfo, payload: dict, admission: Admission) -> None:
    wants_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
    # Tollgate always asks for usage, to count tokens; it drops that event if the client did not ask.
    payload["stream_options"] = {**(payload.get("stream_options") or {}), "include_usage": True}
    try:
        stream = await get_upstream().stream("/chat/completions", json.dumps(payload).encode())
    except (UpstreamError, UpstreamRefused) as exc:
        return await upstream_failed(send, info, exc, admission)
    tally = Tally()
    headers = ratelimit_headers(admission.limit, admission.remaining)
    try:
        await unless_client_leaves(relay_events(send, stream, headers, wants_usage, tally), receive, stream.close)
    except UpstreamError as failure:
        await metering.refund(info)
        await send_stream_error(send, failure)
        return
    metering.record_usage(info, prompt_tokens=tally.prompt, completion_tokens=tally.completion)


async def relay_events(send: Send, stream: Stream, headers: list, wants_usage: bool, tally: Tally) -> None:
    """Pass the upstream's events on as they arrive, whole events only, noting the usage they carry."""
    splitter = EventSplitter()
    await send({"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *headers]})
    async for chunk in stream.chunks():
        out = []
        for event in splitter.feed(chunk):
            if carries_usage(event):
                data = event_payload(event) or {}
                tally.prompt, tally.completion = usage_tokens(data.get("usage"))
                if not wants_usage and not data.get("choices"):
                    continue
            out.append(event)
        if out:
            await send({"type": "http.response.body", "body": b"".join(out), "more_body": True})
    await send({"type": "http.response.body", "body": splitter.rest(), "more_body": False})


async def send_stream_error(send: Send, failure: UpstreamError) -> None:
    message = f"{failure.message} {messages.NOT_CHARGED}"
    error = {"error": {"message": message, "type": "upstream_error", "code": "upstream_unavailable"}}
    body = b"data: " + json.dumps(error).encode() + b"\n\n"
    await send({"type": "http.response.body", "body": body, "more_body": False})
