"""What an upstream may be: an http(s) address staff may point at, and where its key may come from."""

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from gateway.app_settings import app_settings

SCHEMES = ("http", "https")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
LOCAL_NAMES = ("localhost", "localhost.localdomain")


def literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a literal host names, in any spelling the resolver accepts ('127.1', '2130706433')."""
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def validate_upstream_url(value: str) -> None:
    """Refuse what would send a provider key somewhere staff should not reach: other schemes, the
    link-local (cloud metadata) range always, and this machine's or its network's addresses unless
    UPSTREAM_ALLOW_PRIVATE is on."""
    parts = urlsplit(value)
    if parts.scheme.lower() not in SCHEMES:
        raise ValidationError(_("Use an http:// or https:// address."), code="scheme")
    host = (parts.hostname or "").lower().rstrip(".")
    address = literal_address(host) if host else None
    if address is not None and address.is_link_local:
        raise ValidationError(
            _("Link-local addresses (169.254.0.0/16, fe80::/10) are never allowed."), code="link_local"
        )
    local = host in LOCAL_NAMES or host.endswith(".localhost")
    if address is not None:
        local = not address.is_global
    if local and not app_settings.UPSTREAM_ALLOW_PRIVATE:
        raise ValidationError(
            _("Loopback and private addresses are refused unless UPSTREAM_ALLOW_PRIVATE=1 is set."), code="private"
        )


def key_env_allowed(name: str) -> bool:
    prefix = app_settings.UPSTREAM_KEY_ENV_PREFIX
    return bool(prefix) and name.startswith(prefix) and len(name) > len(prefix)


def validate_key_env(value: str) -> None:
    """Only variables meant for upstream keys: any other (DJANGO_SECRET_KEY, DATABASE_URL) would be sent upstream."""
    if value and not (key_env_allowed(value) and ENV_NAME.fullmatch(value)):
        raise ValidationError(
            _("The variable's name must start with %(prefix)s."),
            code="key_env_prefix",
            params={"prefix": app_settings.UPSTREAM_KEY_ENV_PREFIX},
        )
