"""Calendar periods in a plan's time zone: where they start and reset, and that a new one starts from zero."""

import datetime
import time
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from keys import metering
from keys.metering.keycache import key_info_load
from keys.models import Plan
from keys.periods import period_bounds
from keys.services import key_create

UTC = datetime.UTC


def at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("period", "zone", "now", "start", "reset"),
    [
        # Sunday 23:59 in Bangkok is still the week that began on Monday the 30th of November.
        ("week", "Asia/Bangkok", "2026-12-06T16:59:59+00:00", "2026-11-30", "2026-12-07T00:00:00+07:00"),
        # One second later it is Monday 00:00 there, while UTC is still on Sunday.
        ("week", "Asia/Bangkok", "2026-12-06T17:00:00+00:00", "2026-12-07", "2026-12-14T00:00:00+07:00"),
        ("week", "UTC", "2026-12-06T17:00:00+00:00", "2026-11-30", "2026-12-07T00:00:00+00:00"),
        ("month", "UTC", "2026-12-31T23:59:59+00:00", "2026-12-01", "2027-01-01T00:00:00+00:00"),
        ("month", "Asia/Bangkok", "2026-12-31T17:00:00+00:00", "2027-01-01", "2027-02-01T00:00:00+07:00"),
        ("month", "UTC", "2028-02-29T12:00:00+00:00", "2028-02-01", "2028-03-01T00:00:00+00:00"),
        ("day", "Asia/Bangkok", "2026-12-03T16:59:59+00:00", "2026-12-03", "2026-12-04T00:00:00+07:00"),
        ("day", "Asia/Bangkok", "2026-12-03T17:00:00+00:00", "2026-12-04", "2026-12-05T00:00:00+07:00"),
    ],
)
def test_period_bounds(period, zone, now, start, reset):
    first, resets = period_bounds(period, zone, at(now))
    assert first.isoformat() == start and resets.isoformat() == reset


def test_an_unknown_period_is_refused_by_name():
    with pytest.raises(ValueError, match="fortnight"):
        period_bounds("fortnight", "UTC")


class FrozenClock:
    def __init__(self, when: str) -> None:
        self.now = at(when).timestamp()

    def time(self) -> float:
        return self.now

    def __getattr__(self, name):  # the rest of the time module stays real
        return getattr(time, name)


@pytest.fixture
def clock(monkeypatch):
    """Periods read the time from keys.periods' clock; set it to any moment."""
    frozen = FrozenClock("2026-12-06T16:59:00+00:00")
    monkeypatch.setattr("keys.periods.time", frozen)
    return frozen


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("zone", ["Asia/Bangkok", "UTC"])
async def test_a_weekly_budget_resets_at_monday_midnight_in_the_plans_zone(clock, user, zone, settings):
    settings.REDIS_URL = ""
    await Plan.objects.acreate(name="Weekly", requests_per_day=3, period="week", time_zone=zone, budget=Decimal("1"))
    key, _ = await sync_to_async(key_create)(owner=user, plan_name="Weekly")
    info = await sync_to_async(key_info_load)(key_id=key.pk)
    for _ in range(3):
        assert (await metering.admit(info, metering.Reservation(0, 10**8))).admitted
    refused = await metering.admit(info, metering.Reservation(0, 10**8))
    assert refused.refusal == metering.RefusalCode.REQUESTS
    monday = "2026-12-07T00:00:00+07:00" if zone == "Asia/Bangkok" else "2026-12-07T00:00:00+00:00"
    assert refused.admission.reset_at.isoformat() == monday
    assert 60 <= refused.retry_after <= 61 if zone == "Asia/Bangkok" else refused.retry_after > 3600
    clock.now = at(monday).timestamp()  # Monday 00:00 where the plan counts
    fresh = await metering.admit(info, metering.Reservation(0, 10**8))
    assert fresh.admitted and fresh.admission.used == 1
    counts = await metering.counts(info)
    assert counts.start.isoformat() == "2026-12-07" and counts.nanos == 10**8


