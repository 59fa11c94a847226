"""The staff overview's numbers at any scale: closed days are summed once into UsageDaySummary and
UsageOwnerWindow, and each visit adds only the open days' rows (found by the index on day) to them.

A day closes an hour after its UTC midnight: calls that started before midnight settle into their own day
(keys.metering.settle), so a day is summed only once late settlements have landed.
"""

import datetime
from collections import defaultdict
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from keys.models import DailyUsage, Plan, Refusal
from keys.money import from_nanos
from usage.models import UsageDaySummary, UsageOwnerWindow
from usage.selectors import DayTotal

CLOSE_AFTER = datetime.timedelta(hours=1)
SUMS = ("requests", "prompt_tokens", "completion_tokens", "cost_nanos")


def last_closed_day() -> datetime.date:
    return (timezone.now() - CLOSE_AFTER).date() - datetime.timedelta(days=1)


def _day_rows(days: Iterable[datetime.date] | tuple[datetime.date, datetime.date]) -> list[dict]:
    """DailyUsage and Refusal of the days (a list, or a (first, last) range) grouped per day, plan, model, reason."""
    where = {"day__range": days} if isinstance(days, tuple) else {"day__in": list(days)}
    usage = (
        DailyUsage.objects.filter(**where)
        .values("day", "model", plan_id=F("key__plan_id"))
        .annotate(**{name: Sum(name) for name in SUMS})
        .order_by()
    )
    refusals = (
        Refusal.objects.filter(**where)
        .values("day", "reason", plan_id=F("key__plan_id"))
        .annotate(refused=Sum("count"))
        .order_by()
    )
    return [{**row, "reason": ""} for row in usage] + [{**row, "model": ""} for row in refusals]


def days_summarize(first: datetime.date, last: datetime.date) -> None:
    """Sum each closed day of [first, last] not summed yet (a day without use is looked at again: it costs
    one indexed query that finds nothing)."""
    done = set(UsageDaySummary.objects.filter(day__range=(first, last)).values_list("day", flat=True).distinct())
    missing = [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]
    missing = [day for day in missing if day not in done]
    if not missing:
        return
    rows = [UsageDaySummary(**row) for row in _day_rows(missing)]
    # Two staff visits may sum the same day at once: their rows are equal, the second set is dropped.
    UsageDaySummary.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)


def owner_window_ensure(first: datetime.date, through: datetime.date, days: int) -> None:
    """Each owner's sums over [first, through], once per day that `through` moves (one INSERT ... SELECT)."""
    windows = UsageOwnerWindow.objects.filter(days=days)
    if windows.filter(through=through).exists() or first > through:
        return
    window, usage, keys = (m._meta.db_table for m in (UsageOwnerWindow, DailyUsage, DailyUsage.key.field.related_model))
    sql = (
        f"INSERT INTO {window} (through, days, owner_id, requests, prompt_tokens, completion_tokens, cost_nanos) "
        f"SELECT %s, %s, k.owner_id, SUM(u.requests), SUM(u.prompt_tokens), SUM(u.completion_tokens), "
        f"SUM(u.cost_nanos) FROM {usage} u JOIN {keys} k ON k.id = u.key_id "
        f"WHERE u.day BETWEEN %s AND %s GROUP BY k.owner_id ON CONFLICT DO NOTHING"
    )
    if connection.vendor == "sqlite":  # SQLite reads "SELECT ... ON CONFLICT" as a join without WHERE true
        sql = sql.replace(" ON CONFLICT", " HAVING 1 ON CONFLICT")
    with transaction.atomic():
        windows.filter(through__lt=through).delete()
        with connection.cursor() as cursor:
            cursor.execute(sql, [through, days, first, through])


def overview_prepare(*, first: datetime.date, last: datetime.date) -> datetime.date:
    """Sum the closed days of [first, last] that are not summed yet; the last closed day. Idempotent,
    and cheap once done: the hourly upkeep runs it so a page's first visit of a day does not."""
    closed = min(last_closed_day(), last)
    if closed >= first:
        days_summarize(first, closed)
        owner_window_ensure(first, closed, (last - first).days + 1)
    return closed


