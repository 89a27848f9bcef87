"""The database file deleted, or replaced by another, under a running store.
SQLite goes on writing to the file it has open, which nobody will open again:
before, the service said healthy and acknowledged every message from then on
(``/healthz`` 200, webhooks 200, the chat's acks), and all of them were gone
at the next start. Now each write is refused as an outage (503 to platforms,
which deliver again; ``/healthz`` 503 with the reason), and the store never
opens a fresh, empty file in its place."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from router.store.errors import StoreUnavailable
from router.store.sqlite import SQLiteStore, WriterMode
from tests.router.store.test_contract import T0, inbound, ingest


@pytest.mark.parametrize("writer", ["thread", "process"])
@pytest.mark.parametrize("fault", ["deleted", "replaced"])
async def test_a_database_file_deleted_or_replaced_under_the_store_takes_no_more_writes(
    tmp_path: Path, writer: WriterMode, fault: str
) -> None:
    path = tmp_path / "omnirouter.db"
    async with SQLiteStore(path, writer=writer) as store:
        await ingest(store, inbound("m1", sender="u1"))
        await store.ping()
        if fault == "deleted":
            path.unlink()
        else:  # a copy put in its place, as a restore of a backup does
            shutil.copy(path, tmp_path / "copy.db")
            os.replace(tmp_path / "copy.db", path)
        with pytest.raises(StoreUnavailable, match=f"was {fault}"):
            await store.insert_inbound(inbound("m2", sender="u2"), T0)
        with pytest.raises(StoreUnavailable, match=f"was {fault}"):
            await store.ping()  # what /healthz asks: 503 with the reason
        with pytest.raises(StoreUnavailable, match=f"was {fault}"):  # and it stays so: nothing opened afresh
            await store.insert_inbound(inbound("m3", sender="u3"), T0)
    if fault == "deleted":
        assert not path.exists() or path.stat().st_size == 0
    else:
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT count(*) FROM messages WHERE external_id IN ('m2', 'm3')").fetchone() == (0,)
