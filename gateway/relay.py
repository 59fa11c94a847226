"""The /v1 face of a call: the answer whole or as server-sent events, and what a failed upstream says."""

import json

from gateway import messages, tracing
from gateway.bodies import ModelRequest
from gateway.calls import Call, CallRefused
from gateway.errors import UpstreamError, UpstreamRefused
from gateway.http import SSE_HEADERS, Receive, Send, send_bytes, send_error
from gateway.refusals import admission_headers, send_refusal
from plumbing.tasks import unless_client_leaves


async def relay_whole(send: Send, call: Call, path: str, request: ModelRequest) -> None:
    try:
        answer, content_type = await call.answer(path, request)
    except (UpstreamError, UpstreamRefused) as exc:
        return await upstream_failed(send, call, exc)
    except CallRefused as refusal:
        return await send_refusal(send, refusal.refused)
    headers = [(b"content-type", content_type.encode("latin-1")), *admission_headers(call.admission)]
    span = tracing.child_begin("relay")
    await send_bytes(send, 200, answer, headers)
    if span is not None:
        tracing.child_end(span, attributes={"tollgate.stream": False})


async def relay_stream(receive: Receive, send: Send, call: Call, path: str, request: ModelRequest, asks_usage: bool):
    try:
        await call.open(path, request, asks_usage=asks_usage)
    except (UpstreamError, UpstreamRefused) as exc:
        return await upstream_failed(send, call, exc)
    except CallRefused as refusal:
        return await send_refusal(send, refusal.refused)
    await send(
        {"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *admission_headers(call.admission)]}
    )
    span = tracing.child_begin("relay")
    finished, error = True, ""
    try:
        finished, _ = await unless_client_leaves(_relay_events(send, call), receive, call.abandon)
    except UpstreamError as failure:
        error = failure.code
        await send_stream_error(send, failure, charged=call.delivered)
    finally:
        if span is not None:
            facts = {"tollgate.stream": True, "tollgate.client_left": not finished}
            tracing.child_end(span, error=error, attributes=facts)


async def _relay_events(send: Send, call: Call) -> None:
    async for out in call.events():
        await send({"type": "http.response.body", "body": out, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def upstream_failed(send: Send, call: Call, exc: Exception) -> None:
    """Say what happened: a request the model did not answer was refunded."""
    headers = admission_headers(call.admission, given_back=1)
    if isinstance(exc, UpstreamRefused):
        return await send_bytes(send, exc.status, exc.body, [(b"content-type", exc.content_type.encode()), *headers])
    code = exc.code if exc.code == UpstreamError.MISCONFIGURED else "upstream_unavailable"
    await send_error(send, exc.status, f"{exc.message} {messages.NOT_CHARGED}", "upstream_error", code, headers)


async def send_stream_error(send: Send, failure: UpstreamError, *, charged: bool = False) -> None:
    message = f"{failure.message} {messages.CHARGED_PART if charged else messages.NOT_CHARGED}"
    error = {"error": {"message": message, "type": "upstream_error", "code": "upstream_unavailable"}}
    body = b"data: " + json.dumps(error).encode() + b"\n\n"
    await send({"type": "http.response.body", "body": body, "more_body": False})
