"""Single sign-on providers read from the environment (allauth's SOCIALACCOUNT_PROVIDERS).

Imported by the settings module: nothing here touches models or allauth at import.
"""

import re
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

# A provider id is part of its callback URL (/accounts/oidc/<id>/login/callback/) and of variable names.
_PROVIDER_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,49}")
# allauth tells providers apart by id: an OpenID Connect provider may not take a built-in provider's.
_RESERVED_IDS = frozenset({"openid_connect", "github", "google"})
# Plain http only to the provider on this machine (development, the tests): allauth believes the ID token
# the token endpoint answers without checking its signature, on the strength of TLS to that endpoint.
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def sso_providers_from_env(env: environ.Env) -> dict:
    """SOCIALACCOUNT_PROVIDERS for the providers the environment configures.

    PKCE is switched on for OpenID Connect and Google even with no app here, so that apps added in
    the admin use it too.
    """
    return {
        "openid_connect": {"OAUTH_PKCE_ENABLED": True, "APPS": _oidc_apps(env)},
        "google": {"OAUTH_PKCE_ENABLED": True, "APPS": _oauth_apps(env, "GOOGLE", "Google")},
        "github": {"APPS": _oauth_apps(env, "GITHUB", "GitHub")},
    }


def _oidc_apps(env: environ.Env) -> list[dict]:
    apps = []
    for provider_id, prefix in _oidc_ids(env).items():
        because = f"SSO_OIDC_PROVIDERS names {provider_id!r}"
        name, server_url, client_id, secret = (
            _required(env, prefix + suffix, because) for suffix in ("NAME", "SERVER_URL", "CLIENT_ID", "SECRET")
        )
        apps.append(
            {
                "provider_id": provider_id,
                "name": name,
                "client_id": client_id,
                "secret": secret,
                "settings": {"server_url": _issuer_url(prefix + "SERVER_URL", server_url)},
            }
        )
    return apps


def _oidc_ids(env: environ.Env) -> dict[str, str]:
    """Each id SSO_OIDC_PROVIDERS names, with the prefix of its variables."""
    prefixes: dict[str, str] = {}
    for provider_id in (item.strip() for item in env.str("SSO_OIDC_PROVIDERS", default="").split(",")):
        if not provider_id:
            continue
        if not _PROVIDER_ID.fullmatch(provider_id) or provider_id in _RESERVED_IDS:
            raise ImproperlyConfigured(
                f"SSO_OIDC_PROVIDERS: {provider_id!r} is not a usable provider id: use lower-case letters, "
                f"digits, '-' and '_' (at most 50), and none of {', '.join(sorted(_RESERVED_IDS))}"
            )
        prefix = f"SSO_OIDC_{provider_id.upper().replace('-', '_')}_"
        if other := next((known for known, known_prefix in prefixes.items() if known_prefix == prefix), None):
            raise ImproperlyConfigured(
                f"SSO_OIDC_PROVIDERS: {other!r} and {provider_id!r} would share the variables {prefix}*"
            )
        prefixes[provider_id] = prefix
    return prefixes


def _oauth_apps(env: environ.Env, provider: str, brand: str) -> list[dict]:
    """The one app of GitHub or Google: both variables set, or neither."""
    client_id_var, secret_var = f"SSO_{provider}_CLIENT_ID", f"SSO_{provider}_SECRET"
    if not env.str(client_id_var, default="").strip() and not env.str(secret_var, default="").strip():
        return []
    because = f"single sign-on with {brand} is half configured"
    return [{"client_id": _required(env, client_id_var, because), "secret": _required(env, secret_var, because)}]


def _required(env: environ.Env, variable: str, because: str) -> str:
    value = env.str(variable, default="").strip()
    if not value:
        raise ImproperlyConfigured(f"{variable} must be set: {because} (see docs/configuration.md)")
    return value


def _issuer_url(variable: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(f"{variable} must be the provider's issuer URL, such as https://sso.example.com")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise ImproperlyConfigured(f"{variable} must use https (plain http only to localhost): got {url}")
    # allauth appends /.well-known/openid-configuration; a trailing slash would double the slash.
    return url.rstrip("/")


# Where the log-in of GitHub and Google starts; an OpenID Connect provider's is read from its app.
_AUTHORIZE_ORIGINS = {"github": "https://github.com", "google": "https://accounts.google.com"}


def sso_form_action_sources(request: HttpRequest | None = None) -> list[str]:
    """The origins a provider's button sends the browser on to, for the pages' CSP form-action.

    A button posts to Tollgate, which answers with a redirect to the provider; browsers hold that
    redirect to the page's form-action too, so with 'self' alone the log-in never leaves. For an
    OpenID Connect app this is its issuer's origin, and its authorization endpoint's when the app's
    settings override it (a provider whose sign-in page is on another host)."""
    from allauth.socialaccount.adapter import get_adapter  # the settings module imports this one

    sources = set()
    for app in get_adapter().list_apps(request):
        if app.provider == "openid_connect":
            overrides = app.settings.get("openid_configuration_overrides") or {}
            urls = [app.settings.get("server_url", ""), overrides.get("authorization_endpoint", "")]
            sources.update(origin for url in urls if (origin := _origin(url)))
        elif app.provider in _AUTHORIZE_ORIGINS:
            sources.add(_AUTHORIZE_ORIGINS[app.provider])
    return sorted(sources)


_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")


def _origin(url: str) -> str:
    """The URL's origin, rebuilt from a checked host and port: it goes into a CSP header, where a
    staff-typed ';' or space would add directives of its own."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not host:
        return ""
    shown = f"[{host}]" if ":" in host else host
    if not _HOST.fullmatch(shown):
        return ""
    return f"{parts.scheme}://{shown}" + (f":{port}" if port else "")
