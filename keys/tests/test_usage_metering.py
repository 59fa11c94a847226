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
async def test_a_token_quota_reserves_each_calls_most_and_settles_to_what_it_took(user, upstream):
    from keys.metering import settlements_wait
    from keys.metering.usage import usage_recorder

    plan = await Plan.objects.acreate(name="Tokens", requests_per_day=100, tokens_per_day=60)
    key, plaintext = await sync_to_async(services.key_create)(owner=user, plan_name=plan.name)
    body = {**CHAT, "max_tokens": 12}
    # Reserved: the prompt's bound (21: its strings' bytes and 4 for the message) and max_tokens (12).
    first = await post_v1(plaintext, body)
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-tokens"] == "60" and first.headers["x-ratelimit-remaining-tokens"] == "27"
    await settlements_wait()
    tokens = (await QuotaCounter.objects.aget(owner_id=user.pk, plan=plan)).tokens
    assert tokens == 3 + 12  # settled: the loopback model counts words, 3 asked and 12 answered
    second = await post_v1(plaintext, body)
    assert second.headers["x-ratelimit-remaining-tokens"] == str(60 - tokens - 33)
    await settlements_wait()
    refused = await post_v1(plaintext, body)  # 30 used, and 33 more might not fit
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert refused.json()["message"] == "Limit Exceeded" and error["type"] == "tokens" and error["remaining"] == 30
    assert "60 tokens per day" in error["message"] and error["reset_at"].endswith("+00:00")
    assert refused.headers["x-ratelimit-remaining-tokens"] == "30" and refused.headers["x-should-retry"] == "false"
    smaller = await post_v1(plaintext, {**CHAT, "max_tokens": 9})  # 21 + 9 fits exactly
    assert smaller.status_code == 200
    await settlements_wait()
    await usage_recorder.flush()
    assert (await Refusal.objects.aget(key=key)).reason == "tokens"
    counter = await QuotaCounter.objects.aget(owner_id=user.pk, plan=plan)
    assert counter.used == 3 and counter.tokens == 45  # the refused one was not charged


@pytest.mark.django_db(transaction=True)
async def test_an_output_cap_that_is_not_a_positive_whole_number_gets_400_uncharged(user, plans, upstream):
    key, plaintext = await sync_to_async(services.key_create)(owner=user, plan_name="10RequestPerDay")
    for field, value in (
        ("max_tokens", 0),
        ("max_completion_tokens", -5),
        ("max_output_tokens", "9"),
        ("max_tokens", 1.5),
    ):
        answer = await post_v1(plaintext, {**CHAT, field: value})
        assert answer.status_code == 400 and field in answer.json()["error"]["message"]
    assert not await QuotaCounter.objects.filter(owner_id=user.pk, used__gt=0).aexists()


@pytest.mark.django_db(transaction=True)
async def test_requests_past_the_quota_are_counted_as_refusals(user, key_factory, upstream):
    from keys.metering.usage import usage_recorder

    key, plaintext = await sync_to_async(key_factory)(user)
    await QuotaCounter.objects.acreate(owner_id=user.pk, plan_id=key.plan_id, day=utc_today(), used=10)
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
