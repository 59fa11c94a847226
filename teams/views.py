"""The /teams/ pages and the invitation link: validate, call one service, render."""

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from keys import selectors as key_selectors
from keys.exceptions import KeyAlreadyExists, KeyServiceError
from keys.metering import utc_today
from keys.scopes import scopes_from_form
from plumbing.spreadsheets import csv_response
from teams import selectors, services
from teams.exceptions import TeamError, TeamNotFound
from teams.models import Role
from teams.selectors import MEMBER_CSV_HEADER
from teams.urls_for import invitation_link

USAGE_DAYS = 30


def _field(request: HttpRequest, name: str) -> str:
    return request.POST.get(name, "").replace("\x00", "")


def _membership(request: HttpRequest, pk: int):
    try:
        return selectors.membership_get(team_id=pk, user=request.user)
    except TeamNotFound:
        raise Http404(_("No such team.")) from None


def _int(value: str) -> int:
    return int(value) if value.isascii() and value.isdecimal() and len(value) < 19 else -1


@login_required
@require_http_methods(["GET", "POST"])
def teams_page(request: HttpRequest) -> HttpResponse:
    error, status = "", 200
    if request.method == "POST":
        try:
            team = services.team_create(owner=request.user, name=_field(request, "name"))
        except TeamError as exc:
            error, status = exc.message, exc.status
        else:
            messages.success(request, _("Team %(team)s created. Invite your colleagues below.") % {"team": team.name})
            return redirect("team", team.pk)
    context = {"memberships": selectors.memberships_of(user=request.user), "error": error}
    return render(request, "teams/teams.html", context, status=status)


def _team_page(request: HttpRequest, membership, *, new_key=None, plaintext: str = "", error: str = "", status=200):
    since = utc_today() - datetime.timedelta(days=USAGE_DAYS - 1)
    members_usage, total = selectors.team_usage(membership=membership, since=since)
    rows = key_selectors.key_rows(keys=selectors.team_keys(membership=membership))
    mine = {row.key.plan_id for row in rows if row.key.is_active and row.key.owner_id == request.user.pk}
    context = {
        "membership": membership,
        "team": membership.team,
        "members": selectors.team_members(team_id=membership.team_id),
        "invitations": selectors.team_invitations_open(team_id=membership.team_id) if membership.manages else [],
        "rows": rows,
        "plans": [plan for plan in key_selectors.plan_list() if plan.pk not in mine],
        "plan_models": {
            row.key.plan_id: key_selectors.plan_granted(plan=row.key.plan) for row in rows if row.key.is_active
        },
        "quotas": selectors.team_quotas(team_id=membership.team_id),
        "members_usage": members_usage,
        "usage_total": total,
        "usage_days": USAGE_DAYS,
        "roles": Role.choices,
        "new_key": new_key,
        "plaintext": plaintext,
        "error": error,
        "next": reverse("team", args=[membership.team_id]),
    }
    response = render(request, "teams/team.html", context, status=status)
    if plaintext:
        response["Cache-Control"] = "no-store"
    return response


@never_cache
@login_required
@require_GET
def team_page(request: HttpRequest, pk: int) -> HttpResponse:
    return _team_page(request, _membership(request, pk))


def _act(request: HttpRequest, pk: int, action, done: str) -> HttpResponse:
    """Run a team action from a page form: a message either way, back to the team (or the list, once out)."""
    membership = _membership(request, pk)
    try:
        action(membership.team)
    except (TeamError, KeyServiceError) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    if selectors.memberships_of(user=request.user).filter(team_id=pk).exists():
        return redirect("team", pk)
    return redirect("teams")


@login_required
@require_POST
def team_invite(request: HttpRequest, pk: int) -> HttpResponse:
    email = _field(request, "email").strip()
    return _act(
        request,
        pk,
        lambda team: services.invitation_create(
            team=team,
            by=request.user,
            email=email,
            role=_field(request, "role") or Role.MEMBER,
            link_for=lambda token: invitation_link(request, token),
        ),
        _("Invitation sent to %(email)s. The link works for 7 days, once.") % {"email": email},
    )


