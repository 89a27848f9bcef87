"""The embedded store: SQLite in WAL mode.

Each connection lives on its own thread (the aiosqlite pattern), and every
store method is one function run there: a whole transaction costs one hop off
the event loop instead of one per statement. One writer connection (SQLite
has one writer at a time anyway) and one reader, which WAL lets run beside it.
The service runs the writer in a child process instead (``store.writer``),
for the GIL's sake under high message rates (see ``_Connection``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from router.accounts.sqlite import SQLiteAccounts
from router.conversations.sqlite import SQLiteConversations
from router.identity.sqlite import SQLiteIdentity
from router.ingest.sqlite import SQLiteIngest
from router.models import (
    AgentPresence,
    ConversationStatus,
    ConversationView,
    Presence,
)
from router.outbox.sqlite import SQLiteOutbox
from router.store.base import ReleasedOffer, Store
from router.store.checkpoint import checkpoint_regularly
from router.store.engine import CLOSE_TIMEOUT, WriterMode
from router.store.engine import Connection as _Connection
from router.store.engine import close_quietly as _closed
from router.store.engine import truncate_wal as _truncate_wal
from router.store.errors import ConflictError, NotFound, StoreError, StoreUnavailable
from router.store.faults import Episode
from router.store.migrations import MIGRATIONS
from router.store.rows import CONVERSATION_SELECT as _CONV_SELECT
from router.store.rows import conversation_row as _conversation
from router.store.rows import conversation_view as _conv_view
from router.store.rows import execute as _execute
from router.store.rows import fetch_all as _all
from router.store.rows import fetch_one as _one
from router.store.rows import from_ts as _ts
from router.store.rows import ts
from router.store.sqlite_db import Synchronous

log = logging.getLogger(__name__)

T = TypeVar("T")
CHECKPOINT_INTERVAL = 1.0  # seconds
BULK_CHUNK = 50_000  # rows per transaction of bulk_load


def _migrate(conn: sqlite3.Connection, path: str) -> None:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"{path} has schema version {version}, newer than this omnirouter ({len(MIGRATIONS)}); upgrade omnirouter"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        log.info("applying schema migration %d to %s", number, path)
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")


# -- the units of work, each run on the writer's or reader's thread -----------------


def _secret(conn: sqlite3.Connection, key: str, fresh: bytes) -> bytes:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING", (key, fresh))
    row = _one(conn, "SELECT value FROM meta WHERE key = ?", (key,))
    assert row is not None
    return bytes(row[0])


def _presence(r: sqlite3.Row) -> AgentPresence:
    return AgentPresence(agent_id=r["agent_id"], presence=Presence(r["presence"]), changed_at=_ts(r["changed_at"]),
                         idle_since=_ts(r["idle_since"]))


def _set_presence(conn: sqlite3.Connection, agent_id: str, presence: Presence, now: str) -> AgentPresence:
    if _one(conn, "SELECT 1 FROM agents WHERE id = ?", (agent_id,)) is None:
        raise NotFound(f"agent {agent_id}")
    # idle time restarts when an agent comes online, not when they step away and back
    conn.execute(
        "INSERT INTO agent_presence (agent_id, presence, changed_at, idle_since) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (agent_id) DO UPDATE SET presence = excluded.presence, changed_at = excluded.changed_at,"
        " idle_since = CASE WHEN agent_presence.presence = 'offline' THEN excluded.idle_since"
        " ELSE agent_presence.idle_since END",
        (agent_id, presence.value, now, now),
    )
    row = _one(conn, "SELECT * FROM agent_presence WHERE agent_id = ?", (agent_id,))
    assert row is not None
    return _presence(row)


def _offer(
    conn: sqlite3.Connection, conversation_id: str, agent_id: str, capacity: int, now: str,
    expected: frozenset[ConversationStatus],
) -> ConversationView:
    row = _one(conn, "SELECT status, channel_kind, agent_id FROM conversations WHERE id = ?", (conversation_id,))
    if row is None:
        raise NotFound(f"conversation {conversation_id}")
    if ConversationStatus(row["status"]) not in expected or row["agent_id"] == agent_id:
        raise ConflictError(f"conversation {conversation_id} is {row['status']}")
    load = _one(
        conn, "SELECT COUNT(*) FROM conversations WHERE status = 'assigned' AND agent_id = ? AND channel_kind = ?",
        (agent_id, row["channel_kind"]),
    )
    if load is not None and load[0] >= capacity:
        raise ConflictError(f"agent {agent_id} is at capacity for {row['channel_kind']} ({capacity})")
    conn.execute(
        "UPDATE conversations SET status = 'assigned', agent_id = ?, assigned_at = ?, opened_at = NULL,"
        " updated_at = ? WHERE id = ?",
        (agent_id, now, now, conversation_id),
    )
    conn.execute("UPDATE agent_presence SET idle_since = ? WHERE agent_id = ?", (now, agent_id))
    return _conv_view(conn, conversation_id)


def _release_offers(
    conn: sqlite3.Connection, agent_id: str | None, now: str, offered_before: str | None
) -> list[ReleasedOffer]:
    where = "status = 'assigned' AND assigned_at IS NOT NULL AND opened_at IS NULL"
    params: list[Any] = []
    if agent_id is not None:
        where += " AND agent_id = ?"
        params.append(agent_id)
    if offered_before is not None:
        where += " AND assigned_at < ?"
        params.append(offered_before)
    # the agent is read before the update clears it: the caller says whose offer lapsed
    offers = [(r[0], r[1]) for r in _all(conn, f"SELECT id, agent_id FROM conversations WHERE {where}", params)]
    for conversation_id, _ in offers:
        conn.execute(
            "UPDATE conversations SET status = 'queued', agent_id = NULL, assigned_at = NULL, updated_at = ?"
            " WHERE id = ?",
            (now, conversation_id),
        )
    return [ReleasedOffer(_conv_view(conn, i), agent) for i, agent in offers]


# /healthz's probe: a row rewritten, so a page goes to the WAL like a message's
_PROBE = ("INSERT INTO meta (key, value) VALUES ('health:probe', ?)"
          " ON CONFLICT (key) DO UPDATE SET value = excluded.value")


class SQLiteStore(SQLiteAccounts, SQLiteOutbox, SQLiteIngest, SQLiteConversations, SQLiteIdentity, Store):
    def __init__(self, path: str | Path, synchronous: Synchronous = "normal", writer: WriterMode = "thread") -> None:
        self.path = str(path)
        self.synchronous = synchronous
        # separate connections to ":memory:" are separate databases: there, nothing leaves the process
        self.writer_mode: WriterMode = "thread" if self.path == ":memory:" else writer
        self._writer: _Connection | None = None
        self._reader: _Connection | None = None
        self._checkpointer: _Connection | None = None
        self._checkpoints: asyncio.Task[None] | None = None
        # writes failing: one log line as it starts, one as it ends; /healthz fails meanwhile
        self.outage = Episode("sqlite store: writes are failing", log)

    # -- lifecycle ------------------------------------------------------------
    async def open(self) -> None:
        if self.path != ":memory:":
            folder = Path(self.path).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a file in the way, no permission: the store's own fault, said as such
                why = "a file is in the way" if folder.is_file() else exc.strerror
                raise StoreUnavailable(f"its folder {folder} cannot be created ({why})") from exc
        writer = _Connection(self.path, self.synchronous, "writer", process=self.writer_mode == "process",
                             episode=self.outage)
        try:
            await writer.open()
            await writer.run_alone(functools.partial(_migrate, path=self.path))
        except BaseException:
            await _closed(writer)
            raise
        self._writer = writer
        self._reader = _Connection(self.path, self.synchronous, "reader")
        await self._reader.open(read_only=True)
        self._checkpointer = _Connection(self.path, self.synchronous, "checkpoint")
        await self._checkpointer.open(read_only=True)
        self._checkpoints = asyncio.create_task(
            checkpoint_regularly(self._checkpointer.call, CHECKPOINT_INTERVAL), name="sqlite-checkpoint"
        )

    async def ping(self) -> None:
        """A real write (a page into the WAL), and no write failing lately:
        "ok" must mean a message could be stored now."""
        await self._w.call(_execute, _PROBE, (ts(datetime.now(UTC)),))
        if (reason := self.outage.reason) is not None:
            raise StoreUnavailable(reason)

    async def close(self) -> None:
        """Bounded whatever the disk does: each step's failure is logged and
        the next one still runs (a writer process left open would keep the
        server from exiting)."""
        if self._checkpoints is not None:
            self._checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoints
            self._checkpoints = None
        if self._writer is not None:
            try:
                await asyncio.wait_for(self._writer.run_alone(_truncate_wal), CLOSE_TIMEOUT)
            except (StoreError, TimeoutError) as exc:
                log.warning("sqlite store: the WAL was not folded into the database on close: %s", exc)
        for conn in (self._checkpointer, self._reader, self._writer):
            if conn is not None:
                await _closed(conn)
        self._checkpointer = self._reader = self._writer = None

    @property
    def _w(self) -> _Connection:
        if self._writer is None:
            raise RuntimeError("store is not open")
        return self._writer

    @property
    def _r(self) -> _Connection:
        if self._reader is None:
            raise RuntimeError("store is not open")
        return self._reader

    # -- secrets -----------------------------------------------------------
    async def secret(self, name: str) -> bytes:
        return await self._w.call(_secret, f"secret:{name}", secrets.token_bytes(32))

    # -- customers ----------------------------------------------------------------
    async def customer_conversations(self, customer_id: str) -> list[ConversationView]:
        rows = await self._r.call(
            _all, _CONV_SELECT + " WHERE c.customer_id = ? ORDER BY c.created_at DESC", (customer_id,)
        )
        return [_conversation(r) for r in rows]

    # -- identity: claims, merges, audit ---------------------------------------------------
    # -- assignment ------------------------------------------------------------------------
    async def set_presence(self, agent_id: str, presence: Presence, now: datetime) -> AgentPresence:
        return await self._w.call(_set_presence, agent_id, presence, ts(now))

    async def list_presence(self) -> list[AgentPresence]:
        return [_presence(r) for r in await self._r.call(_all, "SELECT * FROM agent_presence ORDER BY agent_id")]

    async def queued_conversations(self, limit: int) -> list[ConversationView]:
        rows = await self._r.call(
            _all, _CONV_SELECT + " WHERE c.status = 'queued' ORDER BY c.priority DESC, c.created_at LIMIT ?", (limit,)
        )
        return [_conversation(r) for r in rows]

    async def agent_loads(self) -> dict[str, dict[str, int]]:
        rows = await self._r.call(
            _all,
            "SELECT agent_id, channel_kind, COUNT(*) FROM conversations WHERE status = 'assigned'"
            " AND agent_id IS NOT NULL GROUP BY agent_id, channel_kind",
        )
        loads: dict[str, dict[str, int]] = {}
        for agent_id, kind, count in rows:
            loads.setdefault(agent_id, {})[kind] = count
        return loads

    async def offer(
        self, conversation_id: str, agent_id: str, capacity: int, now: datetime,
        *, expected: frozenset[ConversationStatus] = frozenset({ConversationStatus.QUEUED}),
    ) -> ConversationView:
        return await self._w.call(_offer, conversation_id, agent_id, capacity, ts(now), expected)

    async def release_offers(self, agent_id: str | None, now: datetime, offered_before: datetime | None = None
                             ) -> list[ReleasedOffer]:
        before = ts(offered_before) if offered_before is not None else None
        return await self._w.call(_release_offers, agent_id, ts(now), before)

    async def awaiting_first_response(self, limit: int, created_before: datetime | None = None
                                      ) -> list[ConversationView]:
        rows = await self._r.call(
            _all,
            _CONV_SELECT + " WHERE c.status IN ('queued', 'assigned') AND c.created_at < ? AND NOT EXISTS"
            " (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'out' AND m.author = 'agent')"
            " ORDER BY c.created_at LIMIT ?",
            # every stored time sorts before "9999": no bound
            (ts(created_before) if created_before is not None else "9999", limit),
        )
        return [_conversation(r) for r in rows]

    async def mark_opened(self, conversation_id: str, agent_id: str, now: datetime) -> None:
        await self._w.call(
            _execute,
            "UPDATE conversations SET opened_at = ? WHERE id = ? AND agent_id = ? AND status = 'assigned'"
            " AND opened_at IS NULL",
            (ts(now), conversation_id, agent_id),
        )
