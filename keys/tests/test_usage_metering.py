"""Metering's side of usage: token quotas refuse on the recorded total, refusals are counted, thresholds."""

import pytest
from asgiref.sync import sync_to_async

from conftest import post_v1
from keys import services
from keys.metering import utc_today
from keys.metering.thresholds import thresholds_crossed
from keys.models import Plan, QuotaCounter, Refusal

pytestmark = pytest.mark.django_db


CHAT = {"messages": [{"role": "user", "content": "one two three"}]}


async def chat(key: str):
    return await post_v1(key, CHAT)


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


def test_thresholds_crossed():
    assert thresholds_crossed(7, 8, 10) == [80]
    assert thresholds_crossed(8, 9, 10) == []
    assert thresholds_crossed(9, 10, 10) == [100]
    assert thresholds_crossed(0, 500, 100) == [80, 100]
    assert thresholds_crossed(5, 9, None) == []
