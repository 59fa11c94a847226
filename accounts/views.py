"""The /account/ page (mail settings) and /account/activity/ (the user's own audit trail)."""

from allauth.mfa.utils import is_mfa_enabled
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.activity import audit_detail_shown, audit_sentence
from accounts.selectors import account_settings_get, audit_events_for
from accounts.services import account_settings_update


@login_required
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        account_settings_update(user=request.user, usage_alerts=request.POST.get("usage_alerts") == "on")
        messages.success(request, _("Your mail settings are saved."))
        return redirect("account")
    context = {
        "two_factor": is_mfa_enabled(request.user),
        "usage_alerts": account_settings_get(user=request.user).usage_alerts,
    }
    return render(request, "accounts/account.html", context)


@login_required
@require_GET
def activity(request: HttpRequest) -> HttpResponse:
    """The user's own audit trail: what they did, and what was done to their account and keys."""
    events = Paginator(audit_events_for(user=request.user), 50).get_page(request.GET.get("page"))
    rows = [(event, audit_sentence(event), audit_detail_shown(event)) for event in events]
    return render(request, "accounts/activity.html", {"events": events, "rows": rows})


def audit_admin_moved(request: HttpRequest, rest: str) -> HttpResponse:
    """/admin/keys/auditevent/… is now /admin/accounts/auditevent/…, query string kept."""
    query = request.META.get("QUERY_STRING", "")
    return redirect(f"/admin/accounts/auditevent/{rest}" + (f"?{query}" if query else ""), permanent=True)
