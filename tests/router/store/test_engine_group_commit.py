"""Group commit: while several callers write at once, the writer waits up to
``group_commit`` seconds after a batch for the next to gather, and what comes
meanwhile joins one transaction; a caller writing alone, ``run_alone`` and
``close`` are never held for the window. Counted in the COMMITs SQLite itself runs (the connection's statement
trace). The windows in the tests that must not wait are long (30 s): each write
there has half of it, so a wait for the window fails the test, and a busy
machine does not."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from router.config import Settings
from router.server.app import make_store
from router.store.engine import Connection
from router.store.errors import StoreUnavailable
from router.store.sqlite import SQLiteStore
from tests.conftest import HANG

# the statements the writer's connection ran (a thread of this process: the trace is ours to read)
_STATEMENTS: list[str] = []


def _trace(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE notes (n INTEGER NOT NULL)")
    conn.set_trace_callback(_STATEMENTS.append)


def _add(conn: sqlite3.Connection, n: int) -> int:
    return conn.execute("INSERT INTO notes (n) VALUES (?)", (n,)).rowcount


def _count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM notes").fetchone()[0])


def _commits() -> int:
    return sum(1 for s in _STATEMENTS if s == "COMMIT")


async def _traced(tmp_path: Path, group_commit: float) -> Connection:
    _STATEMENTS.clear()
    conn = Connection(str(tmp_path / "group.db"), "normal", "writer", group_commit=group_commit)
    await conn.open()
    await asyncio.wait_for(conn.run_alone(_trace), HANG)
    return conn


async def test_callers_writing_at_once_share_commits_at_most_one_per_window(tmp_path: Path) -> None:
    window = 0.25
    conn = await _traced(tmp_path, window)
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        calls = [asyncio.create_task(conn.call(_add, n)) for n in range(2)]  # two at once: a batch of two
        for n in range(2, 40):  # then one a millisecond, as messages at 1,000 a second
            await asyncio.sleep(0.001)
            calls.append(asyncio.create_task(conn.call(_add, n)))
        assert await asyncio.wait_for(asyncio.gather(*calls), HANG) == [1] * 40
        elapsed = loop.time() - started
        # one commit per call without gathering; with it, one per window (a slow machine only loosens this)
        assert _commits() <= elapsed / window + 2
        assert _commits() < 20
    finally:
        await conn.close()


LONG = 30.0  # seconds: a window no test that must not wait could sit out in its half


async def test_a_caller_writing_alone_commits_at_once_each_time(tmp_path: Path) -> None:
    conn = await _traced(tmp_path, LONG)
    try:
        for n in range(5):
            assert await asyncio.wait_for(conn.call(_add, n), LONG / 2) == 1
        assert _commits() == 5
    finally:
        await conn.close()


async def _chain(conn: Connection, first: int, writes: int) -> None:
    """A caller that waits for each write before the next."""
    for n in range(first, first + writes):
        await conn.call(_add, n)


async def _gathering(conn: Connection) -> None:
    """Until the flusher waits for the next batch to gather."""
    while conn._gathering.waiter is None:  # noqa: ASYNC110 (the engine has no event for it)
        await asyncio.sleep(0.001)


async def test_run_alone_and_close_get_in_while_others_keep_writing(tmp_path: Path) -> None:
    conn = await _traced(tmp_path, LONG)
    writers = [asyncio.create_task(_chain(conn, 1000 * k, 1000)) for k in range(2)]
    try:
        await asyncio.wait_for(_gathering(conn), HANG)  # the two wrote a batch together: the flusher waits
        assert await asyncio.wait_for(conn.run_alone(_count), LONG / 2) >= 2
        await asyncio.wait_for(_gathering(conn), HANG)  # and again
        await asyncio.wait_for(conn.close(), LONG / 2)
    finally:
        for w in writers:
            w.cancel()
        await asyncio.gather(*writers, return_exceptions=True)


async def test_a_call_gathering_when_the_flusher_is_cancelled_is_told_so(tmp_path: Path) -> None:
    conn = await _traced(tmp_path, LONG)
    try:
        first = [asyncio.create_task(conn.call(_add, n)) for n in range(2)]  # a batch of two: then it gathers
        await asyncio.wait_for(asyncio.gather(*first), HANG)
        late = asyncio.create_task(conn.call(_add, 2))
        await asyncio.sleep(0)
        flusher = conn._flusher  # the loop's end cancels it so; nothing else does
        assert flusher is not None
        flusher.cancel()
        with pytest.raises(StoreUnavailable):
            await asyncio.wait_for(late, HANG)
        assert await asyncio.wait_for(conn.call(_count), HANG) == 2  # the connection goes on
    finally:
        await conn.close()


async def test_no_window_commits_each_batch_as_it_comes(tmp_path: Path) -> None:
    conn = await _traced(tmp_path, 0.0)
    try:
        first = [asyncio.create_task(conn.call(_add, n)) for n in range(3)]
        await asyncio.wait_for(asyncio.gather(*first), HANG)
        assert await asyncio.wait_for(conn.call(_add, 3), HANG) == 1
        assert _commits() == 2
    finally:
        await conn.close()


@pytest.mark.parametrize(("configured", "seconds"), [(None, 0.005), (12, 0.012), (0, 0.0)])
async def test_the_window_is_set_in_config(tmp_path: Path, configured: float | None, seconds: float) -> None:
    store_config: dict[str, object] = {"path": str(tmp_path / "omnirouter.db"), "writer": "thread"}
    if configured is not None:
        store_config["group_commit_ms"] = configured
    async with make_store(Settings.model_validate({"store": store_config}), tmp_path) as store:
        assert isinstance(store, SQLiteStore)
        assert store.group_commit == pytest.approx(seconds)
        assert store._w._group_commit == pytest.approx(seconds)  # what the writer was given


_STARTED, _RELEASE = threading.Event(), threading.Event()


def _held(conn: sqlite3.Connection) -> int:
    _STARTED.set()
    _RELEASE.wait(HANG)
    return 1


def _quick(conn: sqlite3.Connection) -> int:
    return 2


async def test_units_after_a_batch_are_told_when_the_flusher_is_cancelled_as_one_runs(tmp_path: Path) -> None:
    _STARTED.clear()
    _RELEASE.clear()
    conn = await _traced(tmp_path, 0.0)
    try:
        running = asyncio.ensure_future(conn.after_batch(_held))
        waiting = asyncio.ensure_future(conn.after_batch(_quick))
        assert await asyncio.to_thread(_STARTED.wait, HANG)
        flusher = conn._flusher  # the loop's end cancels it so; nothing else does
        assert flusher is not None
        flusher.cancel()
        _RELEASE.set()
        for unit in (running, waiting):
            with pytest.raises(StoreUnavailable):
                await asyncio.wait_for(unit, HANG)
    finally:
        _RELEASE.set()
        await conn.close()
