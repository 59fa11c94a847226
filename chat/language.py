"""The chat socket's language: the page's, read from the same cookie and header LocaleMiddleware reads."""

from types import SimpleNamespace

from django.utils.translation import get_language_from_request


def language_from_scope(scope: dict) -> str:
    """The language the page was shown in: the switch's cookie, then Accept-Language, then English."""
    headers = dict(scope.get("headers") or [])
    request = SimpleNamespace(
        COOKIES=scope.get("cookies") or {},
        META={"HTTP_ACCEPT_LANGUAGE": headers.get(b"accept-language", b"").decode("latin-1")},
        path_info=scope.get("path", "/"),
    )
    return get_language_from_request(request)
