"""A caller that goes away (a webhook's client hung up, a tab closed) does not
stop its unit of work half way: it stays in its batch and is committed with
the others, and if it fails the failure still reaches the log."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest

from router.store.engine import Connection
from tests.conftest import HANG


def _create(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE notes (text TEXT NOT NULL)")


def _add(conn: sqlite3.Connection, text: str | None) -> int:
    return conn.execute("INSERT INTO notes (text) VALUES (?)", (text,)).rowcount


def _texts(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT text FROM notes ORDER BY rowid")]


@pytest.mark.parametrize("process", [False, True], ids=["thread", "process"])
async def test_cancelled_callers_work_is_committed_and_its_failure_logged(
    tmp_path: Path, process: bool, caplog: pytest.LogCaptureFixture
) -> None:
    conn = Connection(str(tmp_path / "cancel.db"), "normal", "writer", process=process)
    await conn.open()
    try:
        await asyncio.wait_for(conn.call(_create), HANG)
        gone = asyncio.create_task(conn.call(_add, "kept although its caller left"))
        failing = asyncio.create_task(conn.call(_add, None))  # NOT NULL: fails in the writer
        staying = asyncio.create_task(conn.call(_add, "the caller who stayed"))
        await asyncio.sleep(0)  # all three are in the batch
        gone.cancel()
        failing.cancel()
        with caplog.at_level(logging.WARNING, logger="router.store.engine"):
            assert await asyncio.wait_for(staying, HANG) == 1
        assert gone.cancelled() and failing.cancelled()
        assert await asyncio.wait_for(conn.call(_texts), HANG) == [
            "kept although its caller left", "the caller who stayed"]
        assert any("a call whose caller had gone failed" in r.getMessage() for r in caplog.records)
    finally:
        await conn.close()


def _slow(conn: sqlite3.Connection, text: str) -> int:
    conn.execute("SELECT count(*) FROM notes WHERE text = ?", (text,))
    return _add(conn, text)


async def test_a_cancelled_caller_waiting_to_run_alone_leaves_the_batch_before_it_answered(tmp_path: Path) -> None:
    conn = Connection(str(tmp_path / "alone.db"), "normal", "writer")
    await conn.open()
    try:
        await asyncio.wait_for(conn.call(_create), HANG)
        batch = asyncio.create_task(conn.call(_slow, "in the batch"))
        await asyncio.sleep(0)
        alone = asyncio.create_task(conn.run_alone(_texts))
        await asyncio.sleep(0)
        alone.cancel()  # while it waits for the batch before it
        assert await asyncio.wait_for(batch, HANG) == 1  # answered, not left waiting forever
        assert await asyncio.wait_for(conn.run_alone(_texts), HANG) == ["in the batch"]
    finally:
        await conn.close()
