"""The /keys/ page: plans, Generate Key, the user's keys with Revoke and Rotate."""

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from keys import selectors, services
from keys.backends import get_backend
from keys.crypto import TAG
from keys.exceptions import KeyAlreadyExists, KeyServiceError
from keys.scopes import scopes_from_form

DAYS = re.compile(r"[0-9]{1,6}")


def _page(
    request: HttpRequest, *, new_key=None, plaintext: str = "", error: str = "", status: int = 200
) -> HttpResponse:
    rows = selectors.key_rows(owner=request.user)
    backend = get_backend()
    active_plans = {row.key.plan_id for row in rows if row.key.status == "active" and row.key.team_id is None}
    plans = selectors.plan_list()
    context = {
        "plans": [(plan, selectors.expiry_choices(plan=plan)) for plan in plans],
        "active_plans": active_plans,
        "switch_plans": len(plans) > 1,
        "rows": rows,
        "plan_models": {
            row.key.plan_id: selectors.plan_granted(plan=row.key.plan) for row in rows if row.key.is_active
        },
        "new_key": new_key,
        "plaintext": plaintext,
        "error": error,
        "key_tag": TAG,
        "api_base": backend.external_gateway_url() or request.build_absolute_uri("/v1"),
    }
    response = render(request, "keys/keys.html", context, status=status)
    if plaintext:
        response["Cache-Control"] = "no-store"  # the key must not linger in any cache
    return response


@never_cache
@login_required
@require_GET
def keys_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


def _field(request: HttpRequest, name: str) -> str:
    # PostgreSQL refuses NUL in text: a field carrying one would otherwise end as a 500.
    return request.POST.get(name, "").replace("\x00", "")


def _days(value: str) -> int | None:
    """The days asked for; -1 (refused by the service) for anything but ASCII digits ('²' passes isdigit)."""
    if not value:
        return None
    return int(value) if DAYS.fullmatch(value) else -1


@never_cache
@login_required
@require_POST
def key_generate(request: HttpRequest) -> HttpResponse:
    try:
        key, plaintext = services.key_create(
            owner=request.user,
            plan_name=_field(request, "plan_name"),
            label=_field(request, "label"),
            expires_in_days=_days(request.POST.get("expires_in_days", "")),
        )
    except KeyServiceError as exc:
        message = exc.page_message if isinstance(exc, KeyAlreadyExists) else exc.message
        return _page(request, error=message, status=exc.status if exc.status < 500 else 503)
    # Rendered, not redirected: the plaintext must not pass through the session or messages.
    return _page(request, new_key=key, plaintext=plaintext)


@login_required
@require_POST
def key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = selectors.key_get(owner=request.user, pk=pk)
    try:
        services.key_revoke(key=key)
    except KeyServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Key %(key)s revoked. It no longer works.") % {"key": key.public_prefix})
    return redirect("keys")


@never_cache
@login_required
@require_POST
def key_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    key = selectors.key_get(owner=request.user, pk=pk)
    try:
        new_key, plaintext = services.key_rotate(key=key)
    except KeyServiceError as exc:
        return _page(request, error=exc.message, status=exc.status if exc.status < 500 else 503)
    return _page(request, new_key=new_key, plaintext=plaintext)


@login_required
@require_POST
def key_switch(request: HttpRequest, pk: int) -> HttpResponse:
    key = selectors.key_get(owner=request.user, pk=pk)
    try:
        services.key_switch_plan(key=key, plan_name=_field(request, "plan_name"))
    except KeyServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Key %(key)s now uses %(plan)s. The use so far this period carried over.")
            % {"key": key.public_prefix, "plan": key.plan.name},
        )
    return redirect("keys")


@login_required
@require_POST
def key_scopes(request: HttpRequest, pk: int) -> HttpResponse:
    key = selectors.key_get(owner=request.user, pk=pk)
    scopes = scopes_from_form(request.POST)
    try:
        services.key_scopes_set(key=key, **scopes)
    except KeyServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("Key %(key)s's limits saved. They apply within a second.") % {"key": key.public_prefix}
        )
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect("keys")
