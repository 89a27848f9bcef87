"""Small asyncio helpers the long-running tasks share."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` pass; True if it was set.

    Not ``asyncio.wait_for``: on Python 3.11 it swallows a cancellation that
    lands just as the event is set (CPython gh-86296), so a background task
    woken at the moment of shutdown would never stop and the shutdown hangs.
    ``asyncio.timeout`` cancels the waiting task itself and cannot lose it.
    """
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def cancel_and_wait(*tasks: asyncio.Task[Any]) -> None:
    """Cancel ``tasks`` and wait until each has unwound: the end of a
    background task that lives as long as the app (a ``cleanup_ctx``). An
    error a task had already ended with is raised, as awaiting it would."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def finish(tasks: Iterable[asyncio.Future[Any]], grace: float | None) -> int:
    """Wait for ``tasks`` for at most ``grace`` seconds (None: for as long
    as they take), then cancel those still running and let them unwind;
    how many had to be cancelled. (Not ``asyncio.timeout`` around a wait:
    that cancels them too, but tells nobody how many there were.)"""
    waiting = list(tasks)
    if not waiting:
        return 0
    _, running = await asyncio.wait(waiting, timeout=grace)
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    return len(running)
