"""Usage statistics (requests, tokens, cost and refusals per key, UTC day and model; last used), written
in batches off the hot path, at most a second after the request."""

import asyncio
import datetime
import logging
import time
from collections import defaultdict
from collections.abc import Callable

from django.db import connection, transaction

from keys.metering.spool import refusal_line, spool, spool_mark, usage_line
from keys.models import ApiKey, DailyUsage, Refusal
from plumbing.dbthread import in_db_thread
from plumbing.outages import is_outage

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
_USAGE = DailyUsage._meta.db_table
_KEYS = ApiKey._meta.db_table
# Only for a key that exists: a batch is one transaction, and a row for a key deleted meanwhile would
# fail its (deferred) foreign key at commit, and with it everyone's rows.
_UPSERT_SQL = f"""
INSERT INTO {_USAGE} (key_id, day, model, requests, prompt_tokens, completion_tokens, cost_nanos)
SELECT %s, %s, %s, %s, %s, %s, %s WHERE EXISTS (SELECT 1 FROM {_KEYS} WHERE id = %s)
ON CONFLICT (key_id, day, model) DO UPDATE SET
  requests = {_USAGE}.requests + excluded.requests,
  prompt_tokens = {_USAGE}.prompt_tokens + excluded.prompt_tokens,
  completion_tokens = {_USAGE}.completion_tokens + excluded.completion_tokens,
  cost_nanos = {_USAGE}.cost_nanos + excluded.cost_nanos
"""
_REFUSAL = Refusal._meta.db_table
_REFUSAL_SQL = f"""
INSERT INTO {_REFUSAL} (key_id, day, reason, count)
SELECT %s, %s, %s, %s WHERE EXISTS (SELECT 1 FROM {_KEYS} WHERE id = %s)
ON CONFLICT (key_id, day, reason) DO UPDATE SET count = {_REFUSAL}.count + excluded.count
"""

# (key id, day, model) -> [requests, prompt tokens, completion tokens, nanos]
Totals = dict[tuple[int, datetime.date, str], list[int]]
# (owner id, plan id, key id, period) -> [tokens, nanos], for the period's totals and the alerts
TokenTotals = dict[tuple[int, int, int, datetime.date], list[int]]


