"""Key scopes: the addresses a key may be used from, the models it may call, and its own cap."""

import ipaddress
from collections.abc import Iterable

from django.utils.module_loading import import_string
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from keys.exceptions import BadScope

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_ENTRIES = 100
ENTRY_MAX = 128


def networks_parse(values: Iterable[str]) -> tuple[IpNetwork, ...]:
    """Stored entries (already validated) as networks; an address is a network of one."""
    return tuple(ipaddress.ip_network(value, strict=False) for value in values or ())


def address_allowed(networks: tuple[IpNetwork, ...], address: str | None) -> bool:
    """Whether `address` is in one of `networks`; any address is when there are none."""
    if not networks:
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == network.version and ip in network for network in networks)


def _unmapped(network: IpNetwork) -> IpNetwork:
    """An IPv4-mapped IPv6 network as the IPv4 network it is: clients are matched as IPv4."""
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped is not None:
        prefix = max(network.prefixlen - 96, 0)
        return ipaddress.ip_network(f"{network.network_address.ipv4_mapped}/{prefix}", strict=False)
    return network


def _entries(value: object, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [part for part in value.replace(",", "\n").splitlines()]
    if not isinstance(value, list | tuple) or not all(isinstance(entry, str) for entry in value):
        raise BadScope(format_lazy(_("'{field}' must be a list of strings."), field=field))
    entries = list(dict.fromkeys(entry.strip() for entry in value if entry.strip()))
    for entry in entries:
        if len(entry) > ENTRY_MAX or not entry.isprintable():
            raise BadScope(
                format_lazy(
                    _("'{field}' holds an entry longer than {most} characters or with control characters."),
                    field=field,
                    most=ENTRY_MAX,
                )
            )
    if len(entries) > MAX_ENTRIES:
        raise BadScope(format_lazy(_("'{field}' may hold at most {most} entries."), field=field, most=MAX_ENTRIES))
    return entries


def allowed_ips_clean(value: object) -> list[str]:
    """The entries as CIDRs in their canonical form; BadScope names the first that is not an address."""
    cleaned = []
    for entry in _entries(value, "allowed_ips"):
        try:
            if "%" in entry:  # a zone id names a link, not an address: it would be ignored in matching
                raise ValueError(entry)
            network = ipaddress.ip_network(entry, strict=False)
            cleaned.append(str(_unmapped(network)))
        except ValueError:
            raise BadScope(
                format_lazy(_("'{entry}' in allowed_ips is not an IPv4 or IPv6 address or CIDR."), entry=entry[:80])
            ) from None
    return cleaned


def plan_models(plan) -> list[str] | None:
    """The models `plan` grants, from the function KEYS_PLAN_MODELS names; None when none is set."""
    from keys.app_settings import app_settings

    path = app_settings.KEYS_PLAN_MODELS
    return import_string(path)(plan_id=plan.pk) if path else None


def allowed_models_clean(value: object, *, plan) -> list[str]:
    """The entries, each a model `plan` grants; BadScope names the first it does not."""
    entries = _entries(value, "allowed_models")
    granted = plan_models(plan) if entries else None
    for entry in entries:
        if granted is not None and entry not in granted:
            raise BadScope(
                format_lazy(_("The plan {plan} does not grant the model '{model}'."), plan=plan.name, model=entry[:128])
            )
    return entries


def max_requests_clean(value: object, *, plan) -> int | None:
    """A whole number from 1 to the plan's limit, or None for the plan's own."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdecimal():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadScope(_("'max_requests' must be a whole number of at least 1, or empty for the plan's limit."))
    if value > plan.requests_per_day:
        raise BadScope(
            format_lazy(
                _("'max_requests' is {cap}, above the plan's {limit} a {period}; keep a key's cap under its plan's."),
                cap=value,
                limit=plan.requests_per_day,
                period=plan.get_period_display(),
            )
        )
    return value


def scopes_from_form(data) -> dict:
    """The scope fields a page's Edit limits form posted (a QueryDict), as key_scopes_set takes them:
    the models only when the form listed them (it does only when a catalogue grants some)."""
    scopes = {
        "allowed_ips": data.get("allowed_ips", "").replace("\x00", ""),
        "max_requests": data.get("max_requests", "").replace("\x00", "").strip() or None,
    }
    if "allowed_models_shown" in data:
        scopes["allowed_models"] = [name.replace("\x00", "") for name in data.getlist("allowed_models")]
    return scopes
