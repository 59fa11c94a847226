"""Site-wide guards: the page language, staff two-factor before the admin, and the security headers."""

from collections.abc import Callable

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.shortcuts import redirect
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.audit import current_actor, current_ip
from accounts.sso import sso_form_action_sources

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",  # no inline script anywhere: every page's JS is a file under /static/
        "style-src 'self' 'unsafe-inline'",  # Django's admin sets a few style attributes
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
# drf-spectacular's Swagger page starts itself with an inline script it does not let us move.
_INLINE_SCRIPT_PAGES = ("/api/docs/",)


# Scripts parse these bodies: they answer in English whatever the caller's Accept-Language says.
_API_PREFIXES = ("/api/",)
_API_PATHS = frozenset({"/plan", "/create_key", "/healthz"})


class LocaleMiddleware(DjangoLocaleMiddleware):
    """Pages speak the reader's language (cookie, then Accept-Language); the JSON API stays English."""

    def process_request(self, request: HttpRequest) -> None:
        if request.path_info.startswith(_API_PREFIXES) or request.path_info in _API_PATHS:
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = settings.LANGUAGE_CODE
            return
        super().process_request(request)


class StaffTwoFactorMiddleware:
    """With REQUIRE_STAFF_MFA, a staff member without two-factor is sent to enrol before the admin."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            settings.REQUIRE_STAFF_MFA
            and request.path.startswith("/admin/")
            and user.is_authenticated
            and user.is_staff
            and not is_mfa_enabled(user)
        ):
            messages.warning(request, _("Staff must turn on two-factor authentication before using the admin."))
            return redirect("mfa_activate_totp")
        return self.get_response(request)


def content_security_policy(request: HttpRequest) -> str:
    """The policy for this page: the account pages' forms may also lead on to a single sign-on provider."""
    if not request.path.startswith("/accounts/"):
        return CONTENT_SECURITY_POLICY
    # A provider's button posts here and is redirected to the provider: form-action covers that redirect.
    sources = " ".join(["'self'", *sso_form_action_sources(request)])
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", f"form-action {sources}")


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(_INLINE_SCRIPT_PAGES):
            response.setdefault("Content-Security-Policy", content_security_policy(request))
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


class AuditContextMiddleware:
    """Who is acting, and from where, for the audit trail of whatever this request changes."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        actor_token = current_actor.set(request.user if request.user.is_authenticated else None)
        ip_token = current_ip.set(request.META.get("REMOTE_ADDR") or None)
        try:
            return self.get_response(request)
        finally:
            current_actor.reset(actor_token)
            current_ip.reset(ip_token)
