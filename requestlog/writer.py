"""The per-process buffer of rows: appended to on the hot path, written in batches once a second.

A slow or failing log database never slows or fails a call: the buffer is bounded (the oldest rows
go first), and what could not be written is counted and logged once, not once per row.
"""

import asyncio
import datetime
import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from django.db import connection

from plumbing.outages import is_outage
from plumbing.tasks import run_in_background

logger = logging.getLogger(__name__)
_writer_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tollgate-requestlog")
FLUSH_SECONDS = 0.25  # small batches: SQLite has one writer, and a long batch holds the quota counters back
MAX_ROWS = 100_000
PRUNE_CHECK_SECONDS = 3600.0
_ZERO = Decimal(0)
_rows: deque[tuple] = deque()
_task: asyncio.Task | None = None
_counts = {"written": 0, "dropped": 0}
_failing = False  # logged when a failure starts, not again until a batch gets through
_prune_checked = 0.0


def request_log_note(
    *,
    request_id: str,
    user_id: int | None,
    key_prefix: str,
    endpoint: str,
    model: str,
    upstream: str,
    status: int,
    refusal: str,
    stream: bool,
    latency_ms: int,
    ttfb_ms: int | None,
    prompt_tokens: int,
    completion_tokens: int,
    cost: Decimal | None,
    client_ip: str | None,
    team_id: int | None = None,
    started: float | None = None,
) -> None:
    """Note one call for the log (no text of it: there is nowhere to put any). Only appends.

    `started` is the call's Unix time; without it, now less the latency.
    """
    if len(_rows) >= MAX_ROWS:
        _rows.popleft()
        _counts["dropped"] += 1
    _rows.append(
        (
            started if started is not None else time.time() - latency_ms / 1000,
            request_id,
            user_id,
            team_id,
            key_prefix,
            endpoint,
            model,
            upstream,
            status,
            refusal,
            stream,
            latency_ms,
            ttfb_ms,
            prompt_tokens,
            completion_tokens,
            cost,
            client_ip,
        )
    )
    _flush_soon()


def _flush_soon() -> None:
    global _task
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no event loop in this thread: the next async caller, or the exit, writes them
        return
    # A task of a loop that has since closed never finishes: start one on this loop.
    if _task is not None and not _task.done() and _task.get_loop() is loop:
        return
    _task = run_in_background(_flush_later())


async def _flush_later() -> None:
    await asyncio.sleep(FLUSH_SECONDS)
    # A thread (and connection) of its own: a batch of rows never queues the gateway's quota work behind it.
    await asyncio.get_running_loop().run_in_executor(_writer_thread, _flush_closing_on_error)
    await _prune_if_due()
    if _rows:
        _flush_soon()


def _flush_closing_on_error() -> int:
    try:
        return request_log_flush()
    finally:
        if _failing:
            connection.close()  # start afresh next time: the database may have restarted


def request_log_flush() -> int:
    """Write every row held now; the number written. Runs on the database thread (and at exit)."""
    global _failing
    if not _rows:
        return 0
    batch = [_rows.popleft() for _ in range(len(_rows))]
    from requestlog.storage import rows_write

    try:
        rows_write([_stored(row) for row in batch])
    except Exception as exc:
        if is_outage(exc):  # the database will be back: keep the rows, within the bound
            room = MAX_ROWS - len(_rows)
            _rows.extendleft(reversed(batch[-room:] if room > 0 else []))
            _counts["dropped"] += max(len(batch) - max(room, 0), 0)
        else:
            _counts["dropped"] += len(batch)
        if not _failing:
            _failing = True
            logger.warning("request log: could not write %d rows (%s); counting further losses", len(batch), exc)
        return 0
    if _failing:
        _failing = False
        logger.warning("request log: writing again")
    _counts["written"] += len(batch)
    return len(batch)


def _stored(row: tuple) -> tuple:
    """A noted tuple as the table takes it: an aware time, bounded strings, no address if so set."""
    from requestlog.app_settings import app_settings

    started, request_id, user_id, team_id, prefix, endpoint, model, upstream, *rest = row
    status, refusal, stream, latency, ttfb, prompt, completion, cost, ip = rest
    return (
        datetime.datetime.fromtimestamp(started, datetime.UTC),
        request_id[:64],
        user_id,
        team_id,
        prefix[:32],
        endpoint[:64],
        model[:200],
        upstream[:100],
        status,
        refusal[:32],
        bool(stream),
        int(latency),
        None if ttfb is None else int(ttfb),
        int(prompt or 0),
        int(completion or 0),
        _ZERO if cost is None else cost,
        ip if ip and app_settings.KEEP_IP else None,
    )


async def _prune_if_due() -> None:
    """At most hourly, run the upkeep: the hourly chores here, and today's pruning if no process has yet."""
    global _prune_checked
    now = time.monotonic()
    if now - _prune_checked < PRUNE_CHECK_SECONDS:
        return
    _prune_checked = now
    run_in_background(asyncio.to_thread(upkeep))


def upkeep() -> None:
    """The hourly chores (hourly_upkeep), then the daily ones if this process claims today's: prune, daily_upkeep."""
    from django.db import connection

    from requestlog.signals import daily_upkeep, hourly_upkeep
    from requestlog.storage import log_prune, prune_lease_take

    for receiver, outcome in hourly_upkeep.send_robust(sender=None):
        if isinstance(outcome, Exception):
            name = getattr(receiver, "__qualname__", receiver)
            logger.error("hourly upkeep: %s failed", name, exc_info=outcome)
    try:
        today = datetime.datetime.now(datetime.UTC).date()
        if prune_lease_take(today=today):
            log_prune(today=today)
            daily_upkeep.send_robust(sender=None, day=today)  # the day's other chores, in this one process
    except Exception:
        logger.exception("request log: pruning failed")
    finally:
        connection.close()


def written_total() -> int:
    """Rows this process has written."""
    return _counts["written"]


def dropped_total() -> int:
    """Rows this process noted and lost: past the buffer's bound, or refused by the database."""
    return _counts["dropped"]


def pending() -> int:
    """Rows noted and not yet written."""
    return len(_rows)


def request_log_forget() -> None:
    """Drop unwritten rows without writing them (tests)."""
    global _prune_checked
    _rows.clear()
    _prune_checked = time.monotonic()
