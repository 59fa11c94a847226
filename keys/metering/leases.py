"""Quota leases: for large plans, a process takes a block of the period's quota in one round trip and
spends it in memory, handing back what it did not spend. Small plans, and the last requests of any
period, are counted one at a time, so no quota is ever admitted past its limit in any process.

Plans that limit tokens or money lease those too: a block of requests with as many of this call's
reservations, taken in one atomic step under every limit. Calls spend their reservation from the
block, and settle what they did not cost back into it; the lease hands back the rest when it ends.

What a lease costs: a revocation or a plan change made in another process reaches requests spent
from a lease here within LEASE_SECONDS; and a process that dies with a lease loses its unspent part
(at most LEASE_MAX requests of a plan of at least LEASE_MIN_LIMIT a period, and 1/128 of what was
left of its tokens and money) for that period.
"""

import asyncio
import dataclasses
import datetime
import logging
import time
from dataclasses import dataclass

from keys.metering.quota.base import BaseQuotaStore
from keys.metering.spool import lease_line, spool
from keys.metering.types import NOTHING, Admission, KeyInfo, Reservation

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
    tokens: int = 0  # reserved from the store, not yet spent (plans that reserve)
    nanos: int = 0


def metered_lease_size(info: KeyInfo, reservation: Reservation, seen: tuple[int, int, int] | None) -> int:
    """How many of this call's reservations to take at once: as lease_size(), and never more than a
    128th of the tokens or money the period has left, so the last of them go one call at a time."""
    if info.limit < LEASE_MIN_LIMIT or seen is None:
        return 1
    used, tokens, nanos = seen
    size = (info.limit - used) // 128
    if info.token_limit is not None:
        size = min(size, (info.token_limit - tokens) // (128 * max(reservation.tokens, 1)))
    if info.budget_nanos is not None:
        size = min(size, (info.budget_nanos - nanos) // (128 * max(reservation.nanos, 1)))
    return max(1, min(LEASE_MAX, size))


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
        # Hand-backs that failed (the store was away): (key id, day) -> (info, count, tokens, nanos),
        # retried each sweep.
        self._owed: dict[tuple[int, datetime.date], tuple[KeyInfo, int, int, int]] = {}
        self._seen_totals: dict[tuple[int, datetime.date], tuple[int, int, int]] = {}  # plans that reserve

    def _spend(self, info: KeyInfo, day: datetime.date) -> Admission | None:
        lease = self._leases.get((info.key_id, day))
        if lease is None or lease.left <= 0 or lease.expires <= time.monotonic() or lease.info != info:
            return None
        lease.left -= 1
        lease.next_used += 1
        spool.lease_changed(info, day, -1, 0, 0)
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

    def _add(
        self,
        store: BaseQuotaStore,
        info: KeyInfo,
        day: datetime.date,
        count: int,
        next_used: int,
        held: Reservation = NOTHING,
    ) -> None:
        spool.lease_grew(info, day, count, held.tokens, held.nanos)
        lease = self._leases.get((info.key_id, day))
        if lease is not None and lease.info == info and lease.expires > time.monotonic():
            lease.left += count
            lease.tokens += held.tokens
            lease.nanos += held.nanos
            lease.next_used = max(lease.next_used, next_used)
            return
        expires = time.monotonic() + LEASE_SECONDS
        self._leases[(info.key_id, day)] = _Lease(info, day, count, next_used, expires, held.tokens, held.nanos)
        self._sweep_later(store)

    # -- Plans that reserve tokens or money --------------------------------------------------------

    def _spend_reserved(self, info: KeyInfo, day: datetime.date, reservation: Reservation) -> Admission | None:
        lease = self._leases.get((info.key_id, day))
        if (
            lease is None
            or lease.left <= 0
            or lease.tokens < reservation.tokens
            or lease.nanos < reservation.nanos
            or lease.expires <= time.monotonic()
            or lease.info != info
        ):
            return None
        lease.left -= 1
        lease.tokens -= reservation.tokens
        lease.nanos -= reservation.nanos
        lease.next_used += 1
        spool.lease_changed(info, day, -1, -reservation.tokens, -reservation.nanos)
        seen = self._seen_totals.get((info.key_id, day), (0, 0, 0))
        return self._admission(info, True, lease.next_used - 1, seen)

    @staticmethod
    def _admission(info: KeyInfo, admitted: bool, used: int, seen: tuple[int, int, int]) -> Admission:
        return Admission(
            admitted=admitted,
            used=used,
            limit=info.limit,
            tokens_used=seen[1] if info.token_limit is not None else None,
            token_limit=info.token_limit,
            spent_nanos=seen[2] if info.budget_nanos is not None else None,
            budget_nanos=info.budget_nanos,
        )

    async def reserve(
        self, store: BaseQuotaStore, info: KeyInfo, day: datetime.date, reservation: Reservation
    ) -> Admission:
        """Count one request and hold `reservation`, from this process's lease or the store."""
        if info.limit < LEASE_MIN_LIMIT:
            return await store.reserve(info, day, reservation)
        admission = self._spend_reserved(info, day, reservation)
        if admission is not None:
            return admission
        key = (info.key_id, day)
        stale = self._leases.get(key)
        if stale is not None and (stale.expires <= time.monotonic() or stale.info != info):
            await self._end(store, stale)
        size = metered_lease_size(info, reservation, self._seen_totals.get(key)) if key not in self._taking else 1
        if size > 1:
            self._taking.add(key)
            try:
                block = Reservation(reservation.tokens * size, reservation.nanos * size)
                admission = await store.reserve(info, day, block, requests=size)
            finally:
                self._taking.discard(key)
            if admission.admitted:
                self._seen_totals[key] = (admission.used, admission.tokens_used or 0, admission.spent_nanos or 0)
                rest = Reservation(block.tokens - reservation.tokens, block.nanos - reservation.nanos)
                self._add(store, info, day, size - 1, admission.used - size + 2, rest)
                return dataclasses.replace(admission, used=admission.used - size + 1)
        admission = await store.reserve(info, day, reservation)  # one call, exactly
        if not (admission.revoked or admission.moved):  # those answers carry no counts
            self._seen_totals[key] = (admission.used, admission.tokens_used or 0, admission.spent_nanos or 0)
        if admission.admitted:
            return admission
        return self._spend_reserved(info, day, reservation) or admission

    def settle_into(self, info: KeyInfo, day: datetime.date, tokens: int, nanos: int) -> bool:
        """Put what a call did not cost (`tokens`, `nanos`: negative) back into its lease, if it still runs."""
        lease = self._leases.get((info.key_id, day))
        if lease is None or lease.expires <= time.monotonic() or lease.info != info:
            return False
        lease.tokens -= tokens
        lease.nanos -= nanos
        spool.lease_changed(info, day, 0, -tokens, -nanos)
        return True

    async def unreserve(
        self, store: BaseQuotaStore, info: KeyInfo, day: datetime.date, reservation: Reservation
    ) -> None:
        lease = self._leases.get((info.key_id, day))
        if lease is not None and lease.expires > time.monotonic() and lease.info == info:
            lease.left += 1
            lease.tokens += reservation.tokens
            lease.nanos += reservation.nanos
            lease.next_used -= 1
            spool.lease_changed(info, day, 1, reservation.tokens, reservation.nanos)
            return
        await store.unreserve(info, day, reservation)

    async def refund(self, store: BaseQuotaStore, info: KeyInfo, day: datetime.date) -> None:
        lease = self._leases.get((info.key_id, day))
        if lease is not None and lease.expires > time.monotonic():
            lease.left += 1  # back into the lease, to be spent or handed back with the rest
            lease.next_used -= 1
            spool.lease_changed(lease.info, day, 1, 0, 0)
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
            if lease.tokens or lease.nanos:
                store.settle_sync(lease.info, lease.day, -lease.tokens, -lease.nanos)
            spool.lease_changed(lease.info, lease.day, -lease.left, -lease.tokens, -lease.nanos)

    async def _end(self, store: BaseQuotaStore, lease: _Lease) -> None:
        if self._leases.get((lease.info.key_id, lease.day)) is lease:
            del self._leases[(lease.info.key_id, lease.day)]
        if lease.left or lease.tokens or lease.nanos:
            left, tokens, nanos = lease.left, lease.tokens, lease.nanos
            lease.left = lease.tokens = lease.nanos = 0
            await self._give_back(store, lease.info, lease.day, left, tokens, nanos)

    async def _give_back(
        self, store: BaseQuotaStore, info: KeyInfo, day: datetime.date, count: int, tokens: int = 0, nanos: int = 0
    ) -> None:
        try:
            if count:
                await store.give_back(info, day, count)
                spool.lease_changed(info, day, -count, 0, 0)
                count = 0
            if tokens or nanos:
                await store.settle(info, day, -tokens, -nanos)
                spool.lease_changed(info, day, 0, -tokens, -nanos)
        except Exception as exc:
            # Kept and retried at the next sweep: these were never used and must not be lost.
            key = (info.key_id, day)
            _, owed_count, owed_tokens, owed_nanos = self._owed.get(key, (info, 0, 0, 0))
            self._owed[key] = (info, owed_count + count, owed_tokens + tokens, owed_nanos + nanos)
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
                for (_, day), (info, count, tokens, nanos) in owed.items():
                    await self._give_back(store, info, day, count, tokens, nanos)
                for lease in [lease for lease in self._leases.values() if lease.expires <= now]:
                    await self._end(store, lease)
                for k in [k for k in self._seen if k not in self._leases]:
                    del self._seen[k]
                for k in [k for k in self._seen_totals if k not in self._leases]:
                    del self._seen_totals[k]
            except Exception:  # the sweeper outlives any one failure: it is what hands leases back
                logger.exception("lease sweep failed; trying again at the next")

    def give_back_all_sync(self) -> None:
        """At exit: hand back every unspent request (best effort; the process is going away)."""
        from keys.metering.quota import get_quota_store

        store, leases = get_quota_store(), list(self._leases.values())
        self._leases.clear()
        owed = self._owed.items()
        leases += [_Lease(info, day, count, 0, 0.0, tokens, nanos) for (_, day), (info, count, tokens, nanos) in owed]
        self._owed.clear()
        for lease in leases:
            if lease.left or lease.tokens or lease.nanos:
                try:
                    if lease.left:
                        store.give_back_sync(lease.info, lease.day, lease.left)
                    if lease.tokens or lease.nanos:
                        store.settle_sync(lease.info, lease.day, -lease.tokens, -lease.nanos)
                    spool.lease_changed(lease.info, lease.day, -lease.left, -lease.tokens, -lease.nanos)
                except Exception as exc:  # the process is ending: its spool hands it back later
                    self._exit_failed = True
                    logger.warning(
                        "could not hand back %d leased requests of key %s: %s", lease.left, lease.info.key_id, exc
                    )

    def spool_lines(self) -> list[str]:
        """The unspent part of every lease, and of every hand-back still owed, as spool lines."""
        lines = [
            lease_line(lease.info, lease.day, lease.left, lease.tokens, lease.nanos) for lease in self._leases.values()
        ]
        lines += [
            lease_line(info, day, count, tokens, nanos) for (_, day), (info, count, tokens, nanos) in self._owed.items()
        ]
        return lines

    def holds_anything(self) -> bool:
        held = any(lease.left or lease.tokens or lease.nanos for lease in self._leases.values())
        return held or bool(self._owed) or getattr(self, "_exit_failed", False)

    def discard(self) -> None:
        """Forget every lease without handing anything back (tests)."""
        self._leases.clear()
        self._seen.clear()
        self._taking.clear()
        self._owed.clear()
        self._seen_totals.clear()


quota_leases = Leases()
