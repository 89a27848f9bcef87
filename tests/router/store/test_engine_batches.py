"""Batches under a crowd: the writer takes at most ``MAX_BATCH`` calls in one
transaction, and is handed a second batch while it still runs one when a whole
batch more waits, never a third: at saturation it went idle while the event
loop took the last batch's answers, and the event loop while the writer ran the
next. Two batches on their way when the writer process dies both fail, and
nothing of theirs is kept; the calls behind them go to a new process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from router.store.engine import IN_FLIGHT, MAX_BATCH, Connection
from router.store.errors import StoreUnavailable
from router.store.sqlite import SQLiteStore
from router.store.writer_process import _WriterProcess
from tests.conftest import HANG
from tests.writer_modules import add_note, count_notes, make_notes

_STATEMENTS: list[str] = []
_STARTED, _RELEASE = threading.Event(), threading.Event()


def _trace(conn: sqlite3.Connection) -> None:
    make_notes(conn)
    conn.set_trace_callback(_STATEMENTS.append)


def _held(conn: sqlite3.Connection) -> int:
    _STARTED.set()
    _RELEASE.wait(HANG)
    return 1


def _commits() -> int:
    return sum(1 for s in _STATEMENTS if s == "COMMIT")


async def test_a_crowd_is_written_in_batches_of_at_most_max_batch_two_handed_over_at_once(tmp_path: Path) -> None:
    _STATEMENTS.clear()
    _STARTED.clear()
    _RELEASE.clear()
    conn = Connection(str(tmp_path / "batches.db"), "normal", "writer", group_commit=0.0)
    await conn.open()
    try:
        await asyncio.wait_for(conn.run_alone(_trace), HANG)
        crowd = 3 * MAX_BATCH
        calls = [asyncio.ensure_future(conn.call(_held))]
        calls += [asyncio.ensure_future(conn.call(add_note, n)) for n in range(crowd)]
        assert await asyncio.to_thread(_STARTED.wait, HANG)  # the first batch runs, held
        # the second waits in the writer's own queue, handed over; the third is not
        await asyncio.wait_for(_handed_over(conn, 1), HANG)
        assert conn._pool._work_queue.qsize() == 1 == IN_FLIGHT - 1
        _RELEASE.set()
        assert await asyncio.wait_for(asyncio.gather(*calls), HANG) == [1] * (crowd + 1)
        assert await asyncio.wait_for(conn.call(count_notes), HANG) == crowd
        # 1 + 768 calls at once: 256, 256, 256 and 1, each a transaction; then the count
        assert _commits() == -(-(crowd + 1) // MAX_BATCH) + 1
    finally:
        _RELEASE.set()
        await conn.close()


async def _handed_over(conn: Connection, batches: int) -> None:
    while conn._pool._work_queue.qsize() < batches:  # noqa: ASYNC110 (the pool has no event for it)
        await asyncio.sleep(0.001)


async def _sent(child: _WriterProcess, requests: int) -> None:
    while len(child._replies) < requests:  # noqa: ASYNC110 (the pipe has no event for it)
        await asyncio.sleep(0.001)


@contextlib.asynccontextmanager
async def _noting(tmp_path: Path) -> AsyncIterator[tuple[SQLiteStore, _WriterProcess]]:
    """A store with its writer in a process of its own, and a table of notes to write."""
    async with SQLiteStore(tmp_path / "omnirouter.db", writer="process") as store:
        await store._w.run_alone(make_notes)
        child = store._w._child
        assert child is not None and child._pipe is not None
        yield store, child


async def test_two_batches_on_their_way_to_a_writer_that_dies_both_fail_and_the_rest_go_on(tmp_path: Path) -> None:
    async with _noting(tmp_path) as (store, child):
        assert child.pid is not None
        pid = child.pid
        os.kill(pid, signal.SIGSTOP)  # it reads nothing now: what is sent waits in the pipe
        try:
            calls = [asyncio.ensure_future(store._w.call(add_note, n)) for n in range(2 * MAX_BATCH + 10)]
            await asyncio.wait_for(_sent(child, 2), HANG)
        finally:
            os.kill(pid, signal.SIGKILL)
        outcomes = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), HANG)
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(failed) >= 2 * MAX_BATCH  # both batches on their way, none left waiting
        assert all(isinstance(o, StoreUnavailable) and "writer process died" in str(o) for o in failed)
        stored = await asyncio.wait_for(store._w.call(count_notes), HANG)
        assert stored == len(outcomes) - len(failed)  # what failed was not kept; what succeeded was
        assert store._w.pid not in (None, pid)


async def test_a_closed_writer_starts_no_process_for_a_request_still_on_its_way(tmp_path: Path) -> None:
    """A second batch's sending is shielded from its cancelled flusher: when the close's time
    ran out, it must fail, not start a writer process that the closed store leaves behind."""
    store = SQLiteStore(tmp_path / "omnirouter.db", writer="process")
    await store.open()
    child = store._w._child
    assert child is not None
    await store.close()
    with pytest.raises(StoreUnavailable, match="the store is closed"):
        await asyncio.wait_for(child.request("run_each", []), HANG)
    assert child.pid is None


class _Unsendable:
    """A pipe end whose next sending fails as no pipe does (an executor shut down, say)."""

    def __init__(self, pipe: Any) -> None:
        self._pipe = pipe

    def send_bytes(self, data: bytes) -> None:
        raise RuntimeError("cannot schedule new futures after shutdown")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipe, name)


async def test_a_request_that_could_not_be_sent_leaves_no_reply_to_take_the_next_ones(tmp_path: Path) -> None:
    async with _noting(tmp_path) as (store, child):
        pipe = child._pipe
        child._pipe = _Unsendable(pipe)  # type: ignore[assignment]
        with pytest.raises(StoreUnavailable):
            await asyncio.wait_for(child.request("run_one", count_notes), HANG)
        # each next call gets its own answer: 1 for its insert, then the count
        assert await asyncio.wait_for(store._w.call(add_note, 1), HANG) == 1
        assert await asyncio.wait_for(store._w.call(count_notes), HANG) == 1
