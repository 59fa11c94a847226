"""Reads of plans, keys and usage, always scoped to who is asking."""

import datetime
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from keys.backends import get_backend
from keys.exceptions import KeyBackendError
from keys.models import ApiKey, DailyUsage, Plan
from keys.quota import get_quota_store, utc_today


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

    @property
    def remaining(self) -> int | None:
        return None if self.used_today is None else max(self.limit - self.used_today, 0)


def quota_used(*, owner_id: int, plan_id: int, day: datetime.date | None = None) -> int:
    return get_quota_store().used_sync(owner_id, plan_id, day or utc_today())


def key_rows(*, owner: AbstractBaseUser) -> list[KeyRow]:
    """The owner's keys with today's quota use and tokens, for the keys page and the dashboard."""
    today = utc_today()
    backend = get_backend()
    keys = list(key_list(owner=owner))
    stats = {u.key_id: u for u in DailyUsage.objects.filter(key__in=keys, day=today)}
    used_by_plan: dict[int, int | None] = {}
    rows = []
    for key in keys:
        if key.plan_id not in used_by_plan and key.is_active:
            if backend.enforces_quota_locally:
                used_by_plan[key.plan_id] = quota_used(owner_id=owner.pk, plan_id=key.plan_id, day=today)
            else:
                used_by_plan[key.plan_id] = key_used_remotely(key=key, day=today)
        usage = stats.get(key.pk)
        rows.append(
            KeyRow(
                key=key,
                used_today=used_by_plan[key.plan_id] if key.is_active else (usage.requests if usage else 0),
                limit=key.plan.requests_per_day,
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
            )
        )
    return rows


def key_used_remotely(*, key: ApiKey, day: datetime.date) -> int | None:
    """Requests the backend (API Gateway) counted for the key on `day`; None if it cannot say now."""
    try:
        return (get_backend().key_usage(api_key=key, start=day, end=day) or {}).get(day, 0)
    except KeyBackendError:
        return None
