"""Plain ASGI HTTP: reading a request body and sending JSON, bytes and OpenAI-shaped errors."""

import json
from collections.abc import Awaitable, Callable

Scope = dict
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]

MiB = 1024 * 1024
MAX_BODY = 4 * MiB  # JSON endpoints
MAX_UPLOAD = 25 * MiB  # audio files, as OpenAI allows
MAX_REQUEST_BODY = MAX_UPLOAD + MiB  # the server refuses anything larger as it arrives (multipart's envelope)
JSON = (b"content-type", b"application/json")
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


async def send_json(send: Send, status: int, payload: object, headers: list | tuple = ()) -> None:
    body = json.dumps(payload).encode()
    await send_bytes(send, status, body, [JSON, *headers])


async def send_bytes(send: Send, status: int, body: bytes, headers: list) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_error(
    send: Send, status: int, message: str, kind: str, code: str | None, headers: list | tuple = ()
) -> None:
    await send_json(send, status, error_body(message, kind, code), headers)


def error_body(message: str, kind: str, code: str | None) -> dict:
    """OpenAI's error shape."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class BodyTooLarge(Exception):
    """The body is over the endpoint's limit; reading stopped there."""


def declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def read_body(receive: Receive, limit: int = MAX_BODY) -> bytes | None:
    """The whole body, or None if the client left. Raises BodyTooLarge past `limit`, without reading on."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
        if not message.get("more_body"):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
