"""Usage over days: the page's chart and table, the CSV and the JSON, isolation, token quotas, alerts."""

import asyncio
import csv
import datetime
import io
import re

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.core import mail

from keys import alerts, services
from keys.metering import utc_today
from keys.metering.thresholds import thresholds_crossed
from keys.models import DailyUsage, Plan, QuotaCounter, Refusal, UsageAlert
from portal.asgi import application

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(user, other_user, plans):
    """Alice's use over three days on two models, a refusal, and Bob's use, which she must never see."""
    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    today = utc_today()
    yesterday = today - datetime.timedelta(days=1)
    DailyUsage.objects.create(key=key, day=today, model="chat", requests=4, prompt_tokens=40, completion_tokens=60)
    DailyUsage.objects.create(key=key, day=today, model="embed", requests=2, prompt_tokens=10, completion_tokens=0)
    DailyUsage.objects.create(key=key, day=yesterday, model="chat", requests=7, prompt_tokens=5, completion_tokens=5)
    Refusal.objects.create(key=key, day=yesterday, reason="requests", count=3)
    old = today - datetime.timedelta(days=40)
    DailyUsage.objects.create(key=key, day=old, model="chat", requests=99)  # outside the 30 days
    bobs, _ = services.key_create(owner=other_user, plan_name="10RequestPerDay")
    DailyUsage.objects.create(key=bobs, day=today, model="secret-model", requests=500)
    return key, today, yesterday


def test_the_chart_and_the_table_show_the_stored_numbers(alice_client, history):
    key, today, yesterday = history
    page = alice_client.get("/usage/").content.decode()
    assert "<title>Usage · Tollgate</title>" in page
    assert len(re.findall(r"<figure class=\"chart\">", page)) == 2
    requests_chart = page[page.index("Requests a day") : page.index("Tokens a day")]
    req_bars = dict(re.findall(r'data-day="([\d-]+)" data-value="(\d+)"', requests_chart))
    tok_bars = dict(re.findall(r'data-day="([\d-]+)" data-value="(\d+)"', page[page.index("Tokens a day") :]))
    assert len(req_bars) == 30 and req_bars[today.isoformat()] == "6" and req_bars[yesterday.isoformat()] == "7"
    assert tok_bars[today.isoformat()] == "110" and tok_bars[yesterday.isoformat()] == "10"
    table = page[page.index("Day by day") : page.index("By key and model")]
    assert re.search(rf"{today.isoformat()}</time></th><td>6</td><td>110</td><td>0</td>", table)
    assert re.search(rf"{yesterday.isoformat()}</time></th><td>7</td><td>10</td><td>3</td>", table)
    assert "secret-model" not in page and "500" not in table


def test_filters_by_model_and_key(alice_client, history):
    key, today, _ = history
    page = alice_client.get("/usage/", {"model": "embed"}).content.decode()
    chart = page[page.index("Requests a day") : page.index("Tokens a day")]
    assert re.search(rf'data-day="{today.isoformat()}" data-value="2"', chart)
    other_key = alice_client.get("/usage/", {"key": "999999"}).content.decode()
    assert 'data-value="6"' in other_key  # an id that is not hers is ignored, not an error


def test_the_csv_and_the_json_agree_and_hold_only_her_rows(alice_client, history):
    response = alice_client.get("/usage/export.csv?days=30")
    assert response["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["day", "key_prefix", "model", "requests", "prompt_tokens", "completion_tokens", "refused"]
    api = alice_client.get("/api/v1/usage/?days=30").json()
    assert [list(map(str, r.values())) for r in api] == rows[1:]
    assert len(rows) == 1 + 4  # today chat and embed; yesterday chat and the refusals' row
    assert all(r[2] != "secret-model" for r in rows[1:])
    assert sum(int(r[3]) for r in rows[1:]) == 13 and sum(int(r[6]) for r in rows[1:]) == 3
    wider = alice_client.get("/api/v1/usage/?days=60").json()
    assert sum(r["requests"] for r in wider) == 13 + 99


@pytest.mark.parametrize("days", ["0", "abc", "1000"])
def test_bad_days_are_400(alice_client, history, days):
    assert alice_client.get(f"/usage/export.csv?days={days}").status_code == 400
    assert alice_client.get(f"/api/v1/usage/?days={days}").status_code == 400


def test_usage_needs_a_login(client):
    assert client.get("/usage/").status_code == 302
    assert client.get("/usage/export.csv").status_code == 302
    assert client.get("/api/v1/usage/").status_code == 403


def test_an_empty_history_says_so(alice_client, plans):
    assert "No use in these 30 days" in alice_client.get("/usage/").content.decode()


async def chat(key: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        body = {"messages": [{"role": "user", "content": "one two three"}]}
        return await client.post("/v1/chat/completions", headers={"x-api-key": key}, json=body)


@pytest.mark.django_db(transaction=True)
async def test_a_token_quota_refuses_once_the_recorded_total_reaches_it(user, upstream):
    from keys.metering.usage import usage_recorder

    plan = await Plan.objects.acreate(name="Tokens", requests_per_day=100, tokens_per_day=30)
    key, plaintext = await sync_to_async(services.key_create)(owner=user, plan_name=plan.name)
    first = await chat(plaintext)
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-tokens"] == "30" and first.headers["x-ratelimit-remaining-tokens"] == "30"
    await usage_recorder.flush()  # what the next second does on its own
    tokens = (await QuotaCounter.objects.aget(owner=user, plan=plan)).tokens
    assert tokens == 3 + 12  # the loopback model counts words: 3 asked, 12 answered
    second = await chat(plaintext)
    assert second.headers["x-ratelimit-remaining-tokens"] == str(30 - tokens)
    await usage_recorder.flush()
    refused = await chat(plaintext)
    assert refused.status_code == 429
    body = refused.json()
    assert body["message"] == "Limit Exceeded" and body["error"]["type"] == "tokens"
    assert "30 tokens per day" in body["error"]["message"] and "00:00 UTC" in body["error"]["message"]
    assert refused.headers["x-ratelimit-remaining-tokens"] == "0" and refused.headers["x-should-retry"] == "false"
    await usage_recorder.flush()
    assert (await Refusal.objects.aget(key=key)).reason == "tokens"
    assert (await QuotaCounter.objects.aget(owner=user, plan=plan)).used == 2  # the refused one was not charged


@pytest.mark.django_db(transaction=True)
async def test_requests_past_the_quota_are_counted_as_refusals(user, key_factory, upstream):
    from keys.metering.usage import usage_recorder

    key, plaintext = await sync_to_async(key_factory)(user)
    await QuotaCounter.objects.acreate(owner=user, plan_id=key.plan_id, day=utc_today(), used=10)
    for _ in range(3):
        assert (await chat(plaintext)).status_code == 429
    await usage_recorder.flush()
    refusal = await Refusal.objects.aget(key=key)
    assert (refusal.reason, refusal.count) == ("requests", 3)


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


def test_thresholds_crossed():
    assert thresholds_crossed(7, 8, 10) == [80]
    assert thresholds_crossed(8, 9, 10) == []
    assert thresholds_crossed(9, 10, 10) == [100]
    assert thresholds_crossed(0, 500, 100) == [80, 100]
    assert thresholds_crossed(5, 9, None) == []
