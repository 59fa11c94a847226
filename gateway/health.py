"""Each upstream's last success and last error, kept in memory and written at most every few seconds."""

import asyncio
import datetime

from django.db.models import F
from django.utils import timezone

from keys.metering import utc_today
from plumbing.dbthread import in_db_thread
from plumbing.tasks import run_in_background

FLUSH_SECONDS = 5.0
_pending: dict[int, dict] = {}
_days: dict[tuple[int, datetime.date], list[float]] = {}  # -> [requests, errors, seconds]
_flushing: list[asyncio.Task] = []


def _count(upstream_id: int, error: bool, seconds: float) -> None:
    totals = _days.setdefault((upstream_id, utc_today()), [0, 0, 0.0])
    totals[0] += 1
    totals[1] += error
    totals[2] += seconds


def record_success(upstream_id: int | None, seconds: float = 0.0) -> None:
    if upstream_id is not None:
        _pending.setdefault(upstream_id, {})["last_success_at"] = timezone.now()
        _count(upstream_id, False, seconds)
        _schedule()


def record_failure(upstream_id: int | None, error: str, seconds: float = 0.0) -> None:
    if upstream_id is not None:
        _pending.setdefault(upstream_id, {}).update(last_error_at=timezone.now(), last_error=error[:300])
        _count(upstream_id, True, seconds)
        _schedule()


def _schedule() -> None:
    if not _flushing or _flushing[0].done() or _flushing[0].get_loop() is not asyncio.get_running_loop():
        _flushing[:] = [run_in_background(_flush_later())]


async def _flush_later() -> None:
    await asyncio.sleep(FLUSH_SECONDS)
    await flush()


async def flush() -> None:
    pending, days = dict(_pending), dict(_days)
    _pending.clear()
    _days.clear()
    if pending or days:
        await in_db_thread(_write, pending, days)


def _write(pending: dict[int, dict], days: dict[tuple[int, datetime.date], list[float]]) -> None:
    from gateway.models import Upstream, UpstreamDay

    for upstream_id, fields in pending.items():
        Upstream.objects.filter(pk=upstream_id).update(**fields)
    for (upstream_id, day), (requests, errors, seconds) in days.items():
        if not Upstream.objects.filter(pk=upstream_id).exists():
            continue
        row, _ = UpstreamDay.objects.get_or_create(upstream_id=upstream_id, day=day)
        UpstreamDay.objects.filter(pk=row.pk).update(
            requests=F("requests") + requests, errors=F("errors") + errors, seconds=F("seconds") + seconds
        )
