"""Usage alerts: mailed at 80% and 100% of a plan's requests, tokens or budget, once each a period, and never
to a user who turned them off."""

import asyncio
import datetime
import re
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.core import mail

from conftest import post_v1
from keys.metering import settlements_wait, usage_flush, utc_today
from keys.periods import period_bounds
from usage import alerts
from usage.models import UsageAlert

pytestmark = pytest.mark.django_db


CHAT = {"messages": [{"role": "user", "content": "one two three"}]}


async def chat(key: str):
    return await post_v1(key, CHAT)


@pytest.mark.django_db(transaction=True)
async def test_alerts_at_80_and_100_percent_are_mailed_once_each(user, key_factory, upstream):
    key, plaintext = await sync_to_async(key_factory)(user)  # 10 a day
    for _ in range(12):
        await chat(plaintext)
    await sync_to_async(alerts.alerts_wait)()
    subjects = sorted(m.subject for m in mail.outbox)
    assert len(subjects) == 2 and "used 80% of" in subjects[0] and "used all of" in subjects[1]
    assert all(m.to == [user.email] for m in mail.outbox)
    assert await UsageAlert.objects.filter(key=key).acount() == 2
    again = alerts.alert_later(key_id=key.pk, day=utc_today(), kind="requests", percent=80)
    assert await asyncio.wrap_future(again) is False and len(mail.outbox) == 2  # once only


@pytest.mark.django_db(transaction=True)
def test_users_can_turn_alerts_off(alice_client, user, key_factory):
    key, _ = key_factory(user)
    alice_client.post("/account/", {})
    assert 'name="usage_alerts" checked' not in alice_client.get("/account/").content.decode()
    assert alerts.alert_later(key_id=key.pk, day=utc_today(), kind="requests", percent=80).result() is False
    assert mail.outbox == []
    alice_client.post("/account/", {"usage_alerts": "on"})
    assert 'name="usage_alerts" checked' in alice_client.get("/account/").content.decode()
    assert alerts.alert_later(key_id=key.pk, day=utc_today(), kind="requests", percent=100).result() is True
    assert len(mail.outbox) == 1


@pytest.fixture
def priced_plan(db, plans, upstream_server):
    """10RequestPerDay with a budget of 5 cents a day, and the loopback model at a cent a call."""
    from gateway.models import CatalogModel, Upstream

    upstream_server.reset()
    loop = Upstream.objects.create(name="loop", base_url=upstream_server.base_url)
    model = CatalogModel.objects.create(name="loopback-model", price_per_request=Decimal("0.01"))
    model.upstreams.set([loop])
    plan = plans["10RequestPerDay"]
    plan.budget = Decimal("0.05")
    plan.save()
    yield plan
    upstream_server.reset()


@pytest.mark.django_db(transaction=True)
async def test_budget_alerts_at_80_and_100_percent_are_mailed_once_each_a_period(user, key_factory, priced_plan):
    key, plaintext = await sync_to_async(key_factory)(user)
    statuses = []
    for _ in range(7):
        statuses.append((await post_v1(plaintext, {**CHAT, "model": "loopback-model"})).status_code)
        await settlements_wait()
    await sync_to_async(usage_flush)()
    await sync_to_async(alerts.alerts_wait)()
    assert statuses == [200] * 5 + [429] * 2  # five cents, a cent a call
    budget_mails = sorted((m for m in mail.outbox if "budget" in m.subject), key=lambda m: m.subject)
    assert [m.subject for m in budget_mails] == [
        f"Tollgate: key {key.public_prefix} has spent 80% of today's budget",
        f"Tollgate: key {key.public_prefix} has spent all of today's budget",
    ]
    start, reset = period_bounds("day", "UTC")
    eighty, hundred = budget_mails[0].body, budget_mails[1].body
    assert "has spent 80% of its budget of 0.05 USD a day." in eighty
    assert re.search(r"Spent so far: 0\.0[45] USD\.", eighty)  # the fifth call may have settled by then
    assert f"The count starts again at {reset:%a} {reset.day} {reset:%b} 00:00 UTC." in eighty
    assert "has spent all of its budget of 0.05 USD a day." in hundred
    assert f"Further requests get 429 Limit Exceeded until {reset:%a} {reset.day} {reset:%b} 00:00 UTC." in hundred
    days = {alert.day async for alert in UsageAlert.objects.filter(key=key, kind="budget")}
    assert days == {start}
    # Once each a period: the same thresholds in the same period send nothing more.
    again = alerts.alert_later(key_id=key.pk, day=start, kind="budget", percent=100)
    mailed = len(mail.outbox)
    assert await asyncio.wrap_future(again) is False and len(mail.outbox) == mailed


@pytest.mark.django_db(transaction=True)
def test_a_new_period_mails_the_budget_thresholds_again(user, key_factory, plans):
    """A week plan in Bangkok: the alert names the week, and the next week's 80% is a new mail."""
    plan = plans["10RequestPerDay"]
    plan.period, plan.time_zone, plan.budget = "week", "Asia/Bangkok", Decimal("20")
    plan.save()
    key, _ = key_factory(user)
    this_week = datetime.date(2026, 11, 30)  # a Monday
    assert alerts.alert_later(key_id=key.pk, day=this_week, kind="budget", percent=80).result() is True
    assert alerts.alert_later(key_id=key.pk, day=this_week, kind="budget", percent=80).result() is False
    next_week = this_week + datetime.timedelta(days=7)
    assert alerts.alert_later(key_id=key.pk, day=next_week, kind="budget", percent=80).result() is True
    first, second = mail.outbox
    assert first.subject == f"Tollgate: key {key.public_prefix} has spent 80% of this week's budget"
    assert "its budget of 20.00 USD a week." in first.body
    assert "The count starts again at Mon 7 Dec 00:00 Asia/Bangkok." in first.body
    assert "The count starts again at Mon 14 Dec 00:00 Asia/Bangkok." in second.body


@pytest.mark.django_db(transaction=True)
def test_request_and_token_mails_name_the_period_and_its_reset(user, key_factory, plans):
    plan = plans["10RequestPerDay"]
    plan.period, plan.time_zone, plan.tokens_per_day = "month", "Asia/Bangkok", 50_000
    plan.save()
    key, _ = key_factory(user)
    december = datetime.date(2026, 12, 1)
    assert alerts.alert_later(key_id=key.pk, day=december, kind="requests", percent=100).result() is True
    assert alerts.alert_later(key_id=key.pk, day=december, kind="tokens", percent=80).result() is True
    requests, tokens = mail.outbox
    assert requests.subject == f"Tollgate: key {key.public_prefix} has used all of this month's requests"
    assert "has used all of its 10 requests a month." in requests.body
    assert "Further requests get 429 Limit Exceeded until Fri 1 Jan 00:00 Asia/Bangkok." in requests.body
    assert tokens.subject == f"Tollgate: key {key.public_prefix} has used 80% of this month's tokens"
    assert "has used 80% of its 50000 tokens a month." in tokens.body
    assert "UTC" not in requests.body + tokens.body and "today" not in requests.body + tokens.body
