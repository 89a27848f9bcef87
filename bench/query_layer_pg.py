"""The PostgreSQL half of ``bench.query_layer``: a throwaway cluster of
Debian's server (``initdb`` + ``pg_ctl`` on a free port in a temp folder,
stopped at the end), the four tables the ingest touches translated from the
SQLite schema, and the ingest transaction as raw asyncpg (statements prepared
once per connection) and as SQLAlchemy Core's asyncio extension over asyncpg
(built per call, ``sqla``, and built once, ``sqla-pre``), each run from one
event loop over several connections at once.

The server runs with ``synchronous_commit=off``: like the SQLite store's WAL
with ``synchronous=NORMAL``, a commit waits for no fsync (a crash may lose the
last commits, never consistency), so the figures measure the query layers and
not this VM's disk.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bench import query_layer as q
from tests.postgres_server import PostgresServer, binaries

SCHEMA = """
CREATE TABLE customers (id TEXT PRIMARY KEY, display_name TEXT, attributes TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, merged_into TEXT REFERENCES customers(id),
    attribute_meta TEXT NOT NULL DEFAULT '{}');
CREATE TABLE identities (kind TEXT NOT NULL, value TEXT NOT NULL, customer_id TEXT NOT NULL REFERENCES customers(id),
    verified INTEGER NOT NULL DEFAULT 1, source TEXT NOT NULL DEFAULT 'channel', created_at TEXT NOT NULL,
    key_kind TEXT, key_value TEXT, link_reason TEXT, PRIMARY KEY (kind, value));
CREATE INDEX identities_customer ON identities(customer_id);
CREATE TABLE conversations (id TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers(id),
    status TEXT NOT NULL, team TEXT, agent_id TEXT, priority INTEGER NOT NULL DEFAULT 0, channel TEXT NOT NULL,
    route_reason TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, last_message_at TEXT NOT NULL,
    last_message_text TEXT, resolved_at TEXT, rules_version TEXT, route_trace TEXT, skills TEXT NOT NULL DEFAULT '{}',
    channel_kind TEXT NOT NULL DEFAULT 'chat', preferred_agent_id TEXT, assigned_at TEXT, opened_at TEXT);
CREATE UNIQUE INDEX conversations_one_open ON conversations(customer_id) WHERE status != 'resolved';
CREATE INDEX conversations_customer ON conversations(customer_id, created_at);
CREATE TABLE messages (id TEXT PRIMARY KEY, conversation_id TEXT REFERENCES conversations(id),
    customer_id TEXT REFERENCES customers(id), direction TEXT NOT NULL, author TEXT NOT NULL, agent_id TEXT,
    channel TEXT NOT NULL, external_id TEXT, sender_kind TEXT, sender_value TEXT, text TEXT NOT NULL,
    attachments TEXT NOT NULL DEFAULT '[]', extras TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL,
    delivery TEXT NOT NULL, delivery_error TEXT);
