"""The seed's streamed endpoint: GET /query?uuid=&message= answers as plain text, counted like /v1."""

import asyncio
from urllib.parse import parse_qs

from django.conf import settings
from django.utils import translation

from chat import answers, messages
from gateway import calls
from gateway.calls import NoRoute, Refused
from gateway.http import Receive, Scope, Send, send_json
from gateway.refusals import admission_headers, authenticate, current_ratelimit_headers, send_refusal
from plumbing.tasks import wait_for_disconnect

TEXT_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def query_problem(message: str) -> str:
    if not message:
        return str(messages.QUERY_MESSAGE_REQUIRED)
    if len(message) > answers.MAX_MESSAGE:
        return messages.too_long(answers.MAX_MESSAGE)
    return ""


async def query(scope: Scope, receive: Receive, send: Send) -> None:
    """Check the key and the message, spend one request, then stream the answer as plain text."""
    # An API: its bodies are English whatever the caller's language (this task's own context).
    with translation.override(settings.LANGUAGE_CODE):
        await _query(scope, receive, send)


async def _query(scope: Scope, receive: Receive, send: Send) -> None:
    info = await authenticate(scope, send)
    if info is None:
        return
    params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    message = (params.get("message") or [""])[0].strip()
    problem = query_problem(message)
    if problem:
        return await send_json(send, 400, {"message": problem}, await current_ratelimit_headers(info))
    route = await calls.route_find(info=info, model=None)
    if isinstance(route, NoRoute):
        message = messages.model_not_found(route.model, route.granted)
        return await send_json(send, 404, {"message": message}, await current_ratelimit_headers(info))
    call = await calls.call_admit(info=info, route=route)
    if isinstance(call, Refused):
        return await send_refusal(send, call)
    conversation = (params.get("uuid") or [""])[0].strip()
    reply = answers.reply_stream(call=call, conversation_uuid=conversation, content=message)
    await stream_as_text(receive, send, reply, admission_headers(call.admission))


async def stream_as_text(receive: Receive, send: Send, reply, headers: list) -> None:
    """Send the reply's deltas as a plain-text body; a failure before the first delta is a JSON error."""
    started = False
    watch_task = asyncio.ensure_future(wait_for_disconnect(receive))
    span = calls.trace_child_begin("relay")
    try:
        async for event in reply:
            if watch_task.done():  # the client left: closing the reply below ends the upstream request
                break
            if isinstance(event, answers.NotAdmitted) and not started:
                return await send_refusal(send, event.refused)
            if isinstance(event, answers.Failed):
                if not started:
                    return await send_json(send, event.status, {"message": str(event.message)}, headers)
                break
            if isinstance(event, answers.Delta):
                if not started:
                    await send({"type": "http.response.start", "status": 200, "headers": [*TEXT_HEADERS, *headers]})
                    started = True
                await send({"type": "http.response.body", "body": event.text.encode(), "more_body": True})
        if not started:
            await send({"type": "http.response.start", "status": 200, "headers": [TEXT_HEADERS[0], *headers]})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        watch_task.cancel()
        await reply.aclose()
        if span is not None:
            calls.trace_child_end(span, attributes={"tollgate.stream": True})
