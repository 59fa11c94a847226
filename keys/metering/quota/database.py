"""Quotas in the database: one atomic conditional increment of a row per owner, plan and period."""

import dataclasses
import datetime

from django.db import connection

from keys.metering.quota.base import BaseQuotaStore
from keys.metering.types import Admission, KeyInfo, Reservation
from keys.models import ApiKey, Plan, QuotaCounter
from plumbing.dbthread import group_commit, in_db_thread

_TABLE = QuotaCounter._meta.db_table
_CONSUME_SQL = f"""
UPDATE {_TABLE} SET used = used + 1
WHERE owner_id = %s AND plan_id = %s AND day = %s
  AND used < (SELECT requests_per_day FROM {Plan._meta.db_table} WHERE id = %s)
  AND EXISTS (SELECT 1 FROM {ApiKey._meta.db_table} WHERE id = %s AND revoked_at IS NULL AND plan_id = %s)
RETURNING used
"""
_ENSURE_SQL = f"""
INSERT INTO {_TABLE} (owner_id, plan_id, day, used) VALUES (%s, %s, %s, 0)
ON CONFLICT (owner_id, plan_id, day) DO NOTHING
"""
_LOCK_SQL = f"SELECT used FROM {_TABLE} WHERE owner_id = %s AND plan_id = %s AND day = %s FOR UPDATE"
CARRY_SQL = f"""
INSERT INTO {_TABLE} (owner_id, plan_id, day, used, tokens, spent_nanos)
SELECT owner_id, %s, %s, used, tokens, spent_nanos FROM {_TABLE} WHERE owner_id = %s AND plan_id = %s AND day = %s
ON CONFLICT (owner_id, plan_id, day) DO UPDATE SET
  used = CASE WHEN excluded.used > {_TABLE}.used THEN excluded.used ELSE {_TABLE}.used END,
  tokens = CASE WHEN excluded.tokens > {_TABLE}.tokens THEN excluded.tokens ELSE {_TABLE}.tokens END,
  spent_nanos = CASE WHEN excluded.spent_nanos > {_TABLE}.spent_nanos THEN excluded.spent_nanos
                ELSE {_TABLE}.spent_nanos END
"""
# The three limits in one statement: a negative token limit or budget means none.
_RESERVE_SQL = f"""
UPDATE {_TABLE} SET used = used + %s, tokens = tokens + %s, spent_nanos = spent_nanos + %s
WHERE owner_id = %s AND plan_id = %s AND day = %s
  AND used + %s <= (SELECT requests_per_day FROM {Plan._meta.db_table} WHERE id = %s)
  AND (%s < 0 OR tokens + %s <= %s)
  AND (%s < 0 OR spent_nanos + %s <= %s)
  AND EXISTS (SELECT 1 FROM {ApiKey._meta.db_table} WHERE id = %s AND revoked_at IS NULL AND plan_id = %s)
RETURNING used, tokens, spent_nanos
"""
_SETTLE_SQL = f"""
UPDATE {_TABLE} SET
  tokens = CASE WHEN tokens + %s > 0 THEN tokens + %s ELSE 0 END,
  spent_nanos = CASE WHEN spent_nanos + %s > 0 THEN spent_nanos + %s ELSE 0 END
WHERE owner_id = %s AND plan_id = %s AND day = %s
RETURNING tokens, spent_nanos
"""
_UNRESERVE_SQL = f"""
UPDATE {_TABLE} SET
  used = CASE WHEN used > 0 THEN used - 1 ELSE 0 END,
  tokens = CASE WHEN tokens > %s THEN tokens - %s ELSE 0 END,
  spent_nanos = CASE WHEN spent_nanos > %s THEN spent_nanos - %s ELSE 0 END
WHERE owner_id = %s AND plan_id = %s AND day = %s
"""
_REFUND_SQL = f"UPDATE {_TABLE} SET used = used - 1 WHERE owner_id = %s AND plan_id = %s AND day = %s AND used > 0"
_GIVE_BACK_SQL = f"""
UPDATE {_TABLE} SET used = CASE WHEN used > %s THEN used - %s ELSE 0 END
WHERE owner_id = %s AND plan_id = %s AND day = %s
"""
_TAKE_SQL = f"""
UPDATE {_TABLE} SET used = used + %s
WHERE owner_id = %s AND plan_id = %s AND day = %s
  AND used + %s <= (SELECT requests_per_day FROM {Plan._meta.db_table} WHERE id = %s)
  AND EXISTS (SELECT 1 FROM {ApiKey._meta.db_table} WHERE id = %s AND revoked_at IS NULL AND plan_id = %s)
RETURNING used
"""


