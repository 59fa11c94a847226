"""Request bodies for Django's routes capped in front of Django: 413 from the Content-Length, or from
the bytes counted so far when there is none (uvicorn passes any body on, and Django spools it to disk)."""

import json
from collections.abc import Awaitable, Callable

from django.conf import settings

Scope = dict
Message = dict
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
DEFAULT_MAX_BODY = 2_621_440  # 2.5 MiB: Django's own DATA_UPLOAD_MAX_MEMORY_SIZE, so a body is never spooled


def max_request_body() -> int:
    return getattr(settings, "MAX_REQUEST_BODY", DEFAULT_MAX_BODY)


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_413(send: Send, limit: int) -> None:
    message = f"The request body is larger than {limit} bytes."
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error", "code": "body_too_large"}})
    body = body.encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers + [(b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def body_limited(app: App) -> App:
    """`app` behind a cap of MAX_REQUEST_BODY bytes for each HTTP request's body."""

    async def limited(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        limit = max_request_body()
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            return await _send_413(send, limit)
        received, refused, started = 0, False, False

        async def counted_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Django sees the client go away and stops reading; the 413 is sent below.
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if refused and not started:
                return  # whatever Django answers to a vanished client, the client gets the 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        await app(scope, counted_receive, watched_send)
        if refused and not started:
            await _send_413(send, limit)

    return limited
