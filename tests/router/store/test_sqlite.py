"""What only the SQLite backend has: its schema versioning and pragmas."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from router.store.migrations import MIGRATIONS
from router.store.sqlite import SQLiteStore


async def test_schema_is_migrated_and_wal_is_on(tmp_path: Path) -> None:
    path = tmp_path / "db" / "omnirouter.db"
    async with SQLiteStore(path):
        pass
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "omnirouter.db"
    async with SQLiteStore(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match="newer than this omnirouter"):
        async with SQLiteStore(path):
            pass