class DatabaseQuota(BaseQuotaStore):
    """The counter is a row; PostgreSQL's row lock or SQLite's write lock makes the increment exact.

    The statement reads the plan's limit, the key's revocation and the key's plan live, so all apply at once.
    """

    def consume_sync(self, info: KeyInfo, day: datetime.date) -> Admission:
        args = (info.holder_id, info.plan_id, day, info.plan_id, info.key_id, info.plan_id)
        with connection.cursor() as cursor:
            cursor.execute(_CONSUME_SQL, args)
            row = cursor.fetchone()
            if row is None:  # the day's row may not exist yet: make it, then try once more
                cursor.execute(_ENSURE_SQL, (info.holder_id, info.plan_id, day))
                cursor.execute(_CONSUME_SQL, args)
                row = cursor.fetchone()
        if row is not None:
            return Admission(admitted=True, used=row[0], limit=info.limit)
        # Refused: read the live state to say why.
        key = ApiKey.objects.filter(pk=info.key_id).values("revoked_at", "plan_id").first()
        revoked = key is None or key["revoked_at"] is not None
        moved = not revoked and key["plan_id"] != info.plan_id
        limit = Plan.objects.filter(pk=info.plan_id).values_list("requests_per_day", flat=True).first() or 0
        used = self.used_sync(info.holder_id, info.plan_id, day)
        return Admission(admitted=False, used=used, limit=limit, revoked=revoked, moved=moved)

    def refund_sync(self, info: KeyInfo, day: datetime.date) -> None:
        with connection.cursor() as cursor:
            cursor.execute(_REFUND_SQL, (info.holder_id, info.plan_id, day))

    def carry_over_sync(
        self,
        owner_id: int,
        from_plan_id: int,
        to_plan_id: int,
        from_day: datetime.date,
        to_day: datetime.date,
        key_id: int | None = None,
    ) -> None:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":  # wait for increments of the old count in flight
                cursor.execute(_LOCK_SQL, (owner_id, from_plan_id, from_day))
            cursor.execute(CARRY_SQL, (to_plan_id, to_day, owner_id, from_plan_id, from_day))

    def reserve_sync(self, info: KeyInfo, day: datetime.date, reservation: Reservation, requests: int = 1) -> Admission:
        token_limit = -1 if info.token_limit is None else info.token_limit
        budget = -1 if info.budget_nanos is None else info.budget_nanos
        tokens, nanos = reservation.tokens, reservation.nanos
        args = (
            requests, tokens, nanos, info.holder_id, info.plan_id, day, requests, info.plan_id,
            token_limit, tokens, token_limit, budget, nanos, budget, info.key_id, info.plan_id,
        )  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(_RESERVE_SQL, args)
            row = cursor.fetchone()
            if row is None:
                cursor.execute(_ENSURE_SQL, (info.holder_id, info.plan_id, day))
                cursor.execute(_RESERVE_SQL, args)
                row = cursor.fetchone()
        if row is not None:
            return self._counts(info, True, *row)
        key = ApiKey.objects.filter(pk=info.key_id).values("revoked_at", "plan_id").first()
        revoked = key is None or key["revoked_at"] is not None
        moved = not revoked and key["plan_id"] != info.plan_id
        limit = Plan.objects.filter(pk=info.plan_id).values_list("requests_per_day", flat=True).first() or 0
        counter = QuotaCounter.objects.filter(owner_id=info.holder_id, plan_id=info.plan_id, day=day)
        used, used_tokens, spent = counter.values_list("used", "tokens", "spent_nanos").first() or (0, 0, 0)
        admission = self._counts(info, False, used, used_tokens, spent, limit=limit)
        short = ""
        if used + requests > limit:
            pass
        elif info.token_limit is not None and used_tokens + tokens > info.token_limit:
            short = "tokens"
        elif info.budget_nanos is not None and spent + nanos > info.budget_nanos:
            short = "budget"
        return dataclasses.replace(admission, revoked=revoked, moved=moved, short=short)

    @staticmethod
    def _counts(
        info: KeyInfo, admitted: bool, used: int, tokens: int, spent: int, limit: int | None = None
    ) -> Admission:
        return Admission(
            admitted=admitted,
            used=used,
            limit=info.limit if limit is None else limit,
            tokens_used=tokens if info.token_limit is not None else None,
            token_limit=info.token_limit,
            spent_nanos=spent if info.budget_nanos is not None else None,
            budget_nanos=info.budget_nanos,
        )

    def settle_sync(self, info: KeyInfo, day: datetime.date, tokens: int, nanos: int) -> tuple[int, int]:
        with connection.cursor() as cursor:
            cursor.execute(_SETTLE_SQL, (tokens, tokens, nanos, nanos, info.holder_id, info.plan_id, day))
            row = cursor.fetchone()
        return (row[0], row[1]) if row else (0, 0)

    def unreserve_sync(self, info: KeyInfo, day: datetime.date, reservation: Reservation) -> None:
        tokens, nanos = reservation.tokens, reservation.nanos
        with connection.cursor() as cursor:
            cursor.execute(_UNRESERVE_SQL, (tokens, tokens, nanos, nanos, info.holder_id, info.plan_id, day))

    async def reserve(
        self, info: KeyInfo, day: datetime.date, reservation: Reservation, requests: int = 1
    ) -> Admission:
        return await group_commit.run(self.reserve_sync, info, day, reservation, requests)

    async def settle(self, info: KeyInfo, day: datetime.date, tokens: int, nanos: int) -> tuple[int, int]:
        return await group_commit.run(self.settle_sync, info, day, tokens, nanos)

    async def unreserve(self, info: KeyInfo, day: datetime.date, reservation: Reservation) -> None:
        await group_commit.run(self.unreserve_sync, info, day, reservation)

    def take_sync(self, info: KeyInfo, day: datetime.date, wanted: int) -> tuple[int, Admission]:
        # All of the block or, near the limit, one request at a time: the statement stays one exact step.
        args = (wanted, info.holder_id, info.plan_id, day, wanted, info.plan_id, info.key_id, info.plan_id)
        with connection.cursor() as cursor:
            cursor.execute(_ENSURE_SQL, (info.holder_id, info.plan_id, day))
            cursor.execute(_TAKE_SQL, args)
            row = cursor.fetchone()
        if row is not None:
            return wanted, Admission(admitted=True, used=row[0] - wanted + 1, limit=info.limit)
        admission = self.consume_sync(info, day)
        return (1 if admission.admitted else 0), admission

    def give_back_sync(self, info: KeyInfo, day: datetime.date, count: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(_GIVE_BACK_SQL, (count, count, info.holder_id, info.plan_id, day))

    async def take(self, info: KeyInfo, day: datetime.date, wanted: int) -> tuple[int, Admission]:
        return await group_commit.run(self.take_sync, info, day, wanted)

    async def give_back(self, info: KeyInfo, day: datetime.date, count: int) -> None:
        await group_commit.run(self.give_back_sync, info, day, count)

    def used_sync(self, owner_id: int, plan_id: int, day: datetime.date) -> int:
        row = QuotaCounter.objects.filter(owner_id=owner_id, plan_id=plan_id, day=day).values_list("used", flat=True)
        return row.first() or 0

    async def consume(self, info: KeyInfo, day: datetime.date) -> Admission:
        return await group_commit.run(self.consume_sync, info, day)

    async def used(self, info: KeyInfo, day: datetime.date) -> int:
        return await in_db_thread(self.used_sync, info.holder_id, info.plan_id, day)

    async def refund(self, info: KeyInfo, day: datetime.date) -> None:
        await group_commit.run(self.refund_sync, info, day)
