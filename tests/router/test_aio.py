"""The background tasks' wait: a shutdown that lands as a task is woken must
still stop it (Python 3.11's ``asyncio.wait_for`` loses such a cancellation,
and the service then hangs on SIGTERM)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from router.aio import wait_event
from router.bus import EventBus
from router.config import OutboxConfig
from router.metrics import Metrics
from router.outbox.service import OutboxWorker
from router.routing.assignment import Assigner, Policy
from router.routing.rules.schema import TeamsFile
from router.store.sqlite import SQLiteStore
from tests.conftest import HANG

# a guard against hanging the suite, not a measurement: the tasks stop at once
STOP_GUARD = HANG


async def test_wait_event_tells_set_from_timed_out() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0) is False
    event.set()
    assert await wait_event(event, 60) is True


async def test_a_cancellation_that_lands_as_the_event_is_set_is_not_lost() -> None:
    event = asyncio.Event()
    waiting = asyncio.create_task(wait_event(event, 60))
    await asyncio.sleep(0)
    event.set()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiting, STOP_GUARD)


async def test_the_assigner_stops_when_shut_down_as_it_is_woken(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "a.db") as store:
        assigner = Assigner(store, EventBus(), Policy(TeamsFile()))
        task = asyncio.create_task(assigner.run(idle_check=60))
        for _ in range(5):  # let it finish its first round and wait again
            await asyncio.sleep(0.01)
        assigner.wakeup.set()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, STOP_GUARD)


async def test_the_outbox_stops_when_shut_down_as_it_is_woken(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "o.db") as store:
        wakeup = asyncio.Event()
        worker = OutboxWorker(store, EventBus(), {}, OutboxConfig(), Metrics(), wakeup)
        task = asyncio.create_task(worker.run())
        for _ in range(5):
            await asyncio.sleep(0.01)
        wakeup.set()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, STOP_GUARD)
