"""Where a webhook may post: http(s), no credentials in the URL, and outside DEBUG no private address."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

LOCAL_NAMES = ("localhost", "localhost.localdomain")


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))  # '127.1', '2130706433'
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


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
    address = _address(host)
    local = host in LOCAL_NAMES or host.endswith(".localhost") or (address is not None and not address.is_global)
    if local and not private_allowed():
        raise ValidationError(
            _("Loopback, link-local and private addresses are refused unless WEBHOOK_ALLOW_PRIVATE=1 is set."),
            code="private",
        )
