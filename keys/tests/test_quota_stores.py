"""One contract for both quota stores: exact admission under concurrency, refunds, revocation."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from keys.metering import utc_today
from keys.metering.keycache import key_info_load
from keys.metering.quota import get_quota_store
from keys.metering.quota.database import DatabaseQuota
from keys.metering.quota.redis import RedisQuota

pytestmark = pytest.mark.django_db(transaction=True)


class QuotaStoreContract:
    @pytest.fixture
    def info(self, store, user, key_factory):
        key, _ = key_factory(user, "20RequestPerDay")
        return key_info_load(key_id=key.pk)

    async def test_sixty_at_once_admit_exactly_the_limit(self, store, info):
        results = await asyncio.gather(*(store.consume(info, utc_today()) for _ in range(60)))
        admitted = [r for r in results if r.admitted]
        assert len(admitted) == 20
        assert sorted(r.used for r in admitted) == list(range(1, 21))
        assert all(r.remaining == 0 and not r.revoked for r in results if not r.admitted)
        assert await sync_to_async(store.used_sync)(info.owner_id, info.plan_id, utc_today()) == 20

    async def test_used_reads_without_counting(self, store, info):
        await store.consume(info, utc_today())
        assert await store.used(info, utc_today()) == 1
        assert await store.used(info, utc_today()) == 1

    async def test_refund_gives_the_request_back_once(self, store, info):
        day = utc_today()
        await store.consume(info, day)
        await store.refund(info, day)
        await store.refund(info, day)  # never below zero
        assert await sync_to_async(store.used_sync)(info.owner_id, info.plan_id, day) == 0

    async def test_a_revoked_key_is_refused_by_the_counting_step(self, store, info):
        from keys.models import ApiKey
        from keys.services import key_revoke

        key = await ApiKey.objects.select_related("plan", "owner").aget(pk=info.key_id)
        await asyncio.to_thread(key_revoke, key=key)  # `info` is now stale, as a cached copy would be
        admission = await store.consume(info, utc_today())
        assert not admission.admitted and admission.revoked

    async def test_carry_over_raises_the_new_plans_count_and_never_lowers_one(self, store, info, plans):
        day, other = utc_today(), plans["30RequestPerDay"].pk
        for _ in range(5):
            await store.consume(info, day)
        used = sync_to_async(store.used_sync)
        await sync_to_async(store.carry_over_sync)(info.owner_id, info.plan_id, other, day)
        assert await used(info.owner_id, other, day) == 5
        await sync_to_async(store.carry_over_sync)(info.owner_id, other, info.plan_id, day)
        assert await used(info.owner_id, info.plan_id, day) == 5  # the higher count stays
        fresh = plans["10RequestPerDay"].pk
        await sync_to_async(store.carry_over_sync)(info.owner_id, fresh, info.plan_id, day)  # nothing used there
        assert await used(info.owner_id, info.plan_id, day) == 5

    async def test_days_are_counted_separately(self, store, info):
        import datetime

        yesterday = utc_today() - datetime.timedelta(days=1)
        for _ in range(20):
            await store.consume(info, yesterday)
        assert (await store.consume(info, utc_today())).admitted


class TestDatabaseQuota(QuotaStoreContract):
    @pytest.fixture
    def store(self, settings):
        settings.REDIS_URL = ""
        store = get_quota_store()
        assert isinstance(store, DatabaseQuota)
        return store


@pytest.fixture
def redis_store(settings, fresh_redis_url) -> RedisQuota:
    settings.REDIS_URL = fresh_redis_url
    store = get_quota_store()
    assert isinstance(store, RedisQuota)
    return store


class TestRedisQuota(QuotaStoreContract):
    @pytest.fixture
    def store(self, redis_store):
        return redis_store


async def test_redis_losing_its_counters_does_not_refill_the_day(redis_store, user, key_factory):
    from keys.models import DailyUsage

    store = redis_store  # flushed, as after a Redis restart
    key, _ = await sync_to_async(key_factory)(user, "20RequestPerDay")
    await DailyUsage.objects.acreate(key=key, day=utc_today(), requests=19)  # answered before the restart
    info = await sync_to_async(key_info_load)(key_id=key.pk)
    assert (await store.consume(info, utc_today())).used == 20
    assert not (await store.consume(info, utc_today())).admitted
