"""One contract for both quota stores: exact admission under concurrency, refunds, revocation, and
reserve-then-settle of tokens and money."""

import asyncio
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from keys.metering import utc_today
from keys.metering.keycache import key_info_load
from keys.metering.quota import get_quota_store
from keys.metering.quota.database import DatabaseQuota
from keys.metering.quota.redis import RedisQuota
from keys.metering.types import Reservation

CENT = 10_000_000  # nanos

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
        await sync_to_async(store.carry_over_sync)(info.owner_id, info.plan_id, other, day, day)
        assert await used(info.owner_id, other, day) == 5
        await sync_to_async(store.carry_over_sync)(info.owner_id, other, info.plan_id, day, day)
        assert await used(info.owner_id, info.plan_id, day) == 5  # the higher count stays
        fresh = plans["10RequestPerDay"].pk
        await sync_to_async(store.carry_over_sync)(info.owner_id, fresh, info.plan_id, day, day)  # nothing used there
        assert await used(info.owner_id, info.plan_id, day) == 5

    @pytest.fixture
    def metered(self, store, user):
        """A key in a plan with a $0.20 budget and a 50-token limit, and its facts."""
        from keys.models import Plan
        from keys.services import key_create

        Plan.objects.create(name="Metered", requests_per_day=1000, tokens_per_day=50, budget=Decimal("0.20"))
        key, _ = key_create(owner=user, plan_name="Metered")
        return key_info_load(key_id=key.pk)

    async def test_sixty_reservations_at_a_cent_admit_exactly_a_twenty_cent_budget(self, store, metered):
        day = utc_today()
        results = await asyncio.gather(*(store.reserve(metered, day, Reservation(0, CENT)) for _ in range(60)))
        admitted = [r for r in results if r.admitted]
        assert len(admitted) == 20
        assert all(r.short == "budget" and r.spent_nanos == 20 * CENT for r in results if not r.admitted)
        assert await sync_to_async(store.totals_sync)(metered.owner_id, metered.plan_id, day) == (0, 20 * CENT)
        assert await sync_to_async(store.used_sync)(metered.owner_id, metered.plan_id, day) == 20

    async def test_forty_reservations_never_pass_a_fifty_token_limit(self, store, metered):
        day = utc_today()
        results = await asyncio.gather(*(store.reserve(metered, day, Reservation(6, 0)) for _ in range(40)))
        assert sum(r.admitted for r in results) == 8  # 48 tokens; a ninth would make 54
        assert {r.short for r in results if not r.admitted} == {"tokens"}
        assert (await store.totals(metered, day))[0] == 48

    async def test_settling_gives_back_what_a_call_did_not_cost_and_never_goes_below_zero(self, store, metered):
        day = utc_today()
        assert (await store.reserve(metered, day, Reservation(40, 15 * CENT))).admitted
        assert not (await store.reserve(metered, day, Reservation(20, 0))).admitted  # 40 + 20 > 50
        assert await store.settle(metered, day, -30, -12 * CENT) == (10, 3 * CENT)  # cost 10 tokens, 3 cents
        assert (await store.reserve(metered, day, Reservation(20, 0))).admitted  # room again
        await store.settle(metered, day, -1000, -1000 * CENT)
        assert await store.totals(metered, day) == (0, 0)

    async def test_unreserving_gives_back_the_request_tokens_and_money(self, store, metered):
        day = utc_today()
        await store.reserve(metered, day, Reservation(30, 5 * CENT))
        await store.unreserve(metered, day, Reservation(30, 5 * CENT))
        assert await store.totals(metered, day) == (0, 0)
        assert await store.used(metered, day) == 0

    async def test_a_top_up_counts_no_request_and_says_which_limit_it_missed(self, store, metered):
        day = utc_today()
        await store.reserve(metered, day, Reservation(10, 0))
        topped = await store.reserve(metered, day, Reservation(30, 19 * CENT), requests=0)
        assert topped.admitted and topped.used == 1
        short = await store.reserve(metered, day, Reservation(0, 2 * CENT), requests=0)
        assert not short.admitted and short.short == "budget" and short.spent_nanos == 19 * CENT

    async def test_carry_over_carries_tokens_and_spend(self, store, metered, user):
        from keys.models import Plan

        day = utc_today()
        await store.reserve(metered, day, Reservation(25, 7 * CENT))
        other = await Plan.objects.acreate(name="Other", requests_per_day=100, budget=Decimal("1"))
        await sync_to_async(store.carry_over_sync)(metered.owner_id, metered.plan_id, other.pk, day, day)
        assert await sync_to_async(store.totals_sync)(metered.owner_id, other.pk, day) == (25, 7 * CENT)
        assert await sync_to_async(store.used_sync)(metered.owner_id, other.pk, day) == 1

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


async def test_redis_losing_its_counters_does_not_refill_the_budget(redis_store, user):
    """The journal writes reservations and settlements ahead; a Redis that comes back empty starts from them."""
    from keys.models import Plan
    from keys.services import key_create

    await Plan.objects.acreate(name="Metered", requests_per_day=1000, budget=Decimal("0.20"))
    key, _ = await sync_to_async(key_create)(owner=user, plan_name="Metered")
    info = await sync_to_async(key_info_load)(key_id=key.pk)
    day = utc_today()
    for _ in range(15):
        assert (await redis_store.reserve(info, day, Reservation(0, CENT))).admitted
    await redis_store.settle(info, day, 0, -CENT)  # one call cost nothing after all
    await sync_to_async(redis_store.journal.flush_sync)()
    redis_store.sync.delete(*redis_store._reserve_keys(info, day)[:1], *redis_store._reserve_keys(info, day)[3:])
    results = [await redis_store.reserve(info, day, Reservation(0, CENT)) for _ in range(10)]
    assert sum(r.admitted for r in results) == 6  # 14 cents spent before, 6 left
