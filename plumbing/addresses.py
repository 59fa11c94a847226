"""The client's address: the peer's, or, only behind a trusted proxy, the one X-Forwarded-For names."""

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple:
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            continue  # the system check names it at start; a malformed entry trusts nobody
    return tuple(networks)


def _ip(address: str):
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip


def _trusted(ip, networks: tuple) -> bool:
    return ip is not None and any(ip.version == network.version and ip in network for network in networks)


def client_address(peer: str | None, forwarded_for: str = "") -> str | None:
    """The peer, unless it is one of TRUSTED_PROXIES: then the right-most X-Forwarded-For entry that
    is not itself a trusted proxy (entries left of it could be written by anyone)."""
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    if not networks or not peer or not forwarded_for or not _trusted(_ip(peer), networks):
        return peer
    for entry in reversed(forwarded_for.split(",")):
        if not entry.strip():
            continue
        ip = _ip(entry)
        if not _trusted(ip, networks):
            return str(ip) if ip is not None else None  # a forged entry that is not an address: unknown
    return peer


def scope_client_address(scope: dict) -> str | None:
    """client_address() for an ASGI scope (HTTP or WebSocket)."""
    client = scope.get("client")
    peer = client[0] if client else None
    forwarded = ""
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            forwarded = f"{forwarded},{value.decode('latin-1')}" if forwarded else value.decode("latin-1")
    return client_address(peer, forwarded)
