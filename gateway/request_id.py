"""Request ids: every response carries x-request-id (a sane incoming one is echoed), and log lines carry it."""

import contextvars
import re
import uuid
from collections.abc import Callable

from gateway.http import Receive, Scope, Send

current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_for(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if _SANE.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


def with_request_ids(app: Callable) -> Callable:
    """ASGI middleware: pick the request's id, put it in the log context and on the response."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await app(scope, receive, send)
        request_id = request_id_for(scope)
        current_request_id.set(request_id)
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: dict) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await app(scope, receive, send_with_id)

    return wrapped
