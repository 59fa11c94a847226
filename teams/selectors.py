"""Reads of teams, always as a member sees them: outsiders find nothing."""

import datetime
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from keys.metering import PeriodCounts, counts_sync
from keys.models import ApiKey, DailyUsage, Plan, quota_holder
from keys.money import from_nanos, money_text
from teams.exceptions import NotAllowed, TeamNotFound
from teams.models import Invitation, Membership, Team


def id_valid(value: int) -> bool:
    """A database id may be this: larger numbers from a URL overflow a query rather than find nothing."""
    return 0 < value < 2**63


def memberships_of(*, user: AbstractBaseUser) -> QuerySet[Membership]:
    """The user's teams, each with how many members it has."""
    return (
        Membership.objects.filter(user=user)
        .select_related("team")
        .annotate(members=Count("team__memberships"))
        .order_by("team__name", "team_id")
    )


def membership_get(*, team_id: int, user: AbstractBaseUser) -> Membership:
    """The user's membership of the team; TeamNotFound (404) for anyone outside it."""
    if not user.is_authenticated or not id_valid(team_id):
        raise TeamNotFound()
    membership = Membership.objects.select_related("team").filter(team_id=team_id, user=user).first()
    if membership is None:
        raise TeamNotFound()
    return membership


def team_members(*, team_id: int) -> QuerySet[Membership]:
    return Membership.objects.filter(team_id=team_id).select_related("user").order_by("joined_at", "id")


def team_invitations_open(*, team_id: int) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        team_id=team_id, accepted_at__isnull=True, cancelled_at__isnull=True, expires_at__gt=timezone.now()
    )


def team_keys(*, membership: Membership) -> QuerySet[ApiKey]:
    """The team's keys: every member's for owners and admins, a member's own otherwise."""
    keys = ApiKey.objects.filter(team_id=membership.team_id).select_related("plan", "owner")
    return keys if membership.manages else keys.filter(owner_id=membership.user_id)


def team_keys_all(*, team_id: int) -> QuerySet[ApiKey]:
    """Every key of the team (for its managers' filters)."""
    return ApiKey.objects.filter(team_id=team_id).select_related("plan")


def team_name(*, team_id: int) -> str:
    return Team.objects.filter(pk=team_id).values_list("name", flat=True).first() or ""


@dataclass(frozen=True)
class PlanQuota:
    """The team's shared quota in one plan this period."""

    plan: Plan
    counts: PeriodCounts

    @property
    def spent(self):
        return from_nanos(self.counts.nanos)


def team_quotas(*, team_id: int) -> list[PlanQuota]:
    """The shared quota of each plan the team has keys in, this period."""
    plan_ids = ApiKey.objects.filter(team_id=team_id).values_list("plan_id", flat=True).distinct()
    holder = quota_holder(owner_id=0, team_id=team_id)
    return [PlanQuota(plan, counts_sync(owner_id=holder, plan=plan)) for plan in Plan.objects.filter(pk__in=plan_ids)]


@dataclass(frozen=True)
class MemberUsage:
    user_id: int
    email: str
    requests: int
    tokens: int
    cost_nanos: int

    @property
    def cost(self):
        return from_nanos(self.cost_nanos)


def team_usage(*, membership: Membership, since: datetime.date) -> tuple[list[MemberUsage], MemberUsage]:
    """Use of the team's keys since `since` (UTC days): per member (only your own row unless you
    manage the team), and the team's total, which every member sees."""
    rows = DailyUsage.objects.filter(key__team_id=membership.team_id, day__gte=since)
    per_member = (
        rows.values("key__owner_id", "key__owner__email")
        .annotate(
            requests=Sum("requests"),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            cost=Sum("cost_nanos"),
        )
        .order_by("key__owner__email")
    )
    members = [
        MemberUsage(
            row["key__owner_id"],
            row["key__owner__email"],
            row["requests"] or 0,
            (row["prompt"] or 0) + (row["completion"] or 0),
            row["cost"] or 0,
        )
        for row in per_member
        if membership.manages or row["key__owner_id"] == membership.user_id
    ]
    total = rows.aggregate(
        requests=Sum("requests"),
        prompt=Sum("prompt_tokens"),
        completion=Sum("completion_tokens"),
        cost=Sum("cost_nanos"),
    )
    team_total = MemberUsage(
        0, "", total["requests"] or 0, (total["prompt"] or 0) + (total["completion"] or 0), total["cost"] or 0
    )
    return members, team_total


MEMBER_CSV_HEADER = ["day", "key", "plan", "model", "requests", "prompt_tokens", "completion_tokens", "cost"]


def member_usage_rows(*, membership: Membership, user_id: int, since: datetime.date) -> list[list]:
    """One member's daily rows on team keys, for the CSV (MEMBER_CSV_HEADER): a manager may ask for
    anyone's, a member only for their own (NotAllowed otherwise)."""
    if not membership.manages and user_id != membership.user_id:
        raise NotAllowed()
    rows = (
        DailyUsage.objects.filter(key__team_id=membership.team_id, key__owner_id=user_id, day__gte=since)
        .select_related("key__plan")
        .order_by("day", "key_id", "model")
    )
    return [
        [
            row.day.isoformat(),
            row.key.public_prefix,
            row.key.plan.name,
            row.model,
            row.requests,
            row.prompt_tokens,
            row.completion_tokens,
            money_text(row.cost_nanos),
        ]
        for row in rows
    ]
