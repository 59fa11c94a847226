"""Tasks that must outlive their caller: held here so the event loop's weak reference is not the only one."""

import asyncio
from collections.abc import Awaitable, Coroutine
from typing import TypeVar

T = TypeVar("T")
_background: set[asyncio.Task] = set()


def run_in_background(coroutine: Coroutine) -> asyncio.Task:
    task = asyncio.get_running_loop().create_task(coroutine)
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


async def wait_for_disconnect(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def unless_client_leaves(work: Awaitable[T], receive, on_leave) -> tuple[bool, T | None]:
    """Run `work` until it ends or the client disconnects; (True, result) or (False, None) if it left.

    When the client leaves, `work` is cancelled and `on_leave()` called, so the upstream stops
    generating for nobody. An exception raised by `work` propagates.
    """
    work_task = asyncio.ensure_future(work)
    watch_task = asyncio.ensure_future(wait_for_disconnect(receive))
    try:
        await asyncio.wait({work_task, watch_task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch_task.cancel()
        left = not work_task.done()
        if left:
            work_task.cancel()
            on_leave()
    if left or work_task.cancelled():
        return False, None
    return True, work_task.result()
