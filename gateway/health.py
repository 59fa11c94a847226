"""Each upstream's last success and last error, kept in memory and written at most every few seconds."""

import asyncio

from django.utils import timezone

from gateway.tasks import run_in_background
from keys.metering.dbthread import in_db_thread

FLUSH_SECONDS = 5.0
_pending: dict[int, dict] = {}
_flushing: list[asyncio.Task] = []


def record_success(upstream_id: int | None) -> None:
    if upstream_id is not None:
        _pending.setdefault(upstream_id, {})["last_success_at"] = timezone.now()
        _schedule()


def record_failure(upstream_id: int | None, error: str) -> None:
    if upstream_id is not None:
        _pending.setdefault(upstream_id, {}).update(last_error_at=timezone.now(), last_error=error[:300])
        _schedule()


def _schedule() -> None:
    if not _flushing or _flushing[0].done() or _flushing[0].get_loop() is not asyncio.get_running_loop():
        _flushing[:] = [run_in_background(_flush_later())]


async def _flush_later() -> None:
    await asyncio.sleep(FLUSH_SECONDS)
    await flush()


async def flush() -> None:
    pending = dict(_pending)
    _pending.clear()
    if pending:
        await in_db_thread(_write, pending)


def _write(pending: dict[int, dict]) -> None:
    from gateway.models import Upstream

    for upstream_id, fields in pending.items():
        Upstream.objects.filter(pk=upstream_id).update(**fields)
