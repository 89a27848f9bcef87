"""The store on PostgreSQL, for several nodes against one database (or one
node that outgrew SQLite). ``store.backend: postgres`` in config; the DSN, a
libpq URL, from ``OMNIROUTER_DATABASE_URL``.

Every node writes: a write is one transaction on a pooled connection
(``router.store.pg_engine``), holding the locks its method's docstring names
(``router.store.base``). The slices' SQL is in ``router/<slice>/postgres.py``."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime

from router.accounts.postgres import PostgresAccounts
from router.agents.postgres import PostgresAgentAdmin
from router.canned.postgres import PostgresCanned
from router.conversations.postgres import PostgresConversations
from router.csat.postgres import PostgresSurveys
from router.files.postgres import PostgresFiles
from router.identity.postgres import PostgresIdentity
from router.ingest.postgres import PostgresIngest
from router.ingest.postgres_batch import KnownIngests
from router.notes.postgres import PostgresNotes
from router.outbox.postgres import PostgresOutbox
from router.outbox.postgres_waiting import PostgresOutboxWaiting
from router.routing.postgres import PostgresRouting
from router.search.postgres import PostgresSearch
from router.signals.postgres import PostgresReads
from router.store.base import Store
from router.store.errors import StoreUnavailable
from router.store.faults import Episode
from router.store.pg_engine import STATEMENT_TIMEOUT, Pg, PgConn
from router.store.pg_migrations import migrate
from router.wallboard.postgres import PostgresWallboard
from router.webhooks.postgres import PostgresWebhooks

log = logging.getLogger(__name__)

POOL_SIZE = 10  # connections per node; PostgreSQL's default max_connections (100) serves 9 nodes


def redacted(dsn: str) -> str:
    """The DSN without its password, for logs and errors."""
    head, sep, tail = dsn.partition("@")
    if not sep or "://" not in head:
        return dsn
    scheme, _, user = head.partition("://")
    return f"{scheme}://{user.split(':', 1)[0]}@{tail}"


async def _secret(conn: PgConn, key: str, fresh: bytes) -> bytes:
    await conn.execute("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING", key, fresh)
    value: bytes = await conn.fetchval("SELECT value FROM meta WHERE key = $1", key)
    return value


async def _save_cursor(conn: PgConn, key: str, value: bytes) -> None:
    await conn.execute("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE"
                       " SET value = excluded.value", key, value)


async def _cursor(conn: PgConn, key: str) -> bytes | None:
    value: bytes | None = await conn.fetchval("SELECT value FROM meta WHERE key = $1", key)
    return value


async def _probe(conn: PgConn, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO meta (key, value) VALUES ('health:probe', $1)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        now.isoformat().encode(),
    )


class PostgresStore(PostgresAccounts, PostgresOutbox, PostgresIngest, PostgresConversations, PostgresIdentity,
                    PostgresRouting, PostgresOutboxWaiting, PostgresNotes, PostgresAgentAdmin, PostgresCanned,
                    PostgresReads, PostgresFiles, PostgresSurveys, PostgresSearch, PostgresWallboard,
                    PostgresWebhooks, Store):
    def __init__(self, dsn: str, pool_size: int = POOL_SIZE, statement_timeout: float = STATEMENT_TIMEOUT) -> None:
        self.dsn = dsn
        self.where = redacted(dsn)
        self.outage = Episode("postgres store: writes are failing", log)
        self._engine = Pg(dsn, self.outage, min_size=1, max_size=pool_size, statement_timeout=statement_timeout)
        self._known_ingests = KnownIngests()
        self._opened = False
        self.schema_versions = (0, 0)  # (found, reached) by the last open: migrations applied under the lock

    async def open(self) -> None:
        await self._engine.open()
        try:
            self.schema_versions = await self._engine.run_alone(lambda conn: migrate(conn, self.where))
        except BaseException:
            await self._engine.close()
            raise
        self._opened = True

    async def close(self) -> None:
        self._opened = False
        await self._engine.close()

    async def ping(self) -> None:
        """A real write, and no write failing lately: "ok" must mean a message
        could be stored now."""
        await self._pg.write(_probe, datetime.now(UTC))
        if (reason := self.outage.reason) is not None:
            raise StoreUnavailable(reason)

    def engine(self) -> Pg:
        """The pool, for the cluster's shared state beside the slices
        (``router.cluster``: send pace, login throttle)."""
        return self._pg

    @property
    def _pg(self) -> Pg:
        if not self._opened:
            raise RuntimeError("store is not open")
        return self._engine

    async def secret(self, name: str) -> bytes:
        return await self._pg.write(_secret, f"secret:{name}", secrets.token_bytes(32))

    async def cursor(self, key: str) -> str | None:
        value = await self._pg.read(_cursor, f"cursor:{key}")
        return None if value is None else value.decode()

    async def save_cursor(self, key: str, value: str) -> None:
        await self._pg.write(_save_cursor, f"cursor:{key}", value.encode())
