"""A unit of work that says what the store's writer process has imported;
in a module of its own, which imports nothing, so asking changes nothing."""

from __future__ import annotations

import sqlite3
import sys


def loaded(conn: sqlite3.Connection) -> list[str]:
    return sorted(sys.modules)


def cache_size(conn: sqlite3.Connection) -> int:
    """The connection's page cache, as ``PRAGMA cache_size`` says it (negative: KiB)."""
    return int(conn.execute("PRAGMA cache_size").fetchone()[0])