@login_required
@require_POST
def invitation_cancel(request: HttpRequest, pk: int, invitation_id: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda team: services.invitation_cancel(team=team, by=request.user, invitation_id=invitation_id),
        _("Invitation cancelled: its link no longer works."),
    )


@login_required
@require_POST
def member_role(request: HttpRequest, pk: int, user_id: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda team: services.member_role_set(
            team=team, by=request.user, user_id=user_id, role=_field(request, "role")
        ),
        _("Role changed."),
    )


@login_required
@require_POST
def member_remove(request: HttpRequest, pk: int, user_id: int) -> HttpResponse:
    leaving = user_id == request.user.pk
    return _act(
        request,
        pk,
        lambda team: services.member_remove(team=team, by=request.user, user_id=user_id),
        _("You left the team. Your team keys no longer work.")
        if leaving
        else _("Member removed. Their team keys stopped working."),
    )


@login_required
@require_POST
def team_key_revoke(request: HttpRequest, pk: int, key_id: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda team: services.team_key_revoke(team=team, by=request.user, key_id=key_id),
        _("Key revoked. It no longer works."),
    )


@login_required
@require_POST
def team_key_scopes(request: HttpRequest, pk: int, key_id: int) -> HttpResponse:
    scopes = scopes_from_form(request.POST)
    return _act(
        request,
        pk,
        lambda team: services.team_key_scopes_set(team=team, by=request.user, key_id=key_id, **scopes),
        _("The key's limits are saved. They apply within a second."),
    )


@never_cache
@login_required
@require_POST
def team_key_generate(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _membership(request, pk)
    days = _field(request, "expires_in_days")
    try:
        key, plaintext = services.team_key_create(
            team=membership.team,
            user=request.user,
            plan_name=_field(request, "plan_name"),
            label=_field(request, "label"),
            expires_in_days=_int(days) if days else None,
        )
    except KeyServiceError as exc:
        message = (
            _("You already have an active team key in this plan.") if isinstance(exc, KeyAlreadyExists) else exc.message
        )
        return _team_page(request, membership, error=message, status=exc.status if exc.status < 500 else 503)
    # Rendered, not redirected: the plaintext must not pass through the session or messages.
    return _team_page(request, membership, new_key=key, plaintext=plaintext)


@login_required
@require_GET
def member_usage_csv(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _membership(request, pk)
    member = _int(request.GET.get("member", str(request.user.pk)))
    since = utc_today() - datetime.timedelta(days=USAGE_DAYS - 1)
    try:
        rows = selectors.member_usage_rows(membership=membership, user_id=member, since=since)
    except TeamError as exc:
        return HttpResponse(f"{exc.message}\n", status=exc.status, content_type="text/plain; charset=utf-8")
    return csv_response(filename=f"team-{pk}-member-{member}-usage.csv", header=MEMBER_CSV_HEADER, rows=rows)


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_page(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the mail: who invites you to what, and Accept; log in or sign up first if need be."""
    try:
        invitation = services.invitation_find(token=token)
    except TeamError as exc:
        return render(request, "teams/invitation.html", {"error": exc.message}, status=exc.status)
    if not request.user.is_authenticated:
        if request.method == "POST":
            return redirect_to_login(request.get_full_path())
        return render(request, "teams/invitation.html", {"invitation": invitation, "next": request.get_full_path()})
    if request.method == "POST":
        try:
            membership = services.invitation_accept(token=token, user=request.user)
        except TeamError as exc:
            return render(
                request, "teams/invitation.html", {"invitation": invitation, "error": exc.message}, status=exc.status
            )
        messages.success(request, _("Welcome to %(team)s.") % {"team": membership.team.name})
        return redirect("team", membership.team_id)
    wrong = (request.user.email or "").lower() != invitation.email.lower()
    return render(request, "teams/invitation.html", {"invitation": invitation, "wrong_address": wrong})
