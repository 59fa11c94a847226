"""Where a webhook may post: http(s), no credentials in the URL, and outside DEBUG no private address."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from gateway.upstream_rules import LOCAL_NAMES, literal_address


def private_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_PRIVATE", settings.DEBUG))


def validate_webhook_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValidationError(_("Use an http:// or https:// address."), code="scheme")
    if parts.username or parts.password:
        raise ValidationError(
            _("Leave credentials out of the address: every post is signed with the endpoint's secret instead."),
            code="credentials",
        )
    host = parts.hostname.lower().rstrip(".")
    address = literal_address(host)
    local = host in LOCAL_NAMES or host.endswith(".localhost") or (address is not None and not address.is_global)
    if local and not private_allowed():
        raise ValidationError(
            _("Loopback, link-local and private addresses are refused unless WEBHOOK_ALLOW_PRIVATE=1 is set."),
            code="private",
        )
