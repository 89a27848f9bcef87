"""Small asyncio helpers the long-running tasks share."""

from __future__ import annotations

import asyncio


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
