"""Per-key usage statistics (requests, tokens, last used), written in batches off the hot path."""

import asyncio
import atexit
import datetime
import logging
import time
from collections import defaultdict

from django.db import connection, transaction

from keys.metering.dbthread import in_db_thread
from keys.models import ApiKey, DailyUsage

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
_UPSERT_SQL = f"""
INSERT INTO {DailyUsage._meta.db_table} (key_id, day, requests, prompt_tokens, completion_tokens)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (key_id, day) DO UPDATE SET
  requests = {DailyUsage._meta.db_table}.requests + excluded.requests,
  prompt_tokens = {DailyUsage._meta.db_table}.prompt_tokens + excluded.prompt_tokens,
  completion_tokens = {DailyUsage._meta.db_table}.completion_tokens + excluded.completion_tokens
"""


class UsageRecorder:
    """Adds up usage in memory and writes it at most once a second.

    The quota itself is never here: it is counted before the request is admitted.
    """

    def __init__(self) -> None:
        self._pending: dict[tuple[int, datetime.date], list[int]] = defaultdict(lambda: [0, 0, 0])
        self._last_used: dict[int, float] = {}  # Unix times: a float is cheaper than a datetime per request
        self._task: asyncio.Task | None = None
        atexit.register(self.flush_sync)

    def record(self, *, key_id: int, day: datetime.date, prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        totals = self._pending[(key_id, day)]
        totals[0] += 1
        totals[1] += prompt_tokens
        totals[2] += completion_tokens
        self._last_used[key_id] = time.time()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(FLUSH_SECONDS)
        await self.flush()

    def discard(self) -> None:
        self._pending.clear()
        self._last_used.clear()

    async def flush(self) -> None:
        await in_db_thread(self.flush_sync)

    def flush_sync(self) -> None:
        pending, self._pending = self._pending, defaultdict(lambda: [0, 0, 0])
        last_used, self._last_used = self._last_used, {}
        if not pending and not last_used:
            return
        failed = 0
        for (key_id, day), (requests, prompt, completion) in pending.items():
            # One savepoint per key: a key deleted meanwhile must not lose everyone else's numbers.
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(_UPSERT_SQL, (key_id, day, requests, prompt, completion))
                    if key_id in last_used:
                        when = datetime.datetime.fromtimestamp(last_used[key_id], datetime.UTC)
                        ApiKey.objects.filter(pk=key_id).update(last_used_at=when)
            except Exception:
                failed += 1
        if failed:
            logger.warning("could not write usage statistics for %d of %d keys", failed, len(pending))


usage_recorder = UsageRecorder()
