"""The store's own units of work (its schema, its secrets, the pollers'
positions), apart from ``router.store.sqlite``.

The writer process imports the module of every function it is handed (a
pickled function is its module's name and its own). ``router.store.sqlite``
imports every slice, and through the migrations the bot (numpy): ~35 MB of
modules in a process that only ever runs SQL. So the units the writer runs
live in modules that import little, and the migrations' scripts reach it
as data (``migrate``'s ``scripts``), not as an import."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence

from router.store.errors import SchemaTooNew
from router.store.schema_log import log_migration

log = logging.getLogger("router.store.sqlite")


def migrate(conn: sqlite3.Connection, path: str, scripts: Sequence[str]) -> None:
    """Applies the scripts not yet applied; ``scripts``: ``router.store.migrations.MIGRATIONS``."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > len(scripts):
        raise SchemaTooNew(path, version, len(scripts))
    log_migration(log, path, version, len(scripts))
    for number, script in enumerate(scripts[version:], start=version + 1):
        log.debug("applying schema migration %d to %s", number, path)
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")


def secret(conn: sqlite3.Connection, key: str, fresh: bytes) -> bytes:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING", (key, fresh))
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    assert row is not None
    return bytes(row[0])


def save_cursor(conn: sqlite3.Connection, key: str, value: bytes) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                 (key, value))


def cursor(conn: sqlite3.Connection, key: str) -> bytes | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else bytes(row[0])


# /healthz's probe: a row rewritten, so a page goes to the WAL like a message's
_PROBE = ("INSERT INTO meta (key, value) VALUES ('health:probe', ?)"
          " ON CONFLICT (key) DO UPDATE SET value = excluded.value")


def probe(conn: sqlite3.Connection, at: str) -> None:
    conn.execute(_PROBE, (at,))
