"""One dedicated thread for the gateway's database work, with group commit for quota changes.

Handing work to a thread costs far more than a quota UPDATE itself (the GIL must travel there and
back), so calls that arrive while the thread is busy are run together in one transaction.
"""

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from django.db import Error as DatabaseError
from django.db import connection, transaction

T = TypeVar("T")
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tollgate-db")


def _call(function: Callable[..., T], args: tuple) -> T:
    try:
        return function(*args)
    except DatabaseError:
        # The thread keeps its connection between requests; after a failure start afresh next time.
        connection.close()
        raise


async def in_db_thread(function: Callable[..., T], *args) -> T:
    """Run `function(*args)` on the gateway's database thread without blocking the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_executor, _call, function, args)


def _run_batch(batch: list[tuple[Callable, tuple, asyncio.Future]]) -> list[tuple[bool, object]]:
    try:
        with transaction.atomic():
            return [(True, function(*args)) for function, args, _ in batch]
    except Exception as exc:
        # All or nothing: a rolled-back batch charged no one, and every caller is told so.
        if isinstance(exc, DatabaseError):
            connection.close()
        return [(False, exc)] * len(batch)


class GroupCommit:
    """Queue calls; the database thread runs whatever has queued up in a single transaction."""

    def __init__(self) -> None:
        self._pending: list[tuple[Callable, tuple, asyncio.Future]] = []
        self._draining: asyncio.Task | None = None

    async def run(self, function: Callable[..., T], *args) -> T:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((function, args, future))
        if self._draining is None or self._draining.done() or self._draining.get_loop() is not loop:
            self._draining = loop.create_task(self._drain(loop))
        return await future

    async def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            results = await loop.run_in_executor(_executor, _run_batch, batch)
            for (_, _, future), (ok, value) in zip(batch, results, strict=True):
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)


group_commit = GroupCommit()