@pytest.mark.django_db(transaction=True)
async def test_a_monthly_plan_counts_the_whole_month_then_starts_again(clock, user, settings):
    settings.REDIS_URL = ""
    clock.now = at("2026-12-01T00:00:00+00:00").timestamp()
    await Plan.objects.acreate(name="Monthly", requests_per_day=2, period="month")
    key, _ = await sync_to_async(key_create)(owner=user, plan_name="Monthly")
    info = await sync_to_async(key_info_load)(key_id=key.pk)
    assert (await metering.admit(info)).admitted
    clock.now = at("2026-12-31T23:59:59+00:00").timestamp()  # a month of days later: the same period
    assert (await metering.admit(info)).admitted
    assert (await metering.admit(info)).refusal == metering.RefusalCode.REQUESTS
    clock.now = at("2027-01-01T00:00:00+00:00").timestamp()
    assert (await metering.admit(info)).admission.used == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone", "Mars/Olympus is not a time zone"),
        ({"time_zone": " UTC"}, "time_zone", "is not a time zone"),
        ({"period": "fortnight"}, "period", "fortnight"),
        ({"budget": Decimal("0")}, "budget", "more than zero"),
        ({"budget": Decimal("-1")}, "budget", "more than zero"),
        ({"budget": Decimal("0.0000001")}, "budget", "decimal places"),
        ({"budget": Decimal("1000001")}, "budget", "at most 1,000,000"),
    ],
)
def test_a_plan_refuses_an_unknown_period_or_zone_and_a_budget_of_zero_or_less(fields, field, words):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        Plan(name="Bad", requests_per_day=10, **fields).full_clean()
    assert words in " ".join(error.value.message_dict[field])


@pytest.mark.django_db(transaction=True)
async def test_a_call_that_outlives_its_period_settles_in_the_period_that_counted_it(clock, user, settings):
    """Reserved at 23:59, answered after midnight: what it did not cost goes back to yesterday, not today."""
    settings.REDIS_URL = ""
    clock.now = at("2026-12-03T23:59:00+00:00").timestamp()
    await Plan.objects.acreate(name="Fifty", requests_per_day=100, tokens_per_day=50)
    key, _ = await sync_to_async(key_create)(owner=user, plan_name="Fifty")
    info = await sync_to_async(key_info_load)(key_id=key.pk)
    late = await metering.admit(info, metering.Reservation(40, 0))
    assert late.admitted and late.admission.period.isoformat() == "2026-12-03"
    clock.now = at("2026-12-04T00:00:30+00:00").timestamp()
    assert (await metering.admit(info, metering.Reservation(45, 0))).admitted  # today's own call
    metering.settle(
        info, metering.Reservation(40, 0), model="m", prompt_tokens=0, completion_tokens=0, nanos=0,
        period=late.admission.period,
    )  # fmt: skip
    await metering.settlements_wait()
    assert not (await metering.admit(info, metering.Reservation(45, 0))).admitted  # today still holds 45
    store = metering.get_quota_store()
    yesterday = datetime.date(2026, 12, 3)
    assert await sync_to_async(store.totals_sync)(info.owner_id, info.plan_id, yesterday) == (0, 0)


@pytest.mark.django_db
def test_changing_a_plans_period_in_the_admin_carries_the_counts_over(staff_client, user, plans):
    """A day plan becomes a week plan on a Thursday: today's 7 requests count in the new week, not 0."""
    from keys.models import QuotaCounter
    from keys.periods import period_current

    plan = plans["10RequestPerDay"]
    key_create(owner=user, plan_name=plan.name)
    today, _ = period_current("day", "UTC")
    QuotaCounter.objects.create(owner_id=user.pk, plan=plan, day=today, used=7, tokens=100, spent_nanos=5)
    form = {
        "name": plan.name, "display_name": "", "requests_per_day": 10, "period": "week", "time_zone": "UTC",
        "description": "", "is_active": "on", "order": 0, "backend_id": "",
    }  # fmt: skip
    response = staff_client.post(f"/admin/keys/plan/{plan.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    week, _ = period_current("week", "UTC")
    counter = QuotaCounter.objects.get(owner_id=user.pk, plan=plan, day=week)
    assert (counter.used, counter.tokens, counter.spent_nanos) == (7, 100, 5)
