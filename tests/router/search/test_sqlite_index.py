"""SQLite's index of messages after the store went back in time (a restored
backup, writes lost at a power cut): it must not name other messages."""

from __future__ import annotations

import shutil
from pathlib import Path

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
