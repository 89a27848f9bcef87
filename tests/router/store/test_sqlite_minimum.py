"""SQLite older than 3.35 has no RETURNING, which every ingest runs
(router/ingest/sqlite.py): the store refuses to open with a message that says
so, instead of starting and failing each message with a syntax error."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from router.store.errors import StoreError
from router.store.sqlite import SQLiteStore


async def test_sqlite_without_returning_is_refused_at_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 34, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.34.1")
    store = SQLiteStore(tmp_path / "db.sqlite")
    with pytest.raises(StoreError, match=r"SQLite 3\.34\.1 is too old: omnirouter needs 3\.35\.0"):
        await store.open()
    await store.close()
    assert not (tmp_path / "db.sqlite").exists()  # refused before anything was created
