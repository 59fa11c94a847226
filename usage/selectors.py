"""Reads of usage over days: per key, model and day for users; totals for staff. Always UTC days."""

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet, Sum

from keys.metering import utc_today
from keys.models import DailyUsage, Refusal
from keys.money import from_nanos, money_text

MAX_DAYS = 366
# `cost` came last, so that scripts reading the columns by position still find the others where they were.
CSV_HEADER = ["day", "key_prefix", "model", "requests", "prompt_tokens", "completion_tokens", "refused", "cost"]


@dataclass
class UsageRow:
    day: datetime.date
    key_prefix: str
    model: str
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    refused: int = 0
    cost_nanos: int = 0

    @property
    def cost(self) -> Decimal:
        return from_nanos(self.cost_nanos)

    def as_list(self) -> list:
        """The CSV's cells: the day in ISO form and the cost as a decimal string (money_text), never a float."""
        cells = {"day": self.day.isoformat(), "cost": money_text(self.cost_nanos)}
        return [cells[name] if name in cells else getattr(self, name) for name in CSV_HEADER]

    def as_dict(self) -> dict:
        return dict(zip(CSV_HEADER, self.as_list(), strict=True))


def usage_days(days: int) -> tuple[datetime.date, datetime.date]:
    """The first and last UTC day of the last `days` days, today included."""
    today = utc_today()
    return today - datetime.timedelta(days=days - 1), today


def usage_rows(
    *, owner: AbstractBaseUser | None, days: int, key_id: int | None = None, model: str | None = None
) -> list[UsageRow]:
    """One row per day, key and model, newest first; refusals (which reach no model) on the model '' row.
    `owner` None: everyone's (staff)."""
    start, end = usage_days(days)
    usage: QuerySet = DailyUsage.objects.filter(day__range=(start, end))
    refusals: QuerySet = Refusal.objects.filter(day__range=(start, end))
    if owner is not None:
        usage, refusals = usage.filter(key__owner=owner), refusals.filter(key__owner=owner)
    if key_id is not None:
        usage, refusals = usage.filter(key_id=key_id), refusals.filter(key_id=key_id)
    if model is not None:
        usage = usage.filter(model=model)
        if model:  # refusals reached no model: they belong to the model '' row only
            refusals = refusals.none()
    rows: dict[tuple, UsageRow] = {}
    for u in usage.select_related("key"):
        rows[(u.day, u.key.public_prefix, u.model)] = UsageRow(
            u.day, u.key.public_prefix, u.model, u.requests, u.prompt_tokens, u.completion_tokens, 0, u.cost_nanos
        )
    for r in refusals.select_related("key"):
        row = rows.setdefault((r.day, r.key.public_prefix, ""), UsageRow(r.day, r.key.public_prefix, ""))
        row.refused += r.count
    return sorted(rows.values(), key=lambda row: (row.day, row.key_prefix, row.model), reverse=True)


@dataclass
class DayTotal:
    day: datetime.date
    requests: int = 0
    tokens: int = 0
    refused: int = 0
    cost_nanos: int = 0

    @property
    def cost(self) -> Decimal:
        return from_nanos(self.cost_nanos)


def daily_totals(rows: list[UsageRow], days: int) -> list[DayTotal]:
    """Every day of the range, oldest first, zero where nothing happened (so a chart has no gaps)."""
    start, _ = usage_days(days)
    totals = {start + datetime.timedelta(days=i): DayTotal(start + datetime.timedelta(days=i)) for i in range(days)}
    for row in rows:
        total = totals[row.day]
        total.requests += row.requests
        total.tokens += row.prompt_tokens + row.completion_tokens
        total.refused += row.refused
        total.cost_nanos += row.cost_nanos
    return list(totals.values())


def usage_by(field: str, *, days: int) -> list[dict]:
    """Staff: requests, tokens and spend over the last `days` days grouped by a DailyUsage lookup, summed
    in SQL; the largest spend first, then the most requests (all of them, where nothing has a price)."""
    start, end = usage_days(days)
    grouped = (
        DailyUsage.objects.filter(day__range=(start, end))
        .values(field)
        .annotate(
            requests=Sum("requests"),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            cost_nanos=Sum("cost_nanos"),
        )
        .order_by("-cost_nanos", "-requests")
    )
    return [
        {
            "name": g[field] or "—",
            **{k: g[k] or 0 for k in ("requests", "prompt", "completion", "cost_nanos")},
            "spent": from_nanos(g["cost_nanos"] or 0),
        }
        for g in grouped
    ]


def refusals_by_reason(*, days: int) -> list[dict]:
    start, end = usage_days(days)
    grouped = defaultdict(int)
    for reason, plan, count in Refusal.objects.filter(day__range=(start, end)).values_list(
        "reason", "key__plan__name", "count"
    ):
        grouped[(reason, plan)] += count
    return [{"reason": r, "plan": p, "count": c} for (r, p), c in sorted(grouped.items(), key=lambda i: -i[1])]


@dataclass
class QuietDays:
    """Consecutive days without any use, shown as one line."""

    first: datetime.date
    last: datetime.date
    count: int


def days_newest_first(totals: list[DayTotal]) -> list[DayTotal | QuietDays]:
    """The days for the table, newest first, each run of two or more days without use folded into one."""
    shown: list[DayTotal | QuietDays] = []
    run: list[DayTotal] = []
    for total in [*reversed(totals), None]:
        if total is not None and not (total.requests or total.tokens or total.refused or total.cost_nanos):
            run.append(total)
            continue
        if len(run) >= 2:
            shown.append(QuietDays(first=run[-1].day, last=run[0].day, count=len(run)))
        else:
            shown.extend(run)
        run = []
        if total is not None:
            shown.append(total)
    return shown
