"""The WAL starts over under writes that never pause: a checkpoint from the
side never catches up with the writer, so past ``RESTART_PAGES`` the writer
checkpoints with RESTART between two batches and its next write starts the
WAL from its beginning (it grew by 3-6 pages a message without an end
before: 722 MB in 11 s at 2,700 msg/s)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from router.models import IdentityRef, InboundMessage
from router.store import checkpoint
from router.store.checkpoint import _passive, _restart, checkpoint_regularly
from router.store.sqlite import SQLiteStore
from tests.conftest import HANG


async def _write(store: SQLiteStore, n: int, tag: str) -> None:
    for i in range(n):
        sender = IdentityRef(kind="webchat", value=f"v{i % 20}")
        await store.ingest(InboundMessage(channel="webchat", external_id=f"{tag}-{i}", sender=sender,
                                          text="привет " * 20), datetime.now(UTC))


@pytest.mark.parametrize("writer", ["thread", "process"])
async def test_the_writers_restart_makes_its_next_write_start_the_wal_over(tmp_path: Path, writer: str) -> None:
    async with SQLiteStore(tmp_path / "db.sqlite", writer=writer) as store:  # type: ignore[arg-type]
        await _write(store, 300, "a")
        _, before, _ = await store._r.call(_passive)
        assert before > 300  # pages of the messages so far
        busy, _, _ = await store._w.run_alone(_restart)
        assert busy == 0
        await _write(store, 1, "b")
        _, after, _ = await store._r.call(_passive)
        assert after < 50  # the one message's pages, from the WAL's start


async def test_the_writer_is_asked_to_restart_only_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoint, "RESTART_PAGES", 100)
    answers = iter([(0, 99, 50), (0, 100, 100), (0, 5000, 4000)])
    asked: list[Any] = []
    rounds = asyncio.Event()

    async def passive(fn: Any) -> tuple[int, int, int]:
        try:
            return next(answers)
        except StopIteration:
            rounds.set()
            await asyncio.Event().wait()  # no more rounds
            raise

    async def restart(fn: Any) -> tuple[int, int, int]:
        asked.append(fn)
        return 0, 0, 0

    task = asyncio.create_task(checkpoint_regularly(passive, 0.001, restart))
    try:
        await asyncio.wait_for(rounds.wait(), HANG)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert asked == [_restart, _restart]  # at 100 pages and at 5000, not at 99


def test_a_restart_waits_for_readers_only_briefly_and_leaves_the_writers_patience_as_it_was(tmp_path: Path) -> None:
    path = str(tmp_path / "w.db")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA busy_timeout=5000")
    writer.execute("CREATE TABLE t (x)")
    writer.execute("INSERT INTO t VALUES (1)")
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT * FROM t").fetchall()  # a long read (a backup) holds the WAL
    writer.execute("INSERT INTO t VALUES (2)")
    busy, _, _ = _restart(writer)  # returns after RESTART_PATIENCE_MS, not the writer's 5 s
    assert busy == 1
    assert writer.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    reader.execute("COMMIT")
    assert _restart(writer)[0] == 0
