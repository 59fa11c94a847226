"""The gateway's front door: /v1/* (and any extra routes given) to their handlers, the rest to Django."""

import logging
import time
from collections.abc import Awaitable, Callable

from gateway import messages, metrics, tracing
from gateway.endpoints import ROUTES
from gateway.http import Receive, Scope, Send, send_bytes, send_error
from gateway.notes import note_begin
from gateway.refusals import send_unavailable
from gateway.request_id import current_request_id
from plumbing.addresses import scope_client_address
from plumbing.outages import OUTAGES

logger = logging.getLogger(__name__)

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
Routes = dict[str, tuple[str, Handler]]

V1_ROUTES: Routes = {**ROUTES, "/metrics": ("GET", metrics.metrics_endpoint)}
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


def gateway_or(django_app: Callable, extra_routes: Routes | None = None) -> Callable:
    """Send /v1/* and `extra_routes` to the gateway, everything else to Django. Routes are fixed here."""
    routes: Routes = {**V1_ROUTES, **(extra_routes or {})}
    exact = frozenset(path for path in routes if not path.startswith("/v1/"))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path.startswith("/v1/") or path == "/v1" or path in exact:
                return await dispatch(routes, scope, receive, send)
        return await django_app(scope, receive, send)

    return app


async def dispatch(routes: Routes, scope: Scope, receive: Receive, plain_send: Send) -> None:
    # Keys travel in headers, never cookies, so any web page may call the API (as the seed allowed).
    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message["headers"], *CORS_HEADERS]
        await plain_send(message)

    path, method = scope["path"].rstrip("/"), scope["method"]
    if method == "OPTIONS":
        return await send_bytes(send, 204, b"", PREFLIGHT_HEADERS)
    route = routes.get(path)
    if route is None:
        message = messages.unknown_endpoint(scope["path"])
        return await send_error(send, 404, message, "invalid_request_error", "not_found")
    if method != route[0]:
        message = messages.wrong_method(route[0], path)
        allow = [(b"allow", route[0].encode())]
        return await send_error(send, 405, message, "invalid_request_error", "method_not_allowed", allow)
    if path == "/metrics":
        return await route[1](scope, receive, send)
    try:
        await noted(route[1], path, scope, receive, send)
    except OUTAGES:
        logger.exception("a store was unreachable while answering %s", path)
        try:
            await send_unavailable(send)
        except Exception:  # the answer had begun: the server ends the connection
            pass


async def noted(handler: Handler, path: str, scope: Scope, receive: Receive, send: Send) -> None:
    """Run the handler with the call's note begun: its answer's status and first byte are noted, the
    request log gets its row, (with METRICS_TOKEN set) the metrics count and time it, and (with
    OTEL_EXPORTER_OTLP_ENDPOINT set) it is traced."""
    note = note_begin(endpoint=path, request_id=current_request_id.get(), client_ip=scope_client_address(scope))
    status = [0]

    async def send_noting(message: dict) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]
        elif message.get("body"):
            note.first_byte_sent()
        await send(message)

    observing = metrics.enabled()
    if observing:
        metrics.observation.set({})
    traced = tracing.request_begin(route=path, request_id=note.request_id, method=scope["method"])
    try:
        await handler(scope, receive, send_noting)
    finally:
        note.end(status[0] or 499)
        if traced is not None:
            tracing.request_end(traced, status[0] or 499, note)
        if observing:
            metrics.observe_request(path, status[0] or 499, time.monotonic() - note.clock)