class UsageRecorder:
    """Adds up usage in memory and writes it at most once a second.

    The request quota itself is never here: it is counted before the request is admitted. The tokens
    and money of plans that do not reserve are handed to `on_tokens` (the quota store, then the
    alerts) as they are written.
    """

    def __init__(self) -> None:
        self._pending: Totals = defaultdict(lambda: [0, 0, 0, 0])
        self._tokens: TokenTotals = defaultdict(lambda: [0, 0])
        self._refused: dict[tuple[int, datetime.date, str], int] = defaultdict(int)
        self._last_used: dict[int, float] = {}  # Unix times: a float is cheaper than a datetime per request
        self._task: asyncio.Task | None = None
        self.on_tokens: Callable[[TokenTotals], None] | None = None

    def record(
        self,
        *,
        key_id: int,
        day: datetime.date,
        model: str = "",
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        nanos: int = 0,
        owner_id: int = 0,
        plan_id: int = 0,
        period: datetime.date | None = None,
        call: int = 0,
    ) -> None:
        """`period`: the plan's period, to add tokens and nanos to its totals; None when the call's
        reservation counted them already. `call`: the spool's id of the call (call_began)."""
        spool.usage(key_id, day, model, prompt_tokens, completion_tokens, nanos, call)
        totals = self._pending[(key_id, day, model)]
        totals[0] += 1
        totals[1] += prompt_tokens
        totals[2] += completion_tokens
        totals[3] += nanos
        if period is not None and (prompt_tokens or completion_tokens or nanos):
            period_totals = self._tokens[(owner_id, plan_id, key_id, period)]
            period_totals[0] += prompt_tokens + completion_tokens
            period_totals[1] += nanos
        self._last_used[key_id] = time.time()
        self._flush_soon()

    def refused(self, *, key_id: int, day: datetime.date, reason: str) -> None:
        spool.refusal(key_id, day, reason)
        self._refused[(key_id, day, reason)] += 1
        self._flush_soon()

    def _flush_soon(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._flush_later())
            spool.watch()

    async def _flush_later(self) -> None:
        await asyncio.sleep(FLUSH_SECONDS)
        await self.flush()

    def spool_lines(self) -> list[str]:
        """What is held now, as spool lines (for a rotated spool)."""
        return [
            *(usage_line(key, day, model, *totals) for (key, day, model), totals in self._pending.items()),
            *(refusal_line(key, day, reason, count) for (key, day, reason), count in self._refused.items()),
        ]

    def holds_anything(self) -> bool:
        return bool(self._pending or self._refused)

    def discard(self) -> None:
        self._pending.clear()
        self._tokens.clear()
        self._refused.clear()
        self._last_used.clear()

    def _take(self) -> tuple:
        """What is held now, and the spool's offset every line of it ends before (same thread as record())."""
        offset = spool.offset()
        taken = (self._pending, self._tokens, self._refused, self._last_used, offset)
        self._pending, self._tokens = defaultdict(lambda: [0, 0, 0, 0]), defaultdict(lambda: [0, 0])
        self._refused, self._last_used = defaultdict(int), {}
        return taken

    async def flush(self) -> None:
        await in_db_thread(self._write, self._take())
        from keys.metering.leases import quota_leases

        spool.rotate_if_long(quota_leases, self)
        if self._pending or self._refused:
            self._flush_soon()  # what the database could not take yet is tried again in a second

    def flush_sync(self) -> None:
        self._write(self._take())

    def _write(self, taken: tuple) -> None:
        pending, tokens, refused, last_used, offset = taken
        if pending or refused or tokens:
            self._write_rows(pending, tokens, refused, last_used, offset)

    def _write_rows(self, pending: Totals, tokens: TokenTotals, refused: dict, last_used: dict, offset: int) -> None:
        try:
            # One transaction with the spool's mark: a process killed after it loses nothing, and a
            # replay never adds these lines twice.
            with transaction.atomic():
                failed = usage_rows_write(pending, last_used) + refusals_write(refused)
                spool_mark(offset)
        except Exception as exc:
            self._keep(pending, tokens, refused)  # tried again at the next flush (the database will be back)
            if is_outage(exc):
                logger.warning("could not write usage statistics yet: %s", exc)
            else:
                logger.exception("could not write usage statistics; trying again at the next flush")
            return
        if tokens and self.on_tokens is not None:
            try:
                self.on_tokens(tokens)
            except Exception:
                logger.exception("could not count tokens against their quota")
        if failed:
            logger.warning("could not write %d usage statistics rows", failed)

    def _keep(self, pending: Totals, tokens: TokenTotals, refused: dict) -> None:
        for key, totals in pending.items():
            kept = self._pending[key]
            kept[:] = [a + b for a, b in zip(kept, totals, strict=True)]
        for key, totals in tokens.items():
            kept = self._tokens[key]
            kept[:] = [a + b for a, b in zip(kept, totals, strict=True)]
        for key, count in refused.items():
            self._refused[key] += count


def usage_rows_write(pending: Totals, last_used: dict[int, float] | None = None) -> int:
    """Add `pending` to the statistics, in the caller's transaction; how many rows failed. An outage
    raises (the caller keeps everything for later); a row that cannot be written (its key was deleted
    meanwhile) is dropped alone, in a savepoint of its own."""
    last_used, failed = last_used or {}, 0
    for (key_id, day, model), totals in pending.items():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(_UPSERT_SQL, (key_id, day, model, *totals, key_id))
                if key_id in last_used:
                    when = datetime.datetime.fromtimestamp(last_used.pop(key_id), datetime.UTC)
                    ApiKey.objects.filter(pk=key_id).update(last_used_at=when)
        except Exception as exc:
            if is_outage(exc):
                raise
            failed += 1
    return failed


def refusals_write(refused: dict) -> int:
    """Add the refusal counts, as usage_rows_write does its rows."""
    failed = 0
    for (key_id, day, reason), count in refused.items():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(_REFUSAL_SQL, (key_id, day, reason, count, key_id))
        except Exception as exc:
            if is_outage(exc):
                raise
            failed += 1
    return failed


usage_recorder = UsageRecorder()
