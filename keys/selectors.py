"""Reads of plans and keys, always scoped to who is asking."""

from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from keys.backends import get_backend
from keys.metering import utc_today
from keys.models import ApiKey, DailyUsage, Plan, QuotaCounter


def plan_list() -> list[Plan]:
    return get_backend().plans()


def key_list(*, owner: AbstractBaseUser) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(owner=owner).select_related("plan")


def key_get(*, owner: AbstractBaseUser, pk: int) -> ApiKey:
    """The owner's key, or 404: another user's key does not exist as far as this user can tell."""
    return get_object_or_404(key_list(owner=owner), pk=pk)


@dataclass(frozen=True)
class KeyRow:
    key: ApiKey
    used_today: int | None  # None: the backend could not say just now
    limit: int
    prompt_tokens: int
    completion_tokens: int
    tokens_today: int = 0  # the owner's tokens in this plan today, as the token quota counts them

    @property
    def remaining(self) -> int | None:
        return None if self.used_today is None else max(self.limit - self.used_today, 0)


def key_rows(*, owner: AbstractBaseUser) -> list[KeyRow]:
    """The owner's keys with today's quota use and tokens, for the keys page and the dashboard."""
    today = utc_today()
    backend = get_backend()
    keys = list(key_list(owner=owner))
    stats: dict[int, list[int]] = {}
    for key_id, requests, prompt, completion in DailyUsage.objects.filter(key__in=keys, day=today).values_list(
        "key_id", "requests", "prompt_tokens", "completion_tokens"
    ):
        totals = stats.setdefault(key_id, [0, 0, 0])
        totals[0], totals[1], totals[2] = totals[0] + requests, totals[1] + prompt, totals[2] + completion
    tokens = dict(QuotaCounter.objects.filter(owner=owner, day=today).values_list("plan_id", "tokens"))
    used_by_plan: dict[int, int | None] = {}
    rows = []
    for key in keys:
        if key.plan_id not in used_by_plan and key.is_active:
            used_by_plan[key.plan_id] = backend.used_today(api_key=key)
        requests, prompt, completion = stats.get(key.pk, (0, 0, 0))
        rows.append(
            KeyRow(
                key=key,
                used_today=used_by_plan[key.plan_id] if key.is_active else requests,
                limit=key.plan.requests_per_day,
                prompt_tokens=prompt,
                completion_tokens=completion,
                tokens_today=tokens.get(key.plan_id, 0),
            )
        )
    return rows


KEY_LIFETIMES = (7, 30, 90)


def expiry_choices(*, plan: Plan) -> list[tuple[str, str]]:
    """The lifetimes Generate Key offers for `plan`: never, 7, 30 or 90 days, within its maximum."""
    if not plan.max_key_days:
        return [("", _("Never expires")), *((str(d), _expires_in(d)) for d in KEY_LIFETIMES)]
    days = [d for d in KEY_LIFETIMES if d < plan.max_key_days] + [plan.max_key_days]
    return [(str(d), _expires_in(d)) for d in reversed(days)]


def _expires_in(days: int) -> str:
    return ngettext("Expires in %(days)d day", "Expires in %(days)d days", days) % {"days": days}