def overview_numbers(*, first: datetime.date, last: datetime.date, top: int = 10) -> dict:
    """Per day, plan, model and refusal reason, and the top owners, over [first, last]."""
    closed = overview_prepare(first=first, last=last)
    open_first = max(first, closed + datetime.timedelta(days=1))
    rows = list(
        UsageDaySummary.objects.filter(day__range=(first, closed)).values(
            "day", "plan_id", "model", "reason", *SUMS, "refused"
        )
    )
    if open_first <= last:
        rows += _day_rows((open_first, last))
    plans = dict(Plan.objects.values_list("id", "name"))
    return {"rows": rows, "plans": plans, "top": _top_owners(first, closed, open_first, last, top)}


def _top_owners(first, closed, open_first, last, top: int) -> list[dict]:
    window, usage = UsageOwnerWindow._meta.db_table, DailyUsage._meta.db_table
    keys = DailyUsage.key.field.related_model._meta.db_table
    sums = ", ".join(f"SUM({name}) AS {name}" for name in SUMS)
    sql = (
        f"SELECT owner_id, {sums} FROM ("
        f"SELECT owner_id, requests, prompt_tokens, completion_tokens, cost_nanos FROM {window} "
        f"WHERE through = %s AND days = %s "
        f"UNION ALL SELECT k.owner_id, u.requests, u.prompt_tokens, u.completion_tokens, u.cost_nanos "
        f"FROM {usage} u JOIN {keys} k ON k.id = u.key_id WHERE u.day BETWEEN %s AND %s"
        f") AS t GROUP BY owner_id ORDER BY cost_nanos DESC, requests DESC, owner_id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [closed, (last - first).days + 1, open_first, last, top])
        found = [dict(zip(["owner_id", *SUMS], row, strict=True)) for row in cursor.fetchall()]
    emails = dict(get_user_model().objects.filter(pk__in=[r["owner_id"] for r in found]).values_list("pk", "email"))
    return [{**row, "email": emails.get(row["owner_id"], "")} for row in found]


def usage_grouped(numbers: dict, field: str) -> list[dict]:
    """Usage summed per plan name or model, the largest spend first, then the most requests (usage_by's shape)."""
    totals: dict = defaultdict(lambda: dict.fromkeys(SUMS, 0))
    for row in numbers["rows"]:
        if not row["reason"]:
            total = totals[numbers["plans"].get(row["plan_id"], "") if field == "plan" else row["model"]]
            for name in SUMS:
                total[name] += row[name] or 0
    ordered = sorted(totals.items(), key=lambda item: (-item[1]["cost_nanos"], -item[1]["requests"]))
    return [_shown(name, total) for name, total in ordered]


def top_owners(numbers: dict) -> list[dict]:
    return [_shown(row["email"], row) for row in numbers["top"]]


def _shown(name: str, total: dict) -> dict:
    return {
        "name": name or "—",
        "requests": total["requests"] or 0,
        "prompt": total["prompt_tokens"] or 0,
        "completion": total["completion_tokens"] or 0,
        "cost_nanos": total["cost_nanos"] or 0,
        "spent": from_nanos(total["cost_nanos"] or 0),
    }


def refusals_grouped(numbers: dict) -> list[dict]:
    """Refused requests per reason and plan, the most first."""
    counts: dict = defaultdict(int)
    for row in numbers["rows"]:
        if row["reason"]:
            counts[(row["reason"], numbers["plans"].get(row["plan_id"], ""))] += row["refused"] or 0
    return [{"reason": r, "plan": p, "count": c} for (r, p), c in sorted(counts.items(), key=lambda i: -i[1])]


def day_totals(numbers: dict, first: datetime.date, days: int) -> list[DayTotal]:
    """Every day of the range, oldest first, zero where nothing happened (daily_totals' shape)."""
    totals = {first + datetime.timedelta(days=n): DayTotal(first + datetime.timedelta(days=n)) for n in range(days)}
    for row in numbers["rows"]:
        total = totals[row["day"]]
        total.requests += row.get("requests") or 0
        total.tokens += (row.get("prompt_tokens") or 0) + (row.get("completion_tokens") or 0)
        total.refused += row.get("refused") or 0
        total.cost_nanos += row.get("cost_nanos") or 0
    return list(totals.values())
