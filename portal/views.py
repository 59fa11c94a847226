"""The landing page, the dashboard, the language switch, the health check, the favicon and the error pages."""

import sys

from django.conf import settings
from django.db import connection
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    HttpResponseServerError,
    JsonResponse,
)
from django.shortcuts import render
from django.template import loader
from django.templatetags.static import static
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django.views.i18n import set_language

from accounts.services import account_language_set
from keys.backends import get_backend
from keys.selectors import key_rows, plan_list
from plumbing.outages import is_outage


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "home.html", {"plans": plan_list()})
    context = {
        "rows": [r for r in key_rows(owner=request.user) if r.key.is_active],
        "api_base": get_backend().external_gateway_url() or request.build_absolute_uri("/v1"),
    }
    return render(request, "dashboard.html", context)


@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    """Django's set_language (a cookie), and for a signed-in user the choice kept for their mail."""
    response = set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        account_language_set(user=request.user, language=language)
    return response


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return JsonResponse({"status": "unavailable", "database": f"unreachable: {type(exc).__name__}"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


def server_error(request: HttpRequest) -> HttpResponse:
    """A styled 503 while the database or Redis cannot be reached (try again), a styled 500 otherwise.

    Rendered without the request's context: the context processors would reach for the store that is down.
    """
    outage = is_outage(sys.exc_info()[1] or Exception())
    page = loader.render_to_string("503.html" if outage else "500.html")
    if outage:
        return HttpResponse(page, status=503, headers={"Retry-After": "30"})
    return HttpResponseServerError(page)


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page says: send them to the SVG icon."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: the refused form explained as a page of the site's own, in the reader's language."""
    referer = request.META.get("HTTP_REFERER", "")
    safe = url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    context = {"reason": reason if settings.DEBUG else "", "back": referer if safe else "/"}
    return render(request, "403_csrf.html", context, status=403)
