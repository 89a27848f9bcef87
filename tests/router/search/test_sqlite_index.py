"""SQLite's index of messages after the store went back in time (a restored
backup, writes lost at a power cut): it must not name other messages."""

from __future__ import annotations

import functools
import shutil
import sqlite3
from pathlib import Path

import pytest

from router.search.sqlite_index import index_path
from router.store.errors import StoreUnavailable
from router.store.sqlite import SQLiteStore
from tests.router.search.test_store_contract import caught_up, found_messages
from tests.router.store.test_contract import inbound, ingest


async def test_a_restored_backup_gets_its_message_index_built_again(tmp_path: Path) -> None:
    path, backup = tmp_path / "omnirouter.db", tmp_path / "backup.db"
    async with SQLiteStore(path) as store:
        await ingest(store, inbound("m1", sender="u1", text="первое сообщение"))
        await caught_up(store)
    shutil.copy(path, backup)  # the backup holds the first message only
    async with SQLiteStore(path) as store:
        await ingest(store, inbound("m2", sender="u2", text="посылка потерялась"))
        await ingest(store, inbound("m3", sender="u3", text="курьер опоздал"))
        await caught_up(store)
        assert await found_messages(store, "посылка") == ["посылка потерялась"]
    shutil.copy(backup, path)  # restored; the index beside it is the newer one's
    async with SQLiteStore(path) as store:
        await ingest(store, inbound("m4", sender="u4", text="верните деньги"))  # takes a rowid the index knew
        await caught_up(store)
        assert await found_messages(store, "посылка") == []
        assert await found_messages(store, "курьер") == []
        assert await found_messages(store, "деньги") == ["верните деньги"]
        assert await found_messages(store, "первое") == ["первое сообщение"]


async def test_an_index_built_again_finds_new_messages_at_once_and_old_ones_newest_first(tmp_path: Path) -> None:
    path = tmp_path / "omnirouter.db"
    async with SQLiteStore(path) as store:
        for n in range(1, 7):
            await ingest(store, inbound(f"m{n}", sender=f"u{n}", text=f"старое письмо {n}"))
        await caught_up(store)
    index_path(str(path)).unlink()  # lost: built again from what the store holds
    async with SQLiteStore(path) as store:
        await store.index_for_search(2)
        assert await found_messages(store, "письмо") == ["старое письмо 6", "старое письмо 5"]
        await ingest(store, inbound("m7", sender="u7", text="новое письмо"))
        await store.index_for_search(2)  # the new message first, then the backlog goes on
        assert await found_messages(store, "письмо") == ["новое письмо", "старое письмо 6", "старое письмо 5",
                                                         "старое письмо 4"]
        await caught_up(store)
        assert len(await found_messages(store, "письмо")) == 7


def _limit_pages(conn: sqlite3.Connection, extra: int | None) -> None:
    """The index's file as on a full disk (``extra`` pages more at most), or with room again (None)."""
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    conn.execute(f"PRAGMA max_page_count={pages + extra if extra is not None else 2**31 - 2}")


async def test_a_full_disk_under_the_index_is_an_outage_and_indexing_goes_on_once_there_is_room(
        tmp_path: Path) -> None:
    """SQLite rolls a transaction back itself when its COMMIT meets a full
    disk: the indexer's own ROLLBACK after it then failed ("no transaction is
    active"), and that error, a BackendError, hid the outage: the log said
    "search indexing failed (BackendError)" every 5 s for as long as the disk
    was full, a fault of ours where there was none."""
    async with SQLiteStore(tmp_path / "omnirouter.db") as store:
        await caught_up(store)
        index = store._index._conn
        assert index is not None
        await index.run_alone(functools.partial(_limit_pages, extra=0))
        for n in range(40):  # more terms than a page holds
            await ingest(store, inbound(f"m{n}", sender=f"u{n}", text=f"посылка {n} " + " ".join(
                f"слово{n}x{k}" for k in range(40))))
        with pytest.raises(StoreUnavailable, match="the disk is full"):
            await store.index_for_search(200)
        await index.run_alone(functools.partial(_limit_pages, extra=None))
        await caught_up(store)
        assert len(await found_messages(store, "посылка")) == 40
