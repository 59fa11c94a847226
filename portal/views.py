"""The landing page, the dashboard, the account pages, the language switch and the health check."""

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.i18n import set_language

from keys.selectors import audit_events_for, key_rows, plan_list, usage_alerts_on
from keys.services import account_language_set, account_settings_update


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "home.html", {"plans": plan_list()})
    return render(request, "dashboard.html", {"rows": [r for r in key_rows(owner=request.user) if r.key.is_active]})


@login_required
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        account_settings_update(user=request.user, usage_alerts=request.POST.get("usage_alerts") == "on")
        messages.success(request, _("Your mail settings are saved."))
        return redirect("account")
    context = {"two_factor": is_mfa_enabled(request.user), "usage_alerts": usage_alerts_on(user=request.user)}
    return render(request, "account.html", context)


@login_required
@require_GET
def activity(request: HttpRequest) -> HttpResponse:
    """The user's own audit trail: what they did, and what was done to their account and keys."""
    events = Paginator(audit_events_for(user=request.user), 50).get_page(request.GET.get("page"))
    return render(request, "activity.html", {"events": events})


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
