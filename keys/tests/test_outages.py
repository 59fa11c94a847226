"""Metering through a store outage: nothing leased or counted is lost, and the background work lives on."""

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError

import keys.metering.leases as leases_module
import keys.metering.usage as usage_module
from keys.metering.keycache import key_info_load
from keys.metering.leases import Leases
from keys.metering.quota import get_quota_store
from keys.metering.types import utc_today
from keys.metering.usage import UsageRecorder
from keys.models import DailyUsage, Plan

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def large(user, key_factory):
    Plan.objects.create(name="Large", requests_per_day=1000)
    key, _ = key_factory(user, "Large")
    return key_info_load(key_id=key.pk)


async def test_a_failed_lease_hand_back_is_retried_and_the_sweeper_lives_on(large, monkeypatch):
    monkeypatch.setattr(leases_module, "LEASE_SECONDS", 0.05)
    store, leases, day = get_quota_store(), Leases(), utc_today()
    for _ in range(2):  # the first request learns the day's count, the second takes a block
        assert (await leases.consume(store, large, day)).admitted
    assert await store.used(large, day) > 2, "a large plan takes a block"
    real_give_back, failures = store.give_back, [2]

    async def flaky(info, day, count):
        if failures[0]:
            failures[0] -= 1
            raise OperationalError("the database is restarting")
        await real_give_back(info, day, count)

    monkeypatch.setattr(store, "give_back", flaky)
    for _ in range(100):
        await leases_module.asyncio.sleep(0.05)
        if await store.used(large, day) == 2 and not leases._owed:
            break
    assert failures == [0], "the hand-back failed twice"
    assert await store.used(large, day) == 2, "and was retried until the unspent requests were back"
    assert leases._sweeper.done() and not leases._sweeper.cancelled() and leases._sweeper.exception() is None


async def test_statistics_wait_for_the_database_instead_of_being_dropped(user, key_factory, monkeypatch):
    key, _ = await sync_to_async(key_factory)(user)
    recorder, day = UsageRecorder(), utc_today()
    recorder.record(key_id=key.pk, day=day, model="m", prompt_tokens=3, completion_tokens=4)
    real_atomic, down = usage_module.transaction.atomic, [True]

    def atomic(*args, **kwargs):
        if down[0]:
            raise OperationalError("could not connect to server")
        return real_atomic(*args, **kwargs)

    monkeypatch.setattr(usage_module.transaction, "atomic", atomic)
    await sync_to_async(recorder.flush_sync)()
    assert not await DailyUsage.objects.filter(key=key).aexists()
    recorder.record(key_id=key.pk, day=day, model="m", prompt_tokens=1, completion_tokens=1)
    down[0] = False
    await sync_to_async(recorder.flush_sync)()
    row = await DailyUsage.objects.aget(key=key, model="m")
    assert (row.requests, row.prompt_tokens, row.completion_tokens) == (2, 4, 5)
