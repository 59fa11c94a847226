"""Reads of plans and keys, always scoped to who is asking."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from keys.backends import get_backend
from keys.metering import counts_sync, utc_today
from keys.models import ApiKey, DailyUsage, Plan
from keys.money import from_nanos
from keys.scopes import plan_models


def plan_list() -> list[Plan]:
    return get_backend().plans()


def key_list(*, owner: AbstractBaseUser) -> QuerySet[ApiKey]:
    """The owner's keys, personal and team keys alike."""
    return ApiKey.objects.filter(owner=owner).select_related("plan", "team")


def key_get(*, owner: AbstractBaseUser, pk: int) -> ApiKey:
    """The owner's key, or 404: another user's key does not exist as far as this user can tell."""
    return get_object_or_404(key_list(owner=owner), pk=pk)


@dataclass(frozen=True)
class KeyRow:
    """A key with its plan's period so far (requests, tokens and spend are the owner's in that plan)
    and the key's own tokens today (UTC)."""

    key: ApiKey
    used_today: int | None  # requests this period; None: the backend could not say just now
    limit: int
    prompt_tokens: int
    completion_tokens: int
    tokens_today: int = 0  # the owner's tokens in this plan this period, as the token quota counts them
    spent_nanos: int = 0  # the owner's spend in this plan this period
    reset_at: datetime.datetime | None = None  # when the plan's period ends, in its time zone

    @property
    def remaining(self) -> int | None:
        return None if self.used_today is None else max(self.limit - self.used_today, 0)

    @property
    def spent(self) -> Decimal:
        return from_nanos(self.spent_nanos)

    @property
    def budget_left(self) -> Decimal | None:
        budget = self.key.plan.budget_nanos
        return None if budget is None else from_nanos(max(budget - self.spent_nanos, 0))


def key_rows(*, owner: AbstractBaseUser | None = None, keys: QuerySet[ApiKey] | None = None) -> list[KeyRow]:
    """Keys (the owner's, or `keys`) with their quota's period use, tokens and spend (the owner's, or
    for a team key the team's, in that plan), for the keys page, the dashboard and team pages."""
    today = utc_today()
    backend = get_backend()
    keys = list(key_list(owner=owner) if keys is None else keys.select_related("plan", "team"))
    stats: dict[int, list[int]] = {}
    for key_id, requests, prompt, completion in DailyUsage.objects.filter(key__in=keys, day=today).values_list(
        "key_id", "requests", "prompt_tokens", "completion_tokens"
    ):
        totals = stats.setdefault(key_id, [0, 0, 0])
        totals[0], totals[1], totals[2] = totals[0] + requests, totals[1] + prompt, totals[2] + completion
    counts_by_quota = {}
    used_by_quota: dict[tuple[int, int], int | None] = {}
    rows = []
    for key in keys:
        quota = (key.holder_id, key.plan_id)
        if quota not in counts_by_quota:
            counts_by_quota[quota] = counts_sync(owner_id=key.holder_id, plan=key.plan)
        if quota not in used_by_quota and key.is_active:
            used_by_quota[quota] = backend.used_today(api_key=key)
        requests, prompt, completion = stats.get(key.pk, (0, 0, 0))
        counts = counts_by_quota[quota]
        rows.append(
            KeyRow(
                key=key,
                used_today=used_by_quota[quota] if key.is_active else requests,
                limit=key.plan.requests_per_day,
                prompt_tokens=prompt,
                completion_tokens=completion,
                tokens_today=counts.tokens,
                spent_nanos=counts.nanos,
                reset_at=counts.reset_at,
            )
        )
    return rows


def plan_granted(*, plan: Plan) -> list[str]:
    """The models a plan grants, for the key limits form; [] when any model may be named (no catalogue)."""
    return plan_models(plan) or []


KEY_LIFETIMES = (7, 30, 90)


def expiry_choices(*, plan: Plan) -> list[tuple[str, str]]:
    """The lifetimes Generate Key offers for `plan`: never, 7, 30 or 90 days, within its maximum."""
    if not plan.max_key_days:
        return [("", _("Never expires")), *((str(d), _expires_in(d)) for d in KEY_LIFETIMES)]
    days = [d for d in KEY_LIFETIMES if d < plan.max_key_days] + [plan.max_key_days]
    return [(str(d), _expires_in(d)) for d in reversed(days)]


def _expires_in(days: int) -> str:
    return ngettext("Expires in %(days)d day", "Expires in %(days)d days", days) % {"days": days}
