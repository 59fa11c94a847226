"""Quota leases in front of both stores: large plans spent from memory, never past the limit."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

import keys.metering.leases as leases_module
from keys.metering.keycache import key_info_load
from keys.metering.leases import LEASE_MAX, Leases
from keys.metering.quota import get_quota_store
from keys.metering.types import RefusalCode, utc_today
from keys.models import Plan

pytestmark = pytest.mark.django_db(transaction=True)


class LeaseContract:
    @pytest.fixture
    def large(self, store, user, key_factory):
        Plan.objects.create(name="Large", requests_per_day=1000)
        key, _ = key_factory(user, "Large")
        return key_info_load(key_id=key.pk)

    async def test_two_processes_never_admit_past_the_limit_and_in_the_end_admit_all_of_it(
        self, store, large, monkeypatch
    ):
        monkeypatch.setattr(leases_module, "LEASE_SECONDS", 0.2)
        one, two = Leases(), Leases()  # as two worker processes would hold them
        day = utc_today()
        results = await asyncio.gather(*((one if i % 2 else two).consume(store, large, day) for i in range(1150)))
        first = sum(r.admitted for r in results)
        assert 990 <= first <= 1000  # a handful may sit in the other process's lease for a moment
        await asyncio.sleep(0.6)  # leases end and hand back what they did not spend
        later = [await (one if i % 2 else two).consume(store, large, day) for i in range(100)]
        assert first + sum(r.admitted for r in later) == 1000
        assert await sync_to_async(store.used_sync)(large.owner_id, large.plan_id, day) == 1000

    async def test_a_lease_takes_one_round_trip_for_many_requests(self, store, large, monkeypatch):
        leases, day, calls = Leases(), utc_today(), []
        take = store.take

        async def counted(*args):
            calls.append(args)
            return await take(*args)

        monkeypatch.setattr(store, "take", counted)
        for _ in range(10):
            assert (await leases.consume(store, large, day)).admitted
        # One request to learn the day's count, then leases of 7 (999 // 128): 3 round trips for 10.
        assert len(calls) == 3
        assert await sync_to_async(store.used_sync)(large.owner_id, large.plan_id, day) == 1 + 7 + 7

    @pytest.fixture
    def budgeted(self, store, user, key_factory):
        """A large plan with a $10 budget and a 100,000-token limit: calls reserve, and lease."""
        from decimal import Decimal

        Plan.objects.create(name="Budgeted", requests_per_day=1000, tokens_per_day=100_000, budget=Decimal("10"))
        key, _ = key_factory(user, "Budgeted")
        return key_info_load(key_id=key.pk)

    async def test_reserving_calls_lease_tokens_and_money_too_and_never_pass_the_budget(
        self, store, budgeted, monkeypatch
    ):
        """A cent a call: two processes spend $10 from leases, exactly, and hand back what settles."""
        from keys.metering.types import Reservation

        monkeypatch.setattr(leases_module, "LEASE_SECONDS", 0.2)
        one, two, day = Leases(), Leases(), utc_today()
        cent = Reservation(10, 10_000_000)
        results = await asyncio.gather(
            *((one if i % 2 else two).reserve(store, budgeted, day, cent) for i in range(1100))
        )
        first = sum(r.admitted for r in results)
        assert 990 <= first <= 1000 and {r.short for r in results if not r.admitted} <= {"budget", ""}
        # Each call cost half its reservation: settled into the lease while it runs, or the store after.
        for index in range(first):
            leases = one if index % 2 else two
            if not leases.settle_into(budgeted, day, -5, -5_000_000):
                await store.settle(budgeted, day, -5, -5_000_000)
        await asyncio.sleep(0.6)  # leases end and hand back their requests, tokens and money
        tokens, nanos = await store.totals(budgeted, day)
        assert (tokens, nanos) == (5 * first, 5_000_000 * first)
        assert await sync_to_async(store.used_sync)(budgeted.owner_id, budgeted.plan_id, day) == first

    async def test_a_reserving_lease_takes_one_round_trip_for_many_calls(self, store, budgeted, monkeypatch):
        from keys.metering.types import Reservation

        leases, day, calls = Leases(), utc_today(), []
        reserve = store.reserve

        async def counted(*args, **kwargs):
            calls.append(args)
            return await reserve(*args, **kwargs)

        monkeypatch.setattr(store, "reserve", counted)
        for _ in range(10):
            assert (await leases.reserve(store, budgeted, day, Reservation(10, 1_000_000))).admitted
        # One call to learn the period's totals, then blocks of 7 (999 // 128): 3 round trips for 10.
        assert len(calls) == 3

    async def test_unspent_requests_are_handed_back_when_the_lease_ends(self, store, large, monkeypatch):
        monkeypatch.setattr(leases_module, "LEASE_SECONDS", 0.2)
        leases, day = Leases(), utc_today()
        for _ in range(3):
            await leases.consume(store, large, day)
        await asyncio.sleep(0.6)
        assert await sync_to_async(store.used_sync)(large.owner_id, large.plan_id, day) == 3

    async def test_a_refund_goes_back_into_the_lease(self, store, large):
        leases, day = Leases(), utc_today()
        await leases.consume(store, large, day)  # learns the count
        await leases.consume(store, large, day)  # takes a lease of 7, spends 1
        await leases.refund(store, large, day)
        assert leases.unspent(large, day) == 7
        await asyncio.to_thread(leases.give_back_all_sync)
        assert await sync_to_async(store.used_sync)(large.owner_id, large.plan_id, day) == 1

    async def test_revoking_ends_this_processes_lease_at_once(self, store, large):
        from keys import metering
        from keys.models import ApiKey
        from keys.services import key_revoke

        day = utc_today()
        assert (await metering.admit(large)).admitted
        key = await ApiKey.objects.select_related("plan", "owner").aget(pk=large.key_id)
        await asyncio.to_thread(key_revoke, key=key)
        verdict = await metering.admit(large)
        assert not verdict.admitted and verdict.refusal == RefusalCode.REVOKED
        assert await sync_to_async(store.used_sync)(large.owner_id, large.plan_id, day) == 1

    async def test_small_plans_are_counted_one_by_one(self, store, user, key_factory):
        key, _ = await sync_to_async(key_factory)(user, "20RequestPerDay")
        info = await sync_to_async(key_info_load)(key_id=key.pk)
        leases, day = Leases(), utc_today()
        await leases.consume(store, info, day)
        assert leases.unspent(info, day) == 0
        assert await sync_to_async(store.used_sync)(info.owner_id, info.plan_id, day) == 1


class TestDatabaseLeases(LeaseContract):
    @pytest.fixture
    def store(self, settings):
        settings.REDIS_URL = ""
        return get_quota_store()


class TestRedisLeases(LeaseContract):
    @pytest.fixture
    def store(self, settings, fresh_redis_url):
        settings.REDIS_URL = fresh_redis_url
        return get_quota_store()


def test_lease_size_shrinks_near_the_limit():
    from keys.metering.leases import lease_size

    info = type("Info", (), {"limit": 100_000})()
    assert lease_size(info, 0) == LEASE_MAX and lease_size(info, 99_990) == 1
    assert lease_size(info, None) == 1  # the day's count is not known yet: learn it first
    small = type("Info", (), {"limit": 999})()
    assert lease_size(small, 0) == 1  # small plans are counted one by one
