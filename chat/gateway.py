"""The OpenAI-compatible /v1 gateway: a plain ASGI app, leaner than Django's request cycle.

Only what each request needs runs here: read the key, check throttle and quota, relay upstream.
"""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from chat import answers
from chat.sse import EventSplitter, body_usage_tokens, carries_usage, event_payload, usage_tokens
from chat.upstream import UpstreamError, UpstreamRefused, default_model, get_upstream
from keys.admission import key_authenticate, quota_refund, request_admit
from keys.quota import Admission, KeyInfo, seconds_until_reset, utc_today
from keys.usage import usage_recorder

Scope = dict
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]

logger = logging.getLogger(__name__)
MAX_BODY = 4 * 1024 * 1024
UNAVAILABLE = "Tollgate could not check your key or quota just now. The request was not charged; try again shortly."
JSON = (b"content-type", b"application/json")
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
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
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
            f"Unknown endpoint {scope['path']}; Tollgate serves /v1/chat/completions and /v1/models.",
            "invalid_request_error",
            "not_found",
        )
    if method != route[0]:
        return await send_error(
            send,
            405,
            f"Use {route[0]} for {path}.",
            "invalid_request_error",
            "method_not_allowed",
            [(b"allow", route[0].encode())],
        )
    await route[1](scope, receive, send)


# -- Responses ------------------------------------------------------------------------------------


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
    await send_json(send, status, {"error": {"message": message, "type": kind, "param": None, "code": code}}, headers)


def reset_duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s" if hours else f"{minutes}m{secs}s"


def ratelimit_headers(limit: int, remaining: int) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-ratelimit-limit-requests", str(limit).encode()),
        (b"x-ratelimit-remaining-requests", str(max(remaining, 0)).encode()),
        (b"x-ratelimit-reset-requests", reset_duration(seconds_until_reset()).encode()),
    ]


# -- Authentication and admission -------------------------------------------------------------------


def presented_key(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"authorization":
            text = value.decode("latin-1")
            if text[:7].lower() == "bearer ":
                return text[7:].strip()
        elif name == b"x-api-key":
            return value.decode("latin-1").strip()
    return ""


async def authenticate(scope: Scope, send: Send) -> KeyInfo | None:
    raw = presented_key(scope)
    try:
        info = await key_authenticate(raw) if raw else None
    except Exception:
        logger.exception("key lookup failed")
        await send_error(send, 503, UNAVAILABLE, "server_error", "service_unavailable", [(b"retry-after", b"5")])
        return None
    if info is None:
        message = (
            "Missing API key: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'."
            if not raw
            else "Invalid API key: it is mistyped, unknown or revoked. Generate one at /keys/."
        )
        await send_error(
            send, 401, message, "invalid_request_error", "invalid_api_key", [(b"www-authenticate", b"Bearer")]
        )
    return info


async def admit(info: KeyInfo, send: Send) -> Admission | None:
    """Spend one request of the day; answer the refusal and return None if refused."""
    try:
        verdict = await request_admit(info)
    except Exception:
        logger.exception("quota check failed")
        await send_error(send, 503, UNAVAILABLE, "server_error", "service_unavailable", [(b"retry-after", b"5")])
        return None
    if verdict.throttled_for:
        retry = str(max(int(verdict.throttled_for + 0.999), 1)).encode()
        message = f"Too Many Requests: {info.plan_name} allows {info.throttle_rate:g} requests per second."
        body = {
            "message": "Too Many Requests",
            "error": {"message": message, "type": "requests", "param": None, "code": "rate_limit_exceeded"},
        }
        await send_json(send, 429, body, [(b"retry-after", retry)])
        return None
    if verdict.revoked:
        await send_error(send, 401, "Invalid API key: it has been revoked.", "invalid_request_error", "invalid_api_key")
        return None
    admission = verdict.admission
    if not admission.admitted:
        await send_json(
            send, 429, limit_exceeded_body(info.plan_name, admission.limit), limit_exceeded_headers(admission)
        )
        return None
    return admission


def limit_exceeded_body(plan_name: str, limit: int) -> dict:
    message = f"Limit Exceeded: {plan_name} allows {limit} requests per day; resets at 00:00 UTC"
    return {
        "message": "Limit Exceeded",
        "error": {"message": message, "type": "requests", "param": None, "code": "rate_limit_exceeded"},
    }


def limit_exceeded_headers(admission: Admission) -> list:
    # x-should-retry tells the openai SDK not to retry: nothing changes until the reset.
    return [
        (b"retry-after", str(seconds_until_reset()).encode()),
        (b"x-should-retry", b"false"),
        *ratelimit_headers(admission.limit, 0),
    ]


async def read_body(receive: Receive) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


# -- Endpoints --------------------------------------------------------------------------------------


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
        return None, "The request body is missing or larger than 4 MiB."
    try:
        payload = json.loads(body)
    except ValueError:
        return None, "The request body is not valid JSON."
    if not isinstance(payload, dict):
        return None, "The request body must be a JSON object."
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return None, "'messages' must be a non-empty list of message objects."
    model = payload.get("model")
    if model is not None and not isinstance(model, str):
        return None, "'model' must be a string."
    return payload, ""


async def chat_completions(scope: Scope, receive: Receive, send: Send) -> None:
    info = await authenticate(scope, send)
    if info is None:
        return
    body = await read_body(receive)
    payload, problem = validate_chat(body)
    if payload is None:
        return await send_error(send, 400, problem, "invalid_request_error", "invalid_request")
    if not payload.get("model"):
        if not default_model():
            return await send_error(
                send,
                400,
                "'model' is required: this server sets no default model.",
                "invalid_request_error",
                "model_required",
            )
        payload["model"] = default_model()
        body = None
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
        f"{exc.message} The request was not charged; try again.",
        "upstream_error",
        "upstream_unavailable",
        headers,
    )


async def wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


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
                "message": f"{failure.message} The request was not charged.",
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


async def query(scope: Scope, receive: Receive, send: Send) -> None:
    """The seed's GET /query?uuid=&message=: the answer streamed as plain text, counted like /v1."""
    info = await authenticate(scope, send)
    if info is None:
        return
    params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    message = (params.get("message") or [""])[0].strip()
    conversation = (params.get("uuid") or [""])[0].strip()
    if not message:
        return await send_json(send, 400, {"message": "The 'message' query parameter is required."})
    if len(message) > answers.MAX_MESSAGE:
        return await send_json(send, 400, {"message": f"The message is longer than {answers.MAX_MESSAGE} characters."})
    admission = await admit(info, send)
    if admission is None:
        return
    headers = ratelimit_headers(admission.limit, admission.remaining)
    started = False
    watch_task = asyncio.ensure_future(wait_for_disconnect(receive))
    try:
        async for event in answers.reply_stream(
            info=info, conversation_uuid=conversation, content=message, admission=admission
        ):
            if watch_task.done():
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
