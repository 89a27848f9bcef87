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
import functools
import logging
import secrets
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from router.accounts.sqlite import SQLiteAccounts
from router.agents.sqlite import SQLiteAgentAdmin
from router.aio import cancel_and_wait
from router.canned.sqlite import SQLiteCanned
from router.conversations.sqlite import SQLiteConversations
from router.csat.sqlite import SQLiteSurveys
from router.files.sqlite import SQLiteFiles
from router.identity.sqlite import SQLiteIdentity
from router.ingest.sqlite import SQLiteIngest
from router.notes.sqlite import SQLiteNotes
from router.outbox.sqlite import SQLiteOutbox, expire_leases
from router.reports.sqlite import SQLiteReports
from router.routing.sqlite import SQLiteRouting
from router.search.sqlite import SQLiteSearch
from router.signals.sqlite import SQLiteReads
from router.store import sqlite_units as units
from router.store.base import Store
from router.store.checkpoint import checkpoint_regularly
from router.store.engine import CLOSE_TIMEOUT, GROUP_COMMIT, WriterMode
from router.store.engine import Connection as _Connection
from router.store.engine import close_quietly as _closed
from router.store.engine import truncate_wal as _truncate_wal
from router.store.errors import StoreError, StoreUnavailable
from router.store.faults import Episode
from router.store.migrations import MIGRATIONS
from router.store.rows import ts
from router.store.sqlite_db import CACHE_MB, Synchronous
from router.wallboard.sqlite import SQLiteWallboard
from router.webhooks.sqlite import SQLiteWebhooks, expire_webhook_leases

# the oldest SQLite the store runs on: the ingest and the snooze sweep use RETURNING (3.35)
MIN_SQLITE = (3, 35, 0)
log = logging.getLogger(__name__)

T = TypeVar("T")
CHECKPOINT_INTERVAL = 1.0  # seconds
BULK_CHUNK = 50_000  # rows per transaction of bulk_load


class SQLiteStore(SQLiteAccounts, SQLiteOutbox, SQLiteIngest, SQLiteConversations, SQLiteIdentity, SQLiteRouting,
                  SQLiteNotes, SQLiteAgentAdmin, SQLiteCanned, SQLiteReads, SQLiteFiles, SQLiteSurveys, SQLiteSearch,
                  SQLiteWallboard, SQLiteWebhooks, SQLiteReports, Store):
    def __init__(self, path: str | Path, synchronous: Synchronous = "normal", writer: WriterMode = "thread",
                 cache_mb: int = CACHE_MB, group_commit: float = GROUP_COMMIT) -> None:
        self.path = self.where = str(path)
        self.synchronous = synchronous
        self.cache_mb = cache_mb  # each connection's page cache, MiB
        self.group_commit = group_commit  # seconds between the writer's batches while several write at once
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
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            # refused at the start, not with a syntax error on every message
            raise StoreUnavailable(
                f"SQLite {sqlite3.sqlite_version} is too old: omnirouter needs {'.'.join(map(str, MIN_SQLITE))} or"
                " newer (UPDATE ... RETURNING); use a Python linked with a newer SQLite, or store.backend: postgres")
        if self.path != ":memory:":
            folder = Path(self.path).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a file in the way, no permission: the store's own fault, said as such
                why = "a file is in the way" if folder.is_file() else exc.strerror
                raise StoreUnavailable(f"its folder {folder} cannot be created ({why})") from exc
        writer = _Connection(self.path, self.synchronous, "writer", process=self.writer_mode == "process",
                             episode=self.outage, cache_mb=self.cache_mb, group_commit=self.group_commit)
        try:
            await writer.open()
            await writer.run_alone(functools.partial(units.migrate, path=self.path, scripts=MIGRATIONS))
            await writer.run_alone(expire_leases)  # this node's start: what it had leased goes again
            await writer.run_alone(expire_webhook_leases)
        except BaseException:
            await _closed(writer)
            raise
        self._writer = writer
        self._reader = _Connection(self.path, self.synchronous, "reader", cache_mb=self.cache_mb)
        await self._reader.open(read_only=True)
        await self.open_search()  # router/search/: its index of messages beside the store
        self._checkpointer = _Connection(self.path, self.synchronous, "checkpoint", cache_mb=self.cache_mb)
        await self._checkpointer.open(read_only=True)
        self._checkpoints = asyncio.create_task(
            checkpoint_regularly(self._checkpointer.call, CHECKPOINT_INTERVAL, writer.after_batch),
            name="sqlite-checkpoint",
        )

    async def ping(self) -> None:
        """A real write (a page into the WAL), and no write failing lately:
        "ok" must mean a message could be stored now."""
        await self._w.call(units.probe, ts(datetime.now(UTC)))
        if (reason := self.outage.reason) is not None:
            raise StoreUnavailable(reason)

    async def close(self) -> None:
        """Bounded whatever the disk does: each step's failure is logged and
        the next one still runs (a writer process left open would keep the
        server from exiting)."""
        if self._checkpoints is not None:
            await cancel_and_wait(self._checkpoints)
            self._checkpoints = None
        await self.close_search()
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
        return await self._w.call(units.secret, f"secret:{name}", secrets.token_bytes(32))

    # -- pollers' positions (router.store.cursors) ---------------------------
    async def cursor(self, key: str) -> str | None:
        value = await self._w.call(units.cursor, f"cursor:{key}")  # the writer's: what it saved last, never older
        return None if value is None else value.decode()

    async def save_cursor(self, key: str, value: str) -> None:
        await self._w.call(units.save_cursor, f"cursor:{key}", value.encode())
