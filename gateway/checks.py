"""System checks for the LLM upstream's settings."""

import re
from urllib.parse import urlparse

from django.core.checks import Error, Warning, register
from django.db import DatabaseError

from gateway.app_settings import app_settings


@register()
def check_llm_upstream(app_configs=None, **kwargs) -> list[Error]:
    url = app_settings.LLM_BASE_URL
    if url and (urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc):
        return [
            Error(
                f"LLM_BASE_URL={url!r} is not an http(s) URL.", hint="e.g. http://127.0.0.1:8080/v1", id="gateway.E001"
            )
        ]
    return []


@register()
def check_trusted_proxies(app_configs=None, **kwargs) -> list[Error]:
    import ipaddress

    from django.conf import settings

    errors = []
    for entry in getattr(settings, "TRUSTED_PROXIES", ()):
        try:
            ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            errors.append(
                Error(
                    f"TRUSTED_PROXIES holds {entry!r}, which is not an IPv4 or IPv6 address or CIDR.",
                    hint="e.g. TRUSTED_PROXIES=10.0.0.0/8,fd00::/8",
                    id="gateway.E003",
                )
            )
    return errors


@register()
def check_upstream_key_prefix(app_configs=None, **kwargs) -> list[Error]:
    prefix = app_settings.UPSTREAM_KEY_ENV_PREFIX
    if not re.fullmatch(r"[A-Za-z0-9_]{4,}", prefix or ""):
        return [
            Error(
                f"UPSTREAM_KEY_ENV_PREFIX={prefix!r} would let staff send server variables upstream as API keys.",
                hint="Use a distinct prefix of 4 or more letters, digits or _, e.g. TOLLGATE_UPSTREAM_.",
                id="gateway.E002",
            )
        ]
    return []


@register()
def check_upstream_credentials(app_configs=None, **kwargs) -> list[Warning]:
    """Upstreams whose key cannot be used here are never called; say which, at start and in `manage.py check`."""
    from gateway.models import Upstream

    try:
        upstreams = list(Upstream.objects.filter(enabled=True))
    except DatabaseError:  # not migrated yet: nothing to say
        return []
    return [
        Warning(
            f"Upstream {u.name!r} will not be called: {u.misconfiguration}.",
            hint="Set its key again in the admin, or set the variable it names, then restart.",
            id="gateway.W003",
        )
        for u in upstreams
        if u.misconfiguration
    ]
