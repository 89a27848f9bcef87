"""Closing the store never leaves a writer process behind: one that hangs
(stopped, or stuck on a disk that never answers) is killed once the close's
time is up, so the server can exit and the database file is free again."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

import router.store.sqlite as sqlite_backend
from router.store import engine, writer_process
from router.store.sqlite import SQLiteStore
from tests.conftest import HANG


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_hung_writer_process_is_killed_on_close(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # short steps, so the test does not wait the production ceiling four times;
    # the writer is stopped, so every step times out whatever the machine's speed
    monkeypatch.setattr(engine, "CLOSE_TIMEOUT", 1.0)
    monkeypatch.setattr(writer_process, "CLOSE_TIMEOUT", 1.0)
    monkeypatch.setattr(sqlite_backend, "CLOSE_TIMEOUT", 1.0)
    store = SQLiteStore(tmp_path / "omnirouter.db", writer="process")
    await store.open()
    pid = store._w.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        await asyncio.wait_for(store.close(), HANG)
        assert not _alive(pid)  # killed and reaped, not left stopped
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    # the file is usable again by the next store
    async with SQLiteStore(tmp_path / "omnirouter.db", writer="process") as again:
        await again.ping()
