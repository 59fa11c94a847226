"""The seed's streamed endpoint: GET /query?uuid=&message= answers as plain text, counted like /v1."""

import asyncio
from urllib.parse import parse_qs

from chat import answers, messages
from chat.asgi_http import Receive, Scope, Send, send_json, wait_for_disconnect
from chat.gate import admit, authenticate, current_ratelimit_headers, ratelimit_headers


async def query(scope: Scope, receive: Receive, send: Send) -> None:
    """The seed's GET /query?uuid=&message=: the answer streamed as plain text, counted like /v1."""
    info = await authenticate(scope, send)
    if info is None:
        return
    params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    message = (params.get("message") or [""])[0].strip()
    conversation = (params.get("uuid") or [""])[0].strip()
    problem = messages.QUERY_MESSAGE_REQUIRED if not message else ""
    if len(message) > answers.MAX_MESSAGE:
        problem = messages.too_long(answers.MAX_MESSAGE)
    if problem:
        return await send_json(send, 400, {"message": problem}, await current_ratelimit_headers(info))
    admission = await admit(info, send)
    if admission is None:
        return
    headers = ratelimit_headers(admission.limit, admission.remaining)
    started = False
    watch_task = asyncio.ensure_future(wait_for_disconnect(receive))
    reply = answers.reply_stream(info=info, conversation_uuid=conversation, content=message, admission=admission)
    try:
        async for event in reply:
            if watch_task.done():  # the client left: closing the reply below ends the upstream request
                break
            if isinstance(event, answers.Failed):
                if not started:
                    return await send_json(send, event.status, {"message": event.message}, headers)
                break
            if isinstance(event, answers.Delta):
                if not started:
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 200,
                            "headers": [
                                (b"content-type", b"text/plain; charset=utf-8"),
                                (b"cache-control", b"no-cache"),
                                (b"x-accel-buffering", b"no"),
                                *headers,
                            ],
                        }
                    )
                    started = True
                await send({"type": "http.response.body", "body": event.text.encode(), "more_body": True})
        if not started:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"), *headers],
                }
            )
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        watch_task.cancel()
        await reply.aclose()
