"""The Redis counters' write-ahead in the database: every admission, in flight or answered, per owner and
plan, with the tokens and money reserved and settled.

Redis is fast but may lose its counters. Each process adds up what it admitted (and gave back) per
owner, plan and day, and adds that to the day's QuotaCounter row at least once a second. A counter
Redis lacks is seeded from it, so a Redis that comes back empty does not hand the day out again,
whichever plan the keys are in now. What is admitted in the last second before Redis is lost is the
only window; a process that cannot reach the database keeps its deltas and tries again.
"""

import asyncio
import datetime
import logging
from collections import defaultdict

from django.db import connection, transaction

from keys.models import QuotaCounter
from plumbing.dbthread import in_db_thread

logger = logging.getLogger(__name__)
FLUSH_SECONDS = 1.0
_TABLE = QuotaCounter._meta.db_table
_ADD_SQL = f"""
INSERT INTO {_TABLE} (owner_id, plan_id, day, used, tokens, spent_nanos) VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (owner_id, plan_id, day) DO UPDATE SET
  used = CASE WHEN {_TABLE}.used + excluded.used > 0 THEN {_TABLE}.used + excluded.used ELSE 0 END,
  tokens = CASE WHEN {_TABLE}.tokens + excluded.tokens > 0 THEN {_TABLE}.tokens + excluded.tokens ELSE 0 END,
  spent_nanos = CASE WHEN {_TABLE}.spent_nanos + excluded.spent_nanos > 0
                THEN {_TABLE}.spent_nanos + excluded.spent_nanos ELSE 0 END
"""

# (owner id, plan id, period) -> [requests, tokens, nanos]
Deltas = dict[tuple[int, int, datetime.date], list[int]]


class AdmissionJournal:
    def __init__(self) -> None:
        self._deltas: Deltas = defaultdict(lambda: [0, 0, 0])
        self._task: asyncio.Task | None = None

    def add(self, owner_id: int, plan_id: int, day: datetime.date, count: int, tokens: int = 0, nanos: int = 0) -> None:
        if count or tokens or nanos:
            delta = self._deltas[(owner_id, plan_id, day)]
            delta[0] += count
            delta[1] += tokens
            delta[2] += nanos
            self._flush_soon()

    def _flush_soon(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # outside the event loop (revocation, exit): written by the next flush
            return
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(FLUSH_SECONDS)
        await in_db_thread(self.flush_sync)
        if self._deltas:
            self._flush_soon()  # the database was away: try again

    def flush_sync(self) -> None:
        deltas, self._deltas = self._deltas, defaultdict(lambda: [0, 0, 0])
        for (owner_id, plan_id, day), (count, tokens, nanos) in deltas.items():
            if not (count or tokens or nanos):
                continue
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(_ADD_SQL, (owner_id, plan_id, day, count, tokens, nanos))
            except Exception as exc:
                self.add(owner_id, plan_id, day, count, tokens, nanos)
                logger.warning("could not write the admissions of owner %s yet: %s", owner_id, exc)

    def discard(self) -> None:
        self._deltas.clear()


def journal_used(owner_id: int, plan_id: int, day: datetime.date) -> int:
    """The period's admissions the journal holds for the owner and plan (database thread)."""
    row = QuotaCounter.objects.filter(owner_id=owner_id, plan_id=plan_id, day=day).values_list("used", flat=True)
    return row.first() or 0


def journal_totals(owner_id: int, plan_id: int, day: datetime.date) -> tuple[int, int]:
    """The period's tokens and nanos the journal holds for the owner and plan (database thread)."""
    rows = QuotaCounter.objects.filter(owner_id=owner_id, plan_id=plan_id, day=day)
    row = rows.values_list("tokens", "spent_nanos").first()
    return (row[0], row[1]) if row else (0, 0)
