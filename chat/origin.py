"""WebSocket origin check by scheme, host and port: a socket opened from another site, or from
another port of this host, never carries this site's session cookie into the chat."""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin_key(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[parts.scheme]


def _site_scheme(scope: dict, headers: dict[bytes, bytes]) -> str:
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy and headers.get(b"x-forwarded-proto", b"").decode("latin-1") == "https":
        return "https"
    return "https" if scope.get("scheme") in ("wss", "https") else "http"


def origin_allowed(scope: dict) -> bool:
    headers = dict(scope.get("headers", []))
    origin = _origin_key(headers.get(b"origin", b"").decode("latin-1"))
    host = headers.get(b"host", b"").decode("latin-1")
    if origin is None or not host:
        return False
    domain, _ = split_domain_port(host)
    if not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    site = _origin_key(f"{_site_scheme(scope, headers)}://{host}")
    trusted = {_origin_key(url) for url in settings.CSRF_TRUSTED_ORIGINS}
    return origin == site or origin in trusted


class SameOriginValidator:
    """Channels middleware: refuse a WebSocket whose Origin is not this site's own."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope: dict, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
