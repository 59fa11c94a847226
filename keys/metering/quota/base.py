"""The contract every daily-quota store fulfils."""

import datetime

from keys.metering.types import Admission, KeyInfo


class BaseQuotaStore:
    """Counts requests per owner, plan and UTC day, and admits exactly up to the plan's limit.

    Counting per plan rather than per key means revoking or rotating a key never refills the day.
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

    # -- Tokens: counted after each answer, checked before the next -------------------------------

    def add_tokens_sync(self, owner_id: int, plan_id: int, day: datetime.date, tokens: int) -> int:
        """Add `tokens` to the day's recorded total for the owner and plan; return the new total.
        The database keeps the durable total; a store may keep a faster copy."""
        return tokens_add_in_database(owner_id, plan_id, day, tokens)

    def tokens_used_sync(self, owner_id: int, plan_id: int, day: datetime.date) -> int:
        return tokens_in_database(owner_id, plan_id, day)

    async def tokens_used(self, info: KeyInfo, day: datetime.date) -> int:
        """The day's recorded token total, read now: every process sees the same number."""
        from plumbing.dbthread import in_db_thread

        return await in_db_thread(self.tokens_used_sync, info.owner_id, info.plan_id, day)

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


def tokens_add_in_database(owner_id: int, plan_id: int, day: datetime.date, tokens: int) -> int:
    from django.db import connection

    from keys.models import QuotaCounter

    table = QuotaCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (owner_id, plan_id, day, used, tokens) VALUES (%s, %s, %s, 0, %s) "
            f"ON CONFLICT (owner_id, plan_id, day) DO UPDATE SET tokens = {table}.tokens + excluded.tokens "
            "RETURNING tokens",
            (owner_id, plan_id, day, tokens),
        )
        return cursor.fetchone()[0]


def tokens_in_database(owner_id: int, plan_id: int, day: datetime.date) -> int:
    from keys.models import QuotaCounter

    row = QuotaCounter.objects.filter(owner_id=owner_id, plan_id=plan_id, day=day).values_list("tokens", flat=True)
    return row.first() or 0
