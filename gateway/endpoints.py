"""The /v1 endpoints: each model-named POST is checked, routed by the catalogue, admitted, then relayed."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from gateway import calls, messages
from gateway.bodies import BodyProblem, ModelRequest, model_request_from_json, model_request_from_multipart
from gateway.calls import NoRoute, Refused
from gateway.catalogue import catalogue
from gateway.costs import output_fields_check
from gateway.errors import UpstreamError, UpstreamRefused
from gateway.http import (
    JSON,
    MAX_BODY,
    MAX_UPLOAD,
    BodyTooLarge,
    MiB,
    Receive,
    Scope,
    Send,
    declared_length,
    read_body,
    send_bytes,
    send_error,
    send_json,
)
from gateway.key_state import key_state
from gateway.refusals import authenticate, current_ratelimit_headers, send_refusal
from gateway.relay import relay_stream, relay_whole
from gateway.upstreams import get_upstream
from gateway.validation import validate_chat, validate_completion, validate_embedding


@dataclass(frozen=True)
class Endpoint:
    upstream_path: str
    kinds: frozenset[str]  # the catalogue kinds of model it serves
    validate: Callable[[dict], None] | None = None
    asks_usage: bool = False  # add stream_options.include_usage to count a stream's tokens
    max_body: int = MAX_BODY
    completes: bool = False  # answers with generated tokens: a call reserves its output cap


CHAT, AUDIO = frozenset({"chat"}), frozenset({"audio"})
ENDPOINTS = {
    "/v1/chat/completions": Endpoint("/chat/completions", CHAT, validate_chat, asks_usage=True, completes=True),
    # Servers such as vLLM complete text with chat models too.
    "/v1/completions": Endpoint(
        "/completions", frozenset({"completion", "chat"}), validate_completion, True, completes=True
    ),
    "/v1/embeddings": Endpoint("/embeddings", frozenset({"embedding"}), validate_embedding),
    "/v1/responses": Endpoint("/responses", frozenset({"responses", "chat"}), completes=True),
    "/v1/moderations": Endpoint("/moderations", frozenset({"moderation"})),
    "/v1/images/generations": Endpoint("/images/generations", frozenset({"image"})),
    "/v1/audio/speech": Endpoint("/audio/speech", AUDIO),
    "/v1/audio/transcriptions": Endpoint("/audio/transcriptions", AUDIO, max_body=MAX_UPLOAD),
    "/v1/audio/translations": Endpoint("/audio/translations", AUDIO, max_body=MAX_UPLOAD),
}


def header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return ""


def parse(endpoint: Endpoint, scope: Scope, body: bytes | None) -> ModelRequest:
    content_type = header(scope, b"content-type")
    if content_type.lower().startswith("multipart/form-data"):
        return model_request_from_multipart(body, content_type)
    request = model_request_from_json(body)
    output_fields_check(request.payload)
    if endpoint.validate is not None:
        endpoint.validate(request.payload)
    return request


async def send_too_large(send: Send, limit: int, headers: list | tuple = ()) -> None:
    message = messages.body_too_large(limit // MiB)
    await send_error(send, 413, message, "invalid_request_error", "body_too_large", headers)


async def model_endpoint(endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
    length = declared_length(scope)
    if length is not None and length > endpoint.max_body:
        return await send_too_large(send, endpoint.max_body)  # before reading a byte of it
    info = await authenticate(scope, send)
    if info is None:
        return
    try:
        request = parse(endpoint, scope, await read_body(receive, endpoint.max_body))
    except BodyTooLarge:
        return await send_too_large(send, endpoint.max_body, await current_ratelimit_headers(info))
    except BodyProblem as problem:
        headers = await current_ratelimit_headers(info)
        return await send_error(send, 400, str(problem), "invalid_request_error", "invalid_request", headers)
    route = await calls.route_find(info=info, model=request.model)
    if isinstance(route, NoRoute):
        headers = await current_ratelimit_headers(info)
        if not route.model:
            message = messages.MODEL_REQUIRED
            return await send_error(send, 400, message, "invalid_request_error", "model_required", headers)
        message = messages.model_not_found(route.model, route.granted)
        return await send_error(send, 404, message, "invalid_request_error", "model_not_found", headers)
    if route.kind and route.kind not in endpoint.kinds:  # before admission: not charged
        headers = await current_ratelimit_headers(info)
        message = messages.model_wrong_kind(route.model, route.kind, scope["path"])
        return await send_error(send, 400, message, "invalid_request_error", "model_wrong_kind", headers)
    call = await calls.call_admit(info=info, route=route, request=request, completes=endpoint.completes)
    if isinstance(call, Refused):
        return await send_refusal(send, call)
    if request.stream:
        return await relay_stream(receive, send, call, endpoint.upstream_path, request, endpoint.asks_usage)
    await relay_whole(send, call, endpoint.upstream_path, request)


async def models(scope: Scope, receive: Receive, send: Send) -> None:
    """The models this key's plan grants, in OpenAI's list shape; the upstream's own list without a catalogue."""
    info = await authenticate(scope, send)
    if info is None:
        return
    headers = await current_ratelimit_headers(info)  # like every authenticated answer; listing is free
    snapshot = await catalogue()
    if not snapshot.empty:
        cards = [
            {"id": name, "object": "model", "created": 0, "owned_by": "tollgate"}
            for name in calls.key_models(info, snapshot.granted(info.plan_id))
        ]
        return await send_json(send, 200, {"object": "list", "data": cards}, headers)
    if info.allowed_models:  # the key may call only these, whatever the upstream serves
        cards = [
            {"id": name, "object": "model", "created": 0, "owned_by": "tollgate"} for name in calls.key_models(info, [])
        ]
        return await send_json(send, 200, {"object": "list", "data": cards}, headers)
    try:
        body, _ = await get_upstream().request("GET", "/models")
    except UpstreamError as exc:
        return await send_error(send, exc.status, exc.message, "upstream_error", "upstream_unavailable", headers)
    except UpstreamRefused as exc:
        content_type = (b"content-type", exc.content_type.encode())
        return await send_bytes(send, exc.status, exc.body, [content_type, *headers])
    await send_bytes(send, 200, body, [JSON, *headers])


ROUTES = {
    "/v1/models": ("GET", models),
    "/v1/key": ("GET", key_state),
    **{path: ("POST", partial(model_endpoint, endpoint)) for path, endpoint in ENDPOINTS.items()},
}