CREATE UNIQUE INDEX messages_dedupe ON messages(channel, external_id) WHERE direction = 'in';
CREATE INDEX messages_conversation ON messages(conversation_id, created_at);
CREATE INDEX messages_customer ON messages(customer_id, created_at);
CREATE INDEX messages_unrouted ON messages(created_at) WHERE conversation_id IS NULL;
"""

# today's SQL with PostgreSQL's placeholders
PG_SQL = {
    "dedupe": "SELECT * FROM messages WHERE channel = $1 AND external_id = $2 AND direction = 'in'",
    "identity": "SELECT c.* FROM identities i JOIN customers c ON c.id = i.customer_id"
                " WHERE i.kind = $1 AND i.value = $2",
    "open": "SELECT id FROM conversations WHERE customer_id = $1 AND status != 'resolved'",
    "insert": f"INSERT INTO messages ({', '.join(q.MESSAGE_COLUMNS)})"
              f" VALUES ({', '.join(f'${n}' for n in range(1, len(q.MESSAGE_COLUMNS) + 1))})",
    "touch": "UPDATE conversations SET channel = $1, updated_at = $2, last_message_at = $2, last_message_text = $3"
             " WHERE id = $4",
    "view": "SELECT c.*, cu.display_name AS customer_name FROM conversations c"
            " JOIN customers cu ON cu.id = c.customer_id WHERE c.id = $1",
}


class Cluster(PostgresServer):
    """The server as the bench runs it: commits wait for no fsync
    (``synchronous_commit=off``, as SQLite's WAL with ``synchronous=NORMAL``)."""

    def __init__(self) -> None:
        if binaries() is None:
            raise SystemExit("no PostgreSQL server under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
        super().__init__(durable=True)

    def start(self) -> None:
        super().start()
        self.psql("ALTER SYSTEM SET synchronous_commit = off")
        self.psql("SELECT pg_reload_conf()")


# -- the transaction on PostgreSQL ---------------------------------------------------


class RawWorker:
    """One asyncpg connection with the transaction's statements prepared."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.stmts: dict[str, Any] = {}

    async def prepare(self) -> None:
        self.stmts = {name: await self.conn.prepare(sql) for name, sql in PG_SQL.items()}

    async def ingest(self, m: q.Inbound) -> dict[str, Any]:
        s = self.stmts
        async with self.conn.transaction():
            if await s["dedupe"].fetchrow(m.channel, m.external_id) is not None:
                raise RuntimeError("a duplicate: the bench's messages are all new")
            customer = dict(await s["identity"].fetchrow(m.kind, m.value))
            conv_id = await s["open"].fetchval(customer["id"])
            row = m.row | {"conversation_id": conv_id, "customer_id": customer["id"]}
            await s["insert"].fetchrow(*(row[name] for name in q.MESSAGE_COLUMNS))
            await s["touch"].fetchrow(m.channel, m.now, m.preview, conv_id)
            view = dict(await s["view"].fetchrow(conv_id))
        return view


async def sqla_ingest(c: AsyncConnection, m: q.Inbound) -> dict[str, Any]:
    """``query_layer.sqla_ingest``, awaited."""
    async with c.begin():
        dedupe = select(q.messages).where(
            q.messages.c.channel == m.channel, q.messages.c.external_id == m.external_id,
            q.messages.c.direction == q.IN)
        if (await c.execute(dedupe)).first() is not None:
            raise RuntimeError("a duplicate: the bench's messages are all new")
        customer = dict((await c.execute(
            select(q.customers).join(q.identities, q.identities.c.customer_id == q.customers.c.id)
            .where(q.identities.c.kind == m.kind, q.identities.c.value == m.value)
        )).mappings().one())
        conv_id = (await c.execute(select(q.conversations.c.id).where(
            q.conversations.c.customer_id == customer["id"], q.conversations.c.status != q.RESOLVED))).scalar_one()
        await c.execute(insert(q.messages), m.row | {"conversation_id": conv_id, "customer_id": customer["id"]})
        await c.execute(update(q.conversations).where(q.conversations.c.id == conv_id).values(
            channel=m.channel, updated_at=m.now, last_message_at=m.now, last_message_text=m.preview))
        view = (await c.execute(
            select(q.conversations, q.customers.c.display_name.label("customer_name"))
            .join(q.customers, q.customers.c.id == q.conversations.c.customer_id)
            .where(q.conversations.c.id == conv_id)
        )).mappings().one()
    return dict(view)


async def sqla_pre_ingest(c: AsyncConnection, m: q.Inbound) -> dict[str, Any]:
    """``query_layer.sqla_pre_ingest``, awaited: the same statement objects."""
    async with c.begin():
        if (await c.execute(q.PRE_DEDUPE, {"p_channel": m.channel, "p_external_id": m.external_id})).first():
            raise RuntimeError("a duplicate: the bench's messages are all new")
        customer = dict((await c.execute(q.PRE_IDENTITY, {"p_kind": m.kind, "p_value": m.value})).mappings().one())
        conv_id = (await c.execute(q.PRE_OPEN, {"p_customer": customer["id"]})).scalar_one()
        await c.execute(q.PRE_INSERT, m.row | {"conversation_id": conv_id, "customer_id": customer["id"]})
        await c.execute(q.PRE_TOUCH, {"p_conv": conv_id, "p_channel": m.channel, "p_now": m.now,
                                      "p_preview": m.preview})
        view = (await c.execute(q.PRE_VIEW, {"p_conv": conv_id})).mappings().one()
    return dict(view)


# -- measuring ---------------------------------------------------------------------

Ingest = Callable[[q.Inbound], Awaitable[object]]


def _slowed(ingest: Ingest, seconds: float) -> Ingest:
    """A control: raw asyncpg whose client then burns ``seconds`` of CPU, as a
    slower query layer would. Shows how much of the server's CPU per
    transaction follows the client's speed on a shared machine, whatever the SQL."""
    async def slowed(m: q.Inbound) -> object:
        result = await ingest(m)
        until = time.perf_counter() + seconds
        while time.perf_counter() < until:
            pass
        return result
    return slowed


async def _worker(ingest: Ingest, batch: list[q.Inbound], latencies: list[float]) -> None:
    for m in batch:
        start = time.perf_counter()
        await ingest(m)
        latencies.append(time.perf_counter() - start)


async def timed(cluster: Cluster, ingests: list[Ingest], batches: list[list[q.Inbound]], fig: q.Figures) -> None:
    """Each connection's worker runs its batch; all of them at once."""
    gc.collect()
    server0, cpu0, wall0 = cluster.cpu_seconds(), time.process_time(), time.perf_counter()
    await asyncio.gather(*(_worker(ingest, batch, fig.latencies) for ingest, batch in zip(ingests, batches,
                                                                                          strict=True)))
    wall, count = time.perf_counter() - wall0, sum(len(b) for b in batches)
    fig.cpu.append((time.process_time() - cpu0) / count)
    fig.server_cpu.append((cluster.cpu_seconds() - server0) / count)
    fig.rate.append(count / wall)


async def seed(dsn: str, customer_count: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(SCHEMA)
        async with conn.transaction():
            for sql, params in q.seed_rows(customer_count):
                numbered = sql
                for n in range(1, sql.count("?") + 1):
                    numbered = numbered.replace("?", f"${n}", 1)
                await conn.execute(numbered, *params)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def connections(dsn: str, sqla_url: str, count: int) -> AsyncIterator[tuple[list[RawWorker], list[Any]]]:
    raw = [RawWorker(await asyncpg.connect(dsn)) for _ in range(count)]
    engine: AsyncEngine = create_async_engine(sqla_url, pool_size=count, max_overflow=0)
    held = [await engine.connect() for _ in range(count)]
    try:
        for worker in raw:
            await worker.prepare()
        yield raw, held
    finally:
        for c in held:
            await c.close()
        await engine.dispose()
        for worker in raw:
            await worker.conn.close()


def _batches(tag: str, args: argparse.Namespace, round_no: int) -> list[list[q.Inbound]]:
    per = args.transactions // args.connections
    tag = re.sub(r"\W", "", tag)
    return [q.inbounds(f"{tag}{round_no}w{w}", per, args.customers, round_no * args.connections + w, args.connections)
            for w in range(args.connections)]


async def postgres_part(args: argparse.Namespace) -> None:
    cluster = Cluster()
    try:
        cluster.start()
        await seed(cluster.dsn(), args.customers)
        sqla_url = cluster.dsn().replace("postgresql://", "postgresql+asyncpg://", 1)
        async with connections(cluster.dsn(), sqla_url, args.connections) as (raw, held):
            version = await raw[0].conn.fetchval("SHOW server_version")
            print(f"\nPostgreSQL {version}, asyncpg {asyncpg.__version__}, {args.connections} connections on one"
                  f" event loop, {args.transactions} transactions per variant per round, {args.rounds} rounds")
            variants: dict[str, list[Ingest]] = {
                "raw asyncpg": [w.ingest for w in raw],
                "sqla asyncpg": [functools.partial(sqla_ingest, c) for c in held],
                "sqla-pre asyncpg": [functools.partial(sqla_pre_ingest, c) for c in held],
            }
            if args.control:
                variants["raw, slowed"] = [_slowed(w.ingest, args.control / 1e6) for w in raw]
            results = {name: q.Figures() for name in variants}
            for name, ingests in variants.items():  # warm: statement caches, the server's buffers
                await timed(cluster, ingests, _batches(f"warm{name}", args, 0), q.Figures())
            for round_no in range(args.rounds):
                order = list(variants) if round_no % 2 == 0 else list(reversed(variants))
                for name in order:
                    await timed(cluster, variants[name], _batches(name, args, round_no + 1),
                                results[name])
        q.report("PostgreSQL: the ingest transaction (latency under concurrency; CPU: client process, server)",
                 results, "raw asyncpg")
    finally:
        cluster.stop()
