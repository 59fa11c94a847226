"""The contract every quota store fulfils."""

import datetime

from keys.metering.types import Admission, KeyInfo, Reservation


class BaseQuotaStore:
    """Counts requests, tokens and money per owner, plan and period, and admits exactly up to the plan's limits.

    `day` is always the period's first day (keys.periods). Counting per plan rather than per key means
    revoking or rotating a key never refills the period.
    """

    # -- Must be implemented by subclasses ------------------------------------------------------

    async def consume(self, info: KeyInfo, day: datetime.date) -> Admission:
        """Count one request if the day's count is under the plan's live limit and the key is not revoked.

        Atomic across every process sharing the store: N concurrent calls against a limit L admit
        exactly min(N, L). A refusal says whether the key was revoked, or moved to another plan than
        `info` says, with the live limit.
        """
        raise NotImplementedError("subclasses of BaseQuotaStore must provide a consume() method")

    async def refund(self, info: KeyInfo, day: datetime.date) -> None:
        """Give back one request counted by consume(); never takes the count below zero."""
        raise NotImplementedError("subclasses of BaseQuotaStore must provide a refund() method")

    async def used(self, info: KeyInfo, day: datetime.date) -> int:
        """The day's count, without counting one more."""
        raise NotImplementedError("subclasses of BaseQuotaStore must provide a used() method")

    def used_sync(self, owner_id: int, plan_id: int, day: datetime.date) -> int:
        """used(), for pages and the admin, which run outside the event loop."""
        raise NotImplementedError("subclasses of BaseQuotaStore must provide a used_sync() method")

    async def take(self, info: KeyInfo, day: datetime.date, wanted: int) -> tuple[int, Admission]:
        """Count up to `wanted` requests at once (a lease), never past the plan's live limit, none for a
        revoked key. Returns how many were granted, and the admission of the first of them."""
        raise NotImplementedError("subclasses of BaseQuotaStore must provide a take() method")

    async def give_back(self, info: KeyInfo, day: datetime.date, count: int) -> None:
        """Return `count` requests taken but not spent; never takes the count below zero."""
        raise NotImplementedError("subclasses of BaseQuotaStore must provide a give_back() method")

    def give_back_sync(self, info: KeyInfo, day: datetime.date, count: int) -> None:
        """give_back(), outside the event loop (revocation, process exit)."""
        raise NotImplementedError("subclasses of BaseQuotaStore must provide a give_back_sync() method")

    def carry_over_sync(
        self, owner_id: int, from_plan_id: int, to_plan_id: int, day: datetime.date, key_id: int | None = None
    ) -> None:
        """Raise the day's count in `to_plan_id` to at least the count in `from_plan_id`, atomically,
        so that moving a key between plans never refills the day. Never lowers a count.

        Called after the key `key_id` was saved in its new plan: from then on consume() and take()
        for that key under `from_plan_id` refuse with `moved`, in every process."""
        raise NotImplementedError("subclasses of BaseQuotaStore must provide a carry_over_sync() method")

    # -- Reserve and settle: plans with a token limit or a budget ---------------------------------

    async def reserve(
        self, info: KeyInfo, day: datetime.date, reservation: Reservation, requests: int = 1
    ) -> Admission:
        """Count `requests` (one; or none, to top up a call's reservation) and hold `reservation`'s tokens
        and nanos, if all fit under the plan's limits (the key's `info` carries the token limit and
        budget; the request limit is read live).

        Atomic across every process sharing the store: no limit is ever passed, however many reserve
        at once. A refusal says which limit did not fit (`short`), or that the key was revoked or moved,
        and carries the counts.
        """
        raise NotImplementedError("subclasses of BaseQuotaStore must provide a reserve() method")

    async def settle(self, info: KeyInfo, day: datetime.date, tokens: int, nanos: int) -> tuple[int, int]:
        """Add `tokens` and `nanos` (negative: give back what a reservation held but did not cost);
        never below zero. Returns the period's token and nano totals after it."""
        raise NotImplementedError("subclasses of BaseQuotaStore must provide a settle() method")

    def settle_sync(self, info: KeyInfo, day: datetime.date, tokens: int, nanos: int) -> tuple[int, int]:
        """settle(), outside the event loop (revocation, process exit)."""
        raise NotImplementedError("subclasses of BaseQuotaStore must provide a settle_sync() method")

    async def unreserve(self, info: KeyInfo, day: datetime.date, reservation: Reservation) -> None:
        """Give back the request and everything `reservation` held: the call was not answered."""
        raise NotImplementedError("subclasses of BaseQuotaStore must provide an unreserve() method")

    # -- Tokens and money of plans that do not reserve: counted after each answer ----------------

    def add_usage_sync(
        self, owner_id: int, plan_id: int, day: datetime.date, tokens: int, nanos: int
    ) -> tuple[int, int]:
        """Add answered tokens and nanos to the period's totals for the owner and plan; return the new
        totals. The database keeps the durable totals; a store may keep a faster copy."""
        return usage_add_in_database(owner_id, plan_id, day, tokens, nanos)

    def totals_sync(self, owner_id: int, plan_id: int, day: datetime.date) -> tuple[int, int]:
        """The period's token and nano totals (reservations in flight included)."""
        return totals_in_database(owner_id, plan_id, day)

    async def totals(self, info: KeyInfo, day: datetime.date) -> tuple[int, int]:
        """totals_sync(), read now: every process sees the same numbers."""
        from plumbing.dbthread import in_db_thread

        return await in_db_thread(self.totals_sync, info.holder_id, info.plan_id, day)

    # -- May be overridden ------------------------------------------------------------------------

    def pending_flush_sync(self) -> None:
        """Write what this process holds for the store but has not written yet (at exit)."""
        return None

    def pending_discard(self) -> None:
        """Forget what this process holds unwritten (tests)."""
        return None

    def revoke_sync(self, key_id: int) -> None:
        """Learn that a key was revoked, so consume() refuses it at once. A store that reads
        revocation from the database itself need do nothing."""
        return None


def usage_add_in_database(owner_id: int, plan_id: int, day: datetime.date, tokens: int, nanos: int) -> tuple[int, int]:
    from django.db import connection

    from keys.models import QuotaCounter

    table = QuotaCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (owner_id, plan_id, day, used, tokens, spent_nanos) VALUES (%s, %s, %s, 0, %s, %s) "
            f"ON CONFLICT (owner_id, plan_id, day) DO UPDATE SET tokens = {table}.tokens + excluded.tokens, "
            f"spent_nanos = {table}.spent_nanos + excluded.spent_nanos "
            "RETURNING tokens, spent_nanos",
            (owner_id, plan_id, day, tokens, nanos),
        )
        tokens_total, nanos_total = cursor.fetchone()
        return tokens_total, nanos_total


def totals_in_database(owner_id: int, plan_id: int, day: datetime.date) -> tuple[int, int]:
    from keys.models import QuotaCounter

    rows = QuotaCounter.objects.filter(owner_id=owner_id, plan_id=plan_id, day=day)
    row = rows.values_list("tokens", "spent_nanos").first()
    return (row[0], row[1]) if row else (0, 0)
