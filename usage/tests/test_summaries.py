"""The staff overview sums closed days once and adds the open day's rows live, with the same numbers."""

import datetime

import pytest

from keys.metering import utc_today
from keys.models import DailyUsage, Refusal
from usage.models import UsageDaySummary, UsageOwnerWindow
from usage.selectors import usage_days
from usage.summaries import day_totals, overview_numbers, refusals_grouped, top_owners, usage_grouped

pytestmark = pytest.mark.django_db


def test_closed_days_are_summed_once_and_today_is_read_live(user, other_user, key_factory):
    alice, _ = key_factory(user)
    bob, _ = key_factory(other_user, "30RequestPerDay")
    today = utc_today()
    old = today - datetime.timedelta(days=10)
    DailyUsage.objects.create(key=alice, day=old, model="chat", requests=50, prompt_tokens=5, cost_nanos=900)
    DailyUsage.objects.create(key=bob, day=today, model="chat", requests=30, completion_tokens=7, cost_nanos=100)
    Refusal.objects.create(key=alice, day=old, reason="requests", count=4)
    first, last = usage_days(30)

    numbers = overview_numbers(first=first, last=last)
    assert UsageDaySummary.objects.filter(day=old).count() == 2  # the usage row and the refusal row
    assert UsageOwnerWindow.objects.get(owner=user).requests == 50
    totals = {t.day: t for t in day_totals(numbers, first, 30)}
    assert (totals[old].requests, totals[old].refused, totals[today].requests, totals[today].tokens) == (50, 4, 30, 7)
    assert [(r["name"], r["requests"]) for r in top_owners(numbers)] == [
        ("alice@example.com", 50),
        ("bob@example.com", 30),
    ]
    assert [(r["name"], r["requests"]) for r in usage_grouped(numbers, "plan")] == [
        ("10RequestPerDay", 50),
        ("30RequestPerDay", 30),
    ]
    assert refusals_grouped(numbers) == [{"reason": "requests", "plan": "10RequestPerDay", "count": 4}]

    DailyUsage.objects.filter(key=bob).update(cost_nanos=5000)  # today's rows keep moving
    again = overview_numbers(first=first, last=last)
    assert top_owners(again)[0]["name"] == "bob@example.com"
    assert UsageDaySummary.objects.filter(day=old).count() == 2  # summed once
