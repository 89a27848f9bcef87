"""The WAL stays bounded while writes never pause (router/store/checkpoint.py):
a checkpoint from the side alone never copies all of it while the writer keeps
appending, and SQLite starts a WAL over only after one has; without the
writer's own checkpoint past a size, the WAL grew by every page written."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

import router.store.sqlite as sqlite_backend
from router.models import IdentityRef, InboundMessage
from router.store import checkpoint
from router.store.sqlite import SQLiteStore, WriterMode

T0 = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)
MiB = 1024 * 1024
FOLD_PAGES = 256  # 1 MiB: the size past which the writer checkpoints, small so that a short test writes
# many times it. The peak allowed, against 4-6 MiB measured: the WAL may grow by all that is written
# between two checkpoints, and one slow fsync on a busy machine (0.3 s: 29 MiB here) must not fail the
# test; the code without the writer's checkpoint writes the whole 140-160 MiB into it, however slow the machine
BOUND = 64 * MiB
WRITERS, MESSAGES = 32, 400  # callers in flight at once, so that the writer always has a batch waiting


def _message(writer: int, n: int) -> InboundMessage:
    return InboundMessage(channel="webchat", external_id=f"w{writer}-m{n}",
                          sender=IdentityRef(kind="webchat", value=f"visitor-{writer}"),
                          text=f"message {n} " + "a long message to fill pages. " * 100)


def _size(file: Path) -> int:
    return file.stat().st_size  # one stat, after each message: never blocks for long


@pytest.mark.parametrize("writer", ["thread", "process"])
async def test_the_wal_stays_bounded_while_writes_never_pause(tmp_path: Path, writer: WriterMode,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoint, "FOLD_PAGES", FOLD_PAGES)
    monkeypatch.setattr(sqlite_backend, "CHECKPOINT_INTERVAL", 0.02)
    path = tmp_path / "omnirouter.db"
    wal = Path(f"{path}-wal")
    peak = 0

    async def write(store: SQLiteStore, w: int) -> None:
        nonlocal peak
        for n in range(MESSAGES):
            await store.ingest(_message(w, n), T0)
            peak = max(peak, _size(wal))

    async with SQLiteStore(path, writer=writer) as store:
        await asyncio.gather(*(write(store, w) for w in range(WRITERS)))
    assert peak < BOUND, f"the WAL reached {peak / MiB:.0f} MiB"
    with sqlite3.connect(path) as conn:  # and every message written is there
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == WRITERS * MESSAGES


def _restarts(wal: Path) -> int:
    """The WAL header's checkpoint sequence number: SQLite adds one each time the WAL starts over."""
    with wal.open("rb") as file:
        return int.from_bytes(file.read(16)[12:16], "big")


async def test_a_wal_grown_in_use_is_kept_at_its_size_when_it_starts_over(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A WAL that a load grew (here: 20 MiB, while a reader held it) is written over from its start when
    it starts over, its file kept: cut back at every start, its blocks were given back, and the next
    writes allocated and zeroed them again (the p99 from send to agent twice as long, bench.wal)."""
    monkeypatch.setattr(checkpoint, "FOLD_PAGES", FOLD_PAGES)  # the writer starts it over past 1 MiB
    monkeypatch.setattr(sqlite_backend, "CHECKPOINT_INTERVAL", 0.02)
    path = tmp_path / "omnirouter.db"
    wal = Path(f"{path}-wal")
    async with SQLiteStore(path, writer="thread") as store:
        await store.ingest(_message(0, 0), T0)
        reader = sqlite3.connect(path)
        try:
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM messages").fetchone()  # holds its snapshot: nothing can start over
            n = 1
            while _size(wal) < 20 * MiB:
                assert n < 20_000, "the WAL did not grow"  # ~600 messages make 20 MiB
                await store.ingest(_message(0, n), T0)
                n += 1
        finally:
            reader.close()
        grown, started = _size(wal), _restarts(wal)
        for _ in range(5000):  # the writer's fold copies it all, and its next write starts the WAL over
            await store.ingest(_message(0, n), T0)
            n += 1
            if _restarts(wal) != started:
                break
        else:
            pytest.fail("the WAL never started over")
        assert _size(wal) >= grown, f"the WAL was cut back from {grown / MiB:.0f} to {_size(wal) / MiB:.0f} MiB"
