"""The OpenAI-compatible /v1 gateway: a plain ASGI app, leaner than Django's request cycle.

Only what each request needs runs here: read the key, check throttle and quota, relay upstream.
"""

import asyncio
import json
from collections.abc import Callable

from chat import messages
from chat.asgi_http import (
    JSON,
    SSE_HEADERS,
    Receive,
    Scope,
    Send,
    read_body,
    send_bytes,
    send_error,
    wait_for_disconnect,
)
from chat.gate import admit, authenticate, current_ratelimit_headers, ratelimit_headers
from chat.seed_query import query
from chat.sse import EventSplitter, body_usage_tokens, carries_usage, event_payload, usage_tokens
from chat.upstream import UpstreamError, UpstreamRefused, default_model, get_upstream
from keys.admission import quota_refund
from keys.quota import Admission, KeyInfo, utc_today
from keys.usage import usage_recorder

CORS_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (
        b"access-control-expose-headers",
        b"x-ratelimit-limit-requests, x-ratelimit-remaining-requests, x-ratelimit-reset-requests, retry-after",
    ),
]
PREFLIGHT_HEADERS = [
    (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
    # "*" does not cover Authorization, so it is named.
    (b"access-control-allow-headers", b"authorization, x-api-key, content-type, *"),
    (b"access-control-max-age", b"86400"),
]


def gateway_or(django_app: Callable) -> Callable:
    """Send /v1/* and /query to the gateway, everything else to Django."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path.startswith("/v1/") or path == "/v1" or path == "/query":
                return await gateway(scope, receive, send)
        return await django_app(scope, receive, send)

    return app


async def gateway(scope: Scope, receive: Receive, plain_send: Send) -> None:
    # Keys travel in headers, never cookies, so any web page may call the API (as the seed allowed).
    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message["headers"], *CORS_HEADERS]
        await plain_send(message)

    path, method = scope["path"].rstrip("/"), scope["method"]
    if method == "OPTIONS":
        return await send_bytes(send, 204, b"", PREFLIGHT_HEADERS)
    routes = {
        "/v1/chat/completions": ("POST", chat_completions),
        "/v1/models": ("GET", models),
        "/query": ("GET", query),
    }
    route = routes.get(path)
    if route is None:
        return await send_error(
            send,
            404,
            messages.unknown_endpoint(scope["path"]),
            "invalid_request_error",
            "not_found",
        )
    if method != route[0]:
        return await send_error(
            send,
            405,
            messages.wrong_method(route[0], path),
            "invalid_request_error",
            "method_not_allowed",
            [(b"allow", route[0].encode())],
        )
    await route[1](scope, receive, send)


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


def validate_chat(body: bytes | None) -> tuple[dict | None, str]:
    if body is None:
        return None, messages.BODY_MISSING
    try:
        payload = json.loads(body)
    except ValueError:
        return None, messages.BODY_NOT_JSON
    if not isinstance(payload, dict):
        return None, messages.BODY_NOT_OBJECT
    turns = payload.get("messages")
    if not isinstance(turns, list) or not turns or not all(isinstance(m, dict) for m in turns):
        return None, messages.MESSAGES_REQUIRED
    model = payload.get("model")
    if model is not None and not isinstance(model, str):
        return None, messages.MODEL_NOT_STRING
    return payload, ""


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
    upstream = get_upstream()
    try:
        answer = await upstream.request("POST", "/chat/completions", body or json.dumps(payload).encode())
    except (UpstreamError, UpstreamRefused) as exc:
        return await upstream_failed(send, info, exc, admission)
    prompt, completion = body_usage_tokens(answer)
    usage_recorder.record(key_id=info.key_id, day=utc_today(), prompt_tokens=prompt, completion_tokens=completion)
    await send_bytes(send, 200, answer, [JSON, *ratelimit_headers(admission.limit, admission.remaining)])


async def upstream_failed(send: Send, info: KeyInfo, exc: Exception, admission: Admission) -> None:
    """Refund the request and say what happened: a request the model did not answer is not charged."""
    await quota_refund(info)
    headers = ratelimit_headers(admission.limit, admission.remaining + 1)
    if isinstance(exc, UpstreamRefused):
        return await send_bytes(send, exc.status, exc.body, [(b"content-type", exc.content_type.encode()), *headers])
    await send_error(
        send,
        exc.status,
        f"{exc.message} {messages.NOT_CHARGED}",
        "upstream_error",
        "upstream_unavailable",
        headers,
    )


async def relay_stream(receive: Receive, send: Send, info: KeyInfo, payload: dict, admission: Admission) -> None:
    headers = ratelimit_headers(admission.limit, admission.remaining)
    wants_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
    payload["stream_options"] = {**(payload.get("stream_options") or {}), "include_usage": True}
    try:
        stream = await get_upstream().stream("/chat/completions", json.dumps(payload).encode())
    except (UpstreamError, UpstreamRefused) as exc:
        return await upstream_failed(send, info, exc, admission)
    tokens = [0, 0]

    async def relay() -> None:
        splitter = EventSplitter()
        await send({"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *headers]})
        async for chunk in stream.chunks():
            out = []
            for event in splitter.feed(chunk):
                if carries_usage(event):
                    data = event_payload(event) or {}
                    tokens[0], tokens[1] = usage_tokens(data.get("usage"))
                    if not wants_usage and not data.get("choices"):
                        continue  # asked for by Tollgate, not by the client
                out.append(event)
            if out:
                await send({"type": "http.response.body", "body": b"".join(out), "more_body": True})
        await send({"type": "http.response.body", "body": splitter.rest(), "more_body": False})

    relay_task = asyncio.ensure_future(relay())
    watch_task = asyncio.ensure_future(wait_for_disconnect(receive))
    try:
        await asyncio.wait({relay_task, watch_task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not relay_task.done():  # the client left: stop the upstream generating for nobody
            relay_task.cancel()
            stream.close()
        watch_task.cancel()
    failure = relay_task.exception() if relay_task.done() and not relay_task.cancelled() else None
    if isinstance(failure, UpstreamError):
        await quota_refund(info)
        error = {
            "error": {
                "message": f"{failure.message} {messages.NOT_CHARGED}",
                "type": "upstream_error",
                "code": "upstream_unavailable",
            }
        }
        await send(
            {"type": "http.response.body", "body": b"data: " + json.dumps(error).encode() + b"\n\n", "more_body": False}
        )
        return
    if failure is not None:
        raise failure
    usage_recorder.record(key_id=info.key_id, day=utc_today(), prompt_tokens=tokens[0], completion_tokens=tokens[1])
