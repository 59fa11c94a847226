"""Quota leases: for large plans, a process takes a block of the day's quota in one round trip and
spends it in memory, handing back what it did not spend. Small plans, and the last requests of any
day, are counted one at a time, so no quota is ever admitted past its limit in any process.

What a lease costs: a revocation or a plan change made in another process reaches requests spent
from a lease here within LEASE_SECONDS; and a process that dies with a lease loses its unspent part
(at most LEASE_MAX requests of a plan of at least LEASE_MIN_LIMIT a day) for that day.
"""

import asyncio
import datetime
import logging
import time
from dataclasses import dataclass

from keys.metering.quota.base import BaseQuotaStore
from keys.metering.types import Admission, KeyInfo

logger = logging.getLogger(__name__)
LEASE_MIN_LIMIT = 1000  # plans below this many requests a day are counted request by request
LEASE_MAX = 64
LEASE_SECONDS = 1.0


@dataclass(slots=True)
class _Lease:
    info: KeyInfo
    day: datetime.date
    left: int  # taken from the store, not yet spent
    next_used: int  # the day's count the next request spent from this lease reports
    expires: float


def lease_size(info: KeyInfo, used: int | None) -> int:
    """How many to take: one for small plans or an unknown count, fewer as the day's quota runs out,
    so that what other processes may still hold when the store runs dry stays a handful."""
    if info.limit < LEASE_MIN_LIMIT or used is None:
        return 1
    return max(1, min(LEASE_MAX, (info.limit - used) // 128))


class Leases:
    """One lease per key and day in this process, in front of a quota store."""

    def __init__(self) -> None:
        self._leases: dict[tuple[int, datetime.date], _Lease] = {}
        self._seen: dict[tuple[int, datetime.date], int] = {}  # the day's count the store last reported
        self._taking: set[tuple[int, datetime.date]] = set()  # keys with a block being taken now
        self._sweeper: asyncio.Task | None = None
        # Hand-backs that failed (the store was away): (key id, day) -> (info, count), retried each sweep.
        self._owed: dict[tuple[int, datetime.date], tuple[KeyInfo, int]] = {}

    def _spend(self, info: KeyInfo, day: datetime.date) -> Admission | None:
        lease = self._leases.get((info.key_id, day))
        if lease is None or lease.left <= 0 or lease.expires <= time.monotonic() or lease.info != info:
            return None
        lease.left -= 1
        lease.next_used += 1
        return Admission(admitted=True, used=lease.next_used - 1, limit=info.limit)

    async def consume(self, store: BaseQuotaStore, info: KeyInfo, day: datetime.date) -> Admission:
        if info.limit < LEASE_MIN_LIMIT:
            return await store.consume(info, day)
        admission = self._spend(info, day)
        if admission is not None:
            return admission
        key = (info.key_id, day)
        stale = self._leases.get(key)
        if stale is not None and (stale.expires <= time.monotonic() or stale.info != info):
            await self._end(store, stale)  # its time is up, or the plan changed: hand back the rest
        # Requests that find no lease do not wait for one another (a thousand streams opening together
        # felt that as seconds): one of them takes a block, the others one request each, all at once,
        # which the database store's group commit turns into a single round trip.
        leasing = key not in self._taking
        wanted = lease_size(info, self._seen.get(key)) if leasing else 1
        if leasing:
            self._taking.add(key)
        try:
            granted, admission = await store.take(info, day, wanted)
        finally:
            if leasing:
                self._taking.discard(key)
        if admission.admitted:
            self._seen[key] = max(self._seen.get(key, 0), admission.used + granted - 1)
            if granted > 1:
                self._add(store, info, day, granted - 1, admission.used + 1)
            return admission
        # Refused by the store: what this process's other requests just leased may still have room.
        return self._spend(info, day) or admission

    def _add(self, store: BaseQuotaStore, info: KeyInfo, day: datetime.date, count: int, next_used: int) -> None:
        lease = self._leases.get((info.key_id, day))
        if lease is not None and lease.info == info and lease.expires > time.monotonic():
            lease.left += count
            lease.next_used = max(lease.next_used, next_used)
            return
        self._leases[(info.key_id, day)] = _Lease(info, day, count, next_used, time.monotonic() + LEASE_SECONDS)
        self._sweep_later(store)

    async def refund(self, store: BaseQuotaStore, info: KeyInfo, day: datetime.date) -> None:
        lease = self._leases.get((info.key_id, day))
        if lease is not None and lease.expires > time.monotonic():
            lease.left += 1  # back into the lease, to be spent or handed back with the rest
            lease.next_used -= 1
            return
        await store.refund(info, day)

    def unspent(self, info: KeyInfo, day: datetime.date) -> int:
        lease = self._leases.get((info.key_id, day))
        return lease.left if lease is not None else 0

    def forget_sync(self, store: BaseQuotaStore, key_id: int) -> None:
        """Drop this process's leases of a key (revoked), handing back their unspent part."""
        for k in [k for k in self._leases if k[0] == key_id]:
            lease = self._leases.pop(k)
            if lease.left:
                store.give_back_sync(lease.info, lease.day, lease.left)

    async def _end(self, store: BaseQuotaStore, lease: _Lease) -> None:
        if self._leases.get((lease.info.key_id, lease.day)) is lease:
            del self._leases[(lease.info.key_id, lease.day)]
        if lease.left:
            left, lease.left = lease.left, 0
            await self._give_back(store, lease.info, lease.day, left)

    async def _give_back(self, store: BaseQuotaStore, info: KeyInfo, day: datetime.date, count: int) -> None:
        try:
            await store.give_back(info, day, count)
        except Exception as exc:
            # Kept and retried at the next sweep: these requests were never used and must not be lost.
            key = (info.key_id, day)
            self._owed[key] = (info, self._owed.get(key, (info, 0))[1] + count)
            logger.warning("could not hand back %d leased requests of key %s yet: %s", count, info.key_id, exc)
            self._sweep_later(store)

    def _sweep_later(self, store: BaseQuotaStore) -> None:
        loop = asyncio.get_running_loop()
        if self._sweeper is None or self._sweeper.done() or self._sweeper.get_loop() is not loop:
            self._sweeper = loop.create_task(self._sweep(store))

    async def _sweep(self, store: BaseQuotaStore) -> None:
        """Hand back expired leases' unspent requests, so a quiet key's lease does not sit idle."""
        while self._leases or self._owed:
            await asyncio.sleep(LEASE_SECONDS)
            try:
                now = time.monotonic()
                owed, self._owed = self._owed, {}
                for (_, day), (info, count) in owed.items():
                    await self._give_back(store, info, day, count)
                for lease in [lease for lease in self._leases.values() if lease.expires <= now]:
                    await self._end(store, lease)
                for k in [k for k in self._seen if k not in self._leases]:
                    del self._seen[k]
            except Exception:  # the sweeper outlives any one failure: it is what hands leases back
                logger.exception("lease sweep failed; trying again at the next")

    def give_back_all_sync(self) -> None:
        """At exit: hand back every unspent request (best effort; the process is going away)."""
        from keys.metering.quota import get_quota_store

        store, leases = get_quota_store(), list(self._leases.values())
        self._leases.clear()
        leases += [_Lease(info, day, count, 0, 0.0) for (_, day), (info, count) in self._owed.items()]
        self._owed.clear()
        for lease in leases:
            if lease.left:
                try:
                    store.give_back_sync(lease.info, lease.day, lease.left)
                except Exception as exc:  # the process is ending: say what is lost, and go on
                    logger.warning(
                        "could not hand back %d leased requests of key %s: %s", lease.left, lease.info.key_id, exc
                    )

    def discard(self) -> None:
        """Forget every lease without handing anything back (tests)."""
        self._leases.clear()
        self._seen.clear()
        self._taking.clear()
        self._owed.clear()


quota_leases = Leases()
