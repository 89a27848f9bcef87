"""SQLite's index of messages' terms, in a database file of its own beside
the store's (``omnirouter.db`` → ``omnirouter.search.db``), written by a
connection of its own: indexing never takes the store's one writer from the
ingest, whose latency it would otherwise add to (bench.load measured it).

The file holds derived data only: an FTS5 table keyed by the message's rowid
and the position the indexer reached. Deleted, or found to belong to another
store (a replaced database), or made by other rules (``TERMS_VERSION``: an
upgrade that changed how a text's terms are made), or behind the store's last message (a restored
backup, writes lost at a power cut), it is built again in the
background: messages stored meanwhile as they come, the ones before newest
first (``index_messages``). The store's reader attaches it read-only to
search (``attach``), and the indexer's connection attaches the store
read-only to read what to index."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from router.search.terms import TERMS_VERSION, text_terms
from router.store.engine import Connection, close_quietly
from router.store.sqlite_db import CACHE_MB, Synchronous

log = logging.getLogger(__name__)

SCHEMA = "search"  # the index's name where it is attached to the store's reader
_STORE = "store"  # the store's name where it is attached to the index's connection
_CREATE = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS search_messages USING fts5(terms, content='', detail=none, columnsize=0,
    tokenize='unicode61 remove_diacritics 0');
"""


def index_path(store_path: str) -> Path:
    path = Path(store_path)
    return path.with_name(f"{path.stem}.search{path.suffix or '.db'}")


def _attached(conn: sqlite3.Connection, name: str) -> bool:
    return any(row[1] == name for row in conn.execute("PRAGMA database_list"))


def attach(conn: sqlite3.Connection, path: str) -> None:
    """The index attached read-only to a connection of the store (again after the connection was reopened)."""
    if not _attached(conn, SCHEMA):
        conn.execute(f"ATTACH DATABASE ? AS {SCHEMA}", (f"file:{Path(path).as_uri()[7:]}?mode=ro",))


def _prepare(conn: sqlite3.Connection, store_path: str, owner: str) -> None:
    """The index's tables; emptied when they were built from another store."""
    conn.execute("PRAGMA wal_autocheckpoint=1000")  # derived data: checkpointed as SQLite does by default
    conn.executescript(_CREATE)
    made = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('store', 'terms')").fetchall())
    if made == {"store": owner, "terms": TERMS_VERSION}:
        return
    if made.get("store") == owner:  # an upgrade whose terms are made by other rules
        log.warning("the search index was made by other rules: building it again in the background")
    conn.executescript("BEGIN; DROP TABLE search_messages; DELETE FROM meta; COMMIT;")
    conn.executescript(_CREATE)
    conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [("store", owner), ("terms", TERMS_VERSION)])


def _meta(conn: sqlite3.Connection, key: str) -> int | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else int(row[0])


def _set_meta(conn: sqlite3.Connection, values: dict[str, int]) -> None:
    conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)"
                     " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                     [(k, str(v)) for k, v in values.items()])


def index_messages(conn: sqlite3.Connection, store_path: str, limit: int) -> int:
    """Up to ``limit`` messages, in one transaction of the index's: those
    stored since the last round first (after ``position``, oldest first), then,
    while the index is being built (``backlog``: the messages below it are not
    in it yet), the backlog newest first, so a rebuild finds recent messages
    first and never holds new ones back."""
    if not _attached(conn, _STORE):
        conn.execute(f"ATTACH DATABASE ? AS {_STORE}", (f"file:{Path(store_path).as_uri()[7:]}?mode=ro",))
    after = _meta(conn, "position")
    if after and after > _last_message(conn):
        # the store went back in time (a backup restored, writes lost at a power cut): the
        # index's rowids may name other messages now; build it again
        _rebuild(conn)
        after = None
    if after is None:  # an index being built: what is stored now is the backlog, what comes after is new
        after = _last_message(conn)
        _set_meta(conn, {"position": after, "backlog": after + 1})
    rows = conn.execute(f"SELECT rowid, text FROM {_STORE}.messages WHERE rowid > ? ORDER BY rowid LIMIT ?",
                        (after, limit)).fetchall()
    marks = {"position": rows[-1][0]} if rows else {}
    backlog = _meta(conn, "backlog")
    if backlog is not None and len(rows) < limit:
        older = conn.execute(f"SELECT rowid, text FROM {_STORE}.messages WHERE rowid < ? ORDER BY rowid DESC LIMIT ?",
                             (backlog, limit - len(rows))).fetchall()
        rows += older
        marks["backlog"] = older[-1][0] if older else 0
    if not rows:
        return 0
    docs = [(r[0], " ".join(text_terms(r[1]))) for r in rows if r[1]]
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany("INSERT INTO search_messages (rowid, terms) VALUES (?, ?)", docs)
        _set_meta(conn, {k: v for k, v in marks.items() if k != "backlog" or v})
        if marks.get("backlog") == 0:  # built: the backlog is done
            conn.execute("DELETE FROM meta WHERE key = 'backlog'")
        conn.execute("COMMIT")
    except BaseException:
        # a COMMIT that met a full disk or a failed write was rolled back by SQLite itself: a
        # ROLLBACK then fails ("no transaction is active") and would hide the outage behind it
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return len(rows)


def _last_message(conn: sqlite3.Connection) -> int:
    return int(conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {_STORE}.messages").fetchone()[0])


def _rebuild(conn: sqlite3.Connection) -> None:
    log.warning("the search index is ahead of the store's messages (a restored backup?): building it again")
    conn.executescript("BEGIN; DROP TABLE search_messages; DELETE FROM meta WHERE key IN ('position', 'backlog');"
                       " COMMIT;")
    conn.executescript(_CREATE)


class MessageIndex:
    """The index's file and its one writing connection, in a thread of the server.
    A store in memory (``:memory:``, whose data no other connection sees) has no
    index of messages: nothing of it is ever on disk."""

    def __init__(self, store_path: str, synchronous: Synchronous, cache_mb: int = CACHE_MB) -> None:
        self.store_path = store_path
        self.path = None if store_path == ":memory:" else str(index_path(store_path))
        self._conn = (None if self.path is None
                      else Connection(self.path, synchronous, "search-index", cache_mb=cache_mb))

    async def open(self, owner: str) -> None:
        if self._conn is not None:
            await self._conn.open()
            await self._conn.run_alone(lambda c: _prepare(c, self.store_path, owner))

    async def index(self, limit: int) -> int:
        if self._conn is None:
            return 0
        store_path = self.store_path
        return await self._conn.run_alone(lambda c: index_messages(c, store_path, limit))

    async def close(self) -> None:
        if self._conn is not None:
            await close_quietly(self._conn)
