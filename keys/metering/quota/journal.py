"""The Redis counters' write-ahead in the database: every admission, in flight or answered, per owner and plan.

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
INSERT INTO {_TABLE} (owner_id, plan_id, day, used, tokens) VALUES (%s, %s, %s, %s, 0)
ON CONFLICT (owner_id, plan_id, day) DO UPDATE SET
  used = CASE WHEN {_TABLE}.used + excluded.used > 0 THEN {_TABLE}.used + excluded.used ELSE 0 END
"""

Deltas = dict[tuple[int, int, datetime.date], int]


class AdmissionJournal:
    def __init__(self) -> None:
        self._deltas: Deltas = defaultdict(int)
        self._task: asyncio.Task | None = None

    def add(self, owner_id: int, plan_id: int, day: datetime.date, count: int) -> None:
        if count:
            self._deltas[(owner_id, plan_id, day)] += count
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
        deltas, self._deltas = self._deltas, defaultdict(int)
        for (owner_id, plan_id, day), count in deltas.items():
            if not count:
                continue
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(_ADD_SQL, (owner_id, plan_id, day, count))
            except Exception as exc:
                self._deltas[(owner_id, plan_id, day)] += count
                logger.warning("could not write the admissions of owner %s yet: %s", owner_id, exc)

    def discard(self) -> None:
        self._deltas.clear()


def journal_used(owner_id: int, plan_id: int, day: datetime.date) -> int:
    """The day's admissions the journal holds for the owner and plan (database thread)."""
    row = QuotaCounter.objects.filter(owner_id=owner_id, plan_id=plan_id, day=day).values_list("used", flat=True)
    return row.first() or 0
