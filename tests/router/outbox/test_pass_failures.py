"""A pass of the outbox whose store write fails while other sends of the
same pass are in flight: those sends finish before anything is claimed again.
The next claim may take this node's own leases, so a pass that left on the
first error would send what was still in flight a second time. Also: a
connector's unexpected error is an attempt, never the end of the worker."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from router.bus import EventBus
from router.config import OutboxConfig
from router.connector import Connector, ConnectorOptions, SendProgress, SendResult
from router.metrics import Metrics
from router.models import OutboundMessage, utcnow
from router.outbox.service import OutboxWorker
from router.store.sqlite import SQLiteStore
from tests.conftest import eventually
from tests.router.outbox.entries import queue

# how long the worker is given to (wrongly) send again what is in flight: a bound on a
# negative check, which a slow machine can only make weaker, never make fail
GRACE = 1.0


class Platform(Connector[ConnectorOptions]):
    """Sends "slow" only once the test lets it; anything named "bug" raises as a connector's bug would."""

    type_name = "scripted"

    def __init__(self) -> None:
        super().__init__("scripted", ConnectorOptions(), None)  # type: ignore[arg-type]
        self.got: list[str] = []
        self.slow_go = asyncio.Event()

    async def send(self, message: OutboundMessage, progress: SendProgress | None = None) -> SendResult:
        self.got.append(message.text)
        if message.text == "slow":
            await self.slow_go.wait()
        if message.text == "bug":
            raise KeyError("a connector's own bug")
        return SendResult(external_id=f"ext-{len(self.got)}")


def refuse_finishing(path: Path, entry_id: str) -> None:
    """The store refuses, for real, to record that entry as finished (a trigger; an admin's shell)."""
    with contextlib.closing(sqlite3.connect(path, timeout=120)) as conn:
        conn.execute(f"CREATE TRIGGER refuse_finish BEFORE UPDATE OF status ON outbox WHEN OLD.id = '{entry_id}'"
                     " BEGIN SELECT RAISE(ABORT, 'refused by the trigger of a test'); END")
        conn.commit()


def allow_finishing(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path, timeout=120)) as conn:
        conn.execute("DROP TRIGGER refuse_finish")
        conn.commit()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(tmp_path / "outbox.db") as s:
        yield s


async def test_a_failed_write_waits_for_the_passes_other_sends_and_sends_none_twice(store: SQLiteStore) -> None:
    past = utcnow() - timedelta(seconds=5)
    fast = await queue(store, "ann", "fast", past)
    await queue(store, "bob", "slow", past)
    refuse_finishing(Path(store.path), fast)
    platform = Platform()
    worker = OutboxWorker(store, EventBus(), {"scripted": platform}, OutboxConfig(backoff_initial=0.01,
                          backoff_max=0.02), Metrics(), asyncio.Event(), node="node-a")
    running = asyncio.create_task(worker.run())
    try:
        async def both_in_flight() -> bool:
            return sorted(platform.got) == ["fast", "slow"]

        await eventually(both_in_flight, "both sends of the pass to start")
        await asyncio.sleep(GRACE)  # the refused write is long done: nothing may claim "slow" again meanwhile
        assert platform.got.count("slow") == 1, platform.got
        allow_finishing(Path(store.path))
        platform.slow_go.set()

        async def finished() -> bool:
            with contextlib.closing(sqlite3.connect(store.path)) as conn:
                return int(conn.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()[0]) == 0

        await eventually(finished, "every entry sent")
        # each once: "fast"'s send, whose record was refused, is recorded by the node's next claim of
        # it rather than sent again (a live node never resends)
        assert platform.got.count("slow") == 1 and platform.got.count("fast") == 1, platform.got
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_a_connectors_unexpected_error_is_an_attempt_and_the_worker_goes_on(store: SQLiteStore) -> None:
    past = utcnow() - timedelta(seconds=5)
    buggy = await queue(store, "ann", "bug", past)
    await queue(store, "bob", "fine", past)
    platform = Platform()
    worker = OutboxWorker(store, EventBus(), {"scripted": platform}, OutboxConfig(max_attempts=2,
                          backoff_initial=0.01, backoff_max=0.02), Metrics(), asyncio.Event(), node="node-a")
    running = asyncio.create_task(worker.run())
    try:
        async def settled() -> bool:
            return platform.got.count("bug") == 2 and "fine" in platform.got

        await eventually(settled, "the buggy send tried twice and the other sent")

        def entry() -> tuple[str, str]:
            with contextlib.closing(sqlite3.connect(store.path)) as conn:
                found = conn.execute("SELECT status, last_error FROM outbox WHERE id = ?", (buggy,)).fetchone()
            return str(found[0]), str(found[1])

        # the second try's failure is written after the send returned to the worker: on a busy
        # machine the test read the entry before that write (pending), so wait for it
        async def dead() -> bool:
            return entry()[0] == "dead"

        await eventually(dead, "the buggy entry dead-lettered")
        assert not running.done()
        assert "the connector failed (KeyError)" in entry()[1]
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
