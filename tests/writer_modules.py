"""Units of work run in the store's writer process (what it has imported, its
page cache, a table of notes);
in a module of its own, which imports nothing, so asking changes nothing."""

from __future__ import annotations

import sqlite3
import sys


def loaded(conn: sqlite3.Connection) -> list[str]:
    return sorted(sys.modules)


def cache_size(conn: sqlite3.Connection) -> int:
    """The connection's page cache, as ``PRAGMA cache_size`` says it (negative: KiB)."""
    return int(conn.execute("PRAGMA cache_size").fetchone()[0])


def make_notes(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS test_notes (n INTEGER NOT NULL)")


def add_note(conn: sqlite3.Connection, n: int) -> int:
    return conn.execute("INSERT INTO test_notes (n) VALUES (?)", (n,)).rowcount


def count_notes(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM test_notes").fetchone()[0])
