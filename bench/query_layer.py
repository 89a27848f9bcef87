"""Would a shared query layer cost us speed? (issue 20, point 7)

Times one hot transaction, the ingest of an inbound message from a returning
customer with an open conversation (what ``router.store.sqlite._ingest`` does
then: the dedupe lookup, the identity lookup, the open-conversation lookup,
the message's insert, the conversation's touch, and the conversation's view
read back), written four ways:

- SQLite, raw ``sqlite3`` with our SQL strings (today's store);
- SQLite, SQLAlchemy Core 2.x building the same statements (``Table``,
  ``select``, ``insert``, ``update``; the compiled cache on, as by default):
  ``sqla`` builds each statement per call as code usually does, ``sqla-pre``
  builds them once with ``bindparam`` (the cheapest Core can be);
- PostgreSQL (a throwaway cluster of Debian's server, started and stopped
  here, ``bench.query_layer_pg``): raw asyncpg with prepared statements
  against SQLAlchemy Core's asyncio extension over asyncpg, several
  connections driven from one event loop.

The SQLite schema is the real one (a ``SQLiteStore`` opens the file and
applies ``router.store.migrations``); the PostgreSQL one is its translation.
For scale, ``store.ingest`` times the whole store call of today (the writer
in a thread: the hop, pydantic, the same SQL).

Rounds run every variant in turn (interleaved), so the machine's noise shows
as the spread across rounds. ``--control µs`` adds raw asyncpg slowed by that
much client CPU per transaction: how the server's CPU per transaction follows
a slower client on a shared machine, whatever the SQL. Prints per variant: median and p99 latency per
transaction, CPU per transaction (this process; and PostgreSQL's server
processes), transactions per second, and the ratios against raw.

Needs the ``bench`` extra (SQLAlchemy, asyncpg), and PostgreSQL's server
binaries under /usr/lib/postgresql/*/bin for its part (``--no-postgres`` skips it):

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python -m bench.query_layer --transactions 1000 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    Table,
    Text,
    bindparam,
    create_engine,
    event,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.expression import ColumnClause

from router.models import IdentityRef, InboundMessage
from router.store.rows import ts
from router.store.sqlite import SQLiteStore
from router.store.sqlite_db import Db

# -- the tables, as a shared layer would declare them once for both backends ---------

META = MetaData()
customers = Table(
    "customers", META,
    Column("id", Text, primary_key=True), Column("display_name", Text), Column("attributes", Text),
    Column("created_at", Text), Column("updated_at", Text), Column("merged_into", Text),
    Column("attribute_meta", Text),
)
identities = Table(
    "identities", META,
    Column("kind", Text, primary_key=True), Column("value", Text, primary_key=True), Column("customer_id", Text),
    Column("verified", Integer), Column("source", Text), Column("created_at", Text), Column("key_kind", Text),
    Column("key_value", Text), Column("link_reason", Text),
)
_CONVERSATION_TEXT = ("customer_id", "status", "team", "agent_id", "channel", "route_reason", "created_at",
                      "updated_at", "last_message_at", "last_message_text", "resolved_at", "rules_version",
                      "route_trace", "skills", "channel_kind", "preferred_agent_id", "assigned_at", "opened_at")
conversations = Table(
    "conversations", META, Column("id", Text, primary_key=True), Column("priority", Integer),
    *(Column(name, Text) for name in _CONVERSATION_TEXT),
)
MESSAGE_COLUMNS = ("id", "conversation_id", "customer_id", "direction", "author", "agent_id", "channel", "external_id",
                   "sender_kind", "sender_value", "text", "attachments", "extras", "created_at", "delivery",
                   "delivery_error")
messages = Table("messages", META, *(Column(name, Text, primary_key=name == "id") for name in MESSAGE_COLUMNS))

# literal, not bound: only a literal lets the planner use the partial indexes
# (messages_dedupe: direction = 'in'; conversations_one_open: status != 'resolved')
IN: ColumnClause[str] = literal_column("'in'")
RESOLVED: ColumnClause[str] = literal_column("'resolved'")

# -- today's SQL (router/store/sqlite.py) ----------------------------------------------

SQL_DEDUPE = "SELECT * FROM messages WHERE channel = ? AND external_id = ? AND direction = 'in'"
SQL_IDENTITY = "SELECT c.* FROM identities i JOIN customers c ON c.id = i.customer_id WHERE i.kind = ? AND i.value = ?"
SQL_OPEN = "SELECT id FROM conversations WHERE customer_id = ? AND status != 'resolved'"
SQL_INSERT = (f"INSERT INTO messages ({', '.join(MESSAGE_COLUMNS)})"
              f" VALUES ({', '.join(':' + name for name in MESSAGE_COLUMNS)})")
SQL_TOUCH = ("UPDATE conversations SET channel = ?, updated_at = ?, last_message_at = ?, last_message_text = ?"
             " WHERE id = ?")
SQL_VIEW = ("SELECT c.*, cu.display_name AS customer_name FROM conversations c"
            " JOIN customers cu ON cu.id = c.customer_id WHERE c.id = ?")


@dataclass(frozen=True)
class Inbound:
    """One message to ingest, its parameters made before the clock starts
    (the same for every variant)."""

    channel: str
    external_id: str
    kind: str
    value: str
    row: dict[str, Any]  # the messages row, without conversation_id / customer_id
    now: str
    preview: str


def inbounds(tag: str, count: int, customer_count: int, offset: int = 0, step: int = 1) -> list[Inbound]:
    """``count`` messages from customers ``offset``, ``offset + step``, ...
    (disjoint sets for concurrent workers: no two wait on one row)."""
    now = ts(datetime.now(UTC))
    out = []
    for n in range(count):
        who = (offset + n * step) % customer_count
        text = f"message {n} from customer {who}: where is my order?"
        row = {"id": f"msg_{tag}_{n}", "direction": "in", "author": "customer", "agent_id": None,
               "channel": "telegram", "external_id": f"{tag}-{n}", "sender_kind": "telegram",
               "sender_value": f"u{who}", "text": text, "attachments": "[]",
               "extras": json.dumps({"sender_name": f"Customer {who}"}), "created_at": now, "delivery": "received",
               "delivery_error": None}
        out.append(Inbound("telegram", f"{tag}-{n}", "telegram", f"u{who}", row, now, text[:200]))
    return out


def seed_rows(customer_count: int) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """Each customer: a telegram identity, an open conversation, five messages."""
    now = ts(datetime.now(UTC))
    for n in range(customer_count):
        cid, conv = f"cus_{n}", f"conv_{n}"
        yield "INSERT INTO customers (id, display_name, created_at, updated_at) VALUES (?, ?, ?, ?)", (
            cid, f"Customer {n}", now, now)
        yield ("INSERT INTO identities (kind, value, customer_id, created_at) VALUES ('telegram', ?, ?, ?)",
               (f"u{n}", cid, now))
        yield ("INSERT INTO conversations (id, customer_id, status, team, channel, created_at, updated_at,"
               " last_message_at, agent_id) VALUES (?, ?, 'assigned', 'support', 'telegram', ?, ?, ?, 'agt_1')",
               (conv, cid, now, now, now))
        for k in range(5):
            yield ("INSERT INTO messages (id, conversation_id, customer_id, direction, author, channel, external_id,"
                   " sender_kind, sender_value, text, created_at, delivery)"
                   " VALUES (?, ?, ?, 'in', 'customer', 'telegram', ?, 'telegram', ?, 'hello', ?, 'received')",
                   (f"msg_seed_{n}_{k}", conv, cid, f"seed-{n}-{k}", f"u{n}", now))


# -- the transaction, three ways on SQLite ---------------------------------------------


def raw_ingest(conn: sqlite3.Connection, m: Inbound) -> dict[str, Any]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute(SQL_DEDUPE, (m.channel, m.external_id)).fetchone() is not None:
            raise RuntimeError("a duplicate: the bench's messages are all new")
        found = conn.execute(SQL_IDENTITY, (m.kind, m.value)).fetchone()
        customer = {k: found[k] for k in found.keys()}  # noqa: SIM118 (a Row is no dict)
        conv_id = conn.execute(SQL_OPEN, (customer["id"],)).fetchone()["id"]
        conn.execute(SQL_INSERT, m.row | {"conversation_id": conv_id, "customer_id": customer["id"]})
        conn.execute(SQL_TOUCH, (m.channel, m.now, m.now, m.preview, conv_id))
        view = conn.execute(SQL_VIEW, (conv_id,)).fetchone()
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return {k: view[k] for k in view.keys()}  # noqa: SIM118


def sqla_ingest(c: Connection, m: Inbound) -> dict[str, Any]:
    """Each statement built per call, as Core code is usually written."""
    with c.begin():
        dedupe = select(messages).where(
            messages.c.channel == m.channel, messages.c.external_id == m.external_id, messages.c.direction == IN)
        if c.execute(dedupe).first() is not None:
            raise RuntimeError("a duplicate: the bench's messages are all new")
        customer = dict(c.execute(
            select(customers).join(identities, identities.c.customer_id == customers.c.id)
            .where(identities.c.kind == m.kind, identities.c.value == m.value)
        ).mappings().one())
        conv_id = c.execute(select(conversations.c.id).where(
            conversations.c.customer_id == customer["id"], conversations.c.status != RESOLVED)).scalar_one()
        c.execute(insert(messages), m.row | {"conversation_id": conv_id, "customer_id": customer["id"]})
        c.execute(update(conversations).where(conversations.c.id == conv_id).values(
            channel=m.channel, updated_at=m.now, last_message_at=m.now, last_message_text=m.preview))
        view = c.execute(
            select(conversations, customers.c.display_name.label("customer_name"))
            .join(customers, customers.c.id == conversations.c.customer_id).where(conversations.c.id == conv_id)
        ).mappings().one()
    return dict(view)


# built once, with named parameters: Core at its cheapest
PRE_DEDUPE = select(messages).where(messages.c.channel == bindparam("p_channel"),
                                    messages.c.external_id == bindparam("p_external_id"), messages.c.direction == IN)
PRE_IDENTITY = (select(customers).join(identities, identities.c.customer_id == customers.c.id)
                .where(identities.c.kind == bindparam("p_kind"), identities.c.value == bindparam("p_value")))
PRE_OPEN = select(conversations.c.id).where(conversations.c.customer_id == bindparam("p_customer"),
                                            conversations.c.status != RESOLVED)
PRE_INSERT = insert(messages)
PRE_TOUCH = update(conversations).where(conversations.c.id == bindparam("p_conv")).values(
    channel=bindparam("p_channel"), updated_at=bindparam("p_now"), last_message_at=bindparam("p_now"),
    last_message_text=bindparam("p_preview"))
PRE_VIEW = (select(conversations, customers.c.display_name.label("customer_name"))
            .join(customers, customers.c.id == conversations.c.customer_id)
            .where(conversations.c.id == bindparam("p_conv")))


def sqla_pre_ingest(c: Connection, m: Inbound) -> dict[str, Any]:
    with c.begin():
        if c.execute(PRE_DEDUPE, {"p_channel": m.channel, "p_external_id": m.external_id}).first() is not None:
            raise RuntimeError("a duplicate: the bench's messages are all new")
        customer = dict(c.execute(PRE_IDENTITY, {"p_kind": m.kind, "p_value": m.value}).mappings().one())
        conv_id = c.execute(PRE_OPEN, {"p_customer": customer["id"]}).scalar_one()
        c.execute(PRE_INSERT, m.row | {"conversation_id": conv_id, "customer_id": customer["id"]})
        c.execute(PRE_TOUCH, {"p_conv": conv_id, "p_channel": m.channel, "p_now": m.now, "p_preview": m.preview})
        view = c.execute(PRE_VIEW, {"p_conv": conv_id}).mappings().one()
    return dict(view)


# -- measuring ---------------------------------------------------------------------


@dataclass
class Figures:
    """One variant's runs: every transaction's latency, and per round the
    CPU per transaction and the throughput."""

    latencies: list[float] = field(default_factory=list)  # seconds
    cpu: list[float] = field(default_factory=list)  # seconds of this process per transaction, per round
    server_cpu: list[float] = field(default_factory=list)  # seconds of the database server's, per round
    rate: list[float] = field(default_factory=list)  # transactions per second, per round


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def spread(values: list[float], scale: float = 1.0, digits: int = 0) -> str:
    """median [min–max] across rounds."""
    if not values:
        return "-"
    med, low, high = (round(v * scale, digits) for v in (statistics.median(values), min(values), max(values)))
    return f"{med:g} [{low:g}–{high:g}]"


def report(title: str, results: dict[str, Figures], base: str) -> None:
    print(f"\n{title}")
    print(f"{'variant':<17}{'p50 µs':>8}{'p99 µs':>8}{'CPU µs/tx (rounds)':>24}"
          f"{'server CPU µs/tx':>20}{'tx/s (rounds)':>22}{'CPU ÷ base':>20}{'base tx/s ÷ tx/s':>20}")
    for name, fig in results.items():
        ratios = [a / b for a, b in zip(fig.cpu, results[base].cpu, strict=True)]
        slower = [b / a for a, b in zip(fig.rate, results[base].rate, strict=True)]
        print(f"{name:<17}{quantile(fig.latencies, 0.5) * 1e6:>8.0f}{quantile(fig.latencies, 0.99) * 1e6:>8.0f}"
              f"{spread(fig.cpu, 1e6):>24}{spread(fig.server_cpu, 1e6):>20}{spread(fig.rate):>22}"
              f"{spread(ratios, 1, 2):>20}{spread(slower, 1, 2):>20}")
    print(f"(base: {base}; ratios are taken within each round, then the median [min–max] across rounds)")


def timed(fn: Callable[[Inbound], object], batch: list[Inbound], fig: Figures) -> None:
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for m in batch:
        start = time.perf_counter()
        fn(m)
        fig.latencies.append(time.perf_counter() - start)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    fig.cpu.append(cpu / len(batch))
    fig.rate.append(len(batch) / wall)


def sqla_engine(path: str) -> Engine:
    """An engine over one connection configured as the store's writer is
    (``Db``), which SQLAlchemy's own transactions then begin IMMEDIATE."""
    def connect() -> sqlite3.Connection:
        db = Db()
        db.open(path, "normal", False)
        assert db.conn is not None
        db.conn.row_factory = None  # SQLAlchemy makes its own rows
        return db.conn

    def begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    engine = create_engine("sqlite://", creator=connect, poolclass=StaticPool)
    event.listen(engine, "begin", begin)  # the driver's own BEGIN is off (isolation_level=None)
    return engine


async def store_ingest(store: SQLiteStore, batch: list[Inbound], fig: Figures) -> None:
    """Today's whole store call, one at a time."""
    messages_in = [InboundMessage(channel=m.channel, external_id=m.external_id, text=m.row["text"],
                                  sender=IdentityRef(kind=m.kind, value=m.value),
                                  sender_name=m.row["sender_value"].replace("u", "Customer ", 1)) for m in batch]
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for message in messages_in:
        start = time.perf_counter()
        await store.ingest(message, datetime.now(UTC))
        fig.latencies.append(time.perf_counter() - start)
    fig.cpu.append((time.process_time() - cpu0) / len(batch))
    fig.rate.append(len(batch) / (time.perf_counter() - wall0))


def plans(conn: sqlite3.Connection, engine: Engine) -> None:
    """The query plans of the dedupe lookup as written raw and by Core
    (literal 'in' and a bound one): the partial index must be used."""
    dedupe = select(messages).where(messages.c.channel == "telegram", messages.c.external_id == "x")
    with engine.connect() as c:
        for label, stmt in (("sqla literal 'in'", dedupe.where(messages.c.direction == IN)),
                            ("sqla bound 'in'", dedupe.where(messages.c.direction == "in"))):
            compiled = stmt.compile(c)
            plan = c.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), tuple(compiled.params.values())).all()
            print(f"  plan, {label}: {'; '.join(str(row[-1]) for row in plan)}")
    raw = conn.execute("EXPLAIN QUERY PLAN " + SQL_DEDUPE, ("telegram", "x")).fetchall()
    print(f"  plan, raw: {'; '.join(str(row[-1]) for row in raw)}")


async def sqlite_part(folder: Path, args: argparse.Namespace) -> None:
    path = str(folder / "bench.db")
    store = SQLiteStore(path)  # creates the real schema (every migration)
    await store.open()
    db = Db()
    db.open(path, "normal", False)
    conn = db.conn
    assert conn is not None
    conn.execute("BEGIN")
    for sql, params in seed_rows(args.customers):
        conn.execute(sql, params)
    conn.execute("COMMIT")
    engine = sqla_engine(path)
    print(f"SQLite {sqlite3.sqlite_version}, {args.customers} customers, {args.transactions} transactions"
          f" per variant per round, {args.rounds} rounds")
    plans(conn, engine)
    results = {name: Figures() for name in ("raw sqlite3", "sqla", "sqla-pre", "store.ingest")}
    with engine.connect() as c:
        variants: dict[str, Callable[[Inbound], object]] = {
            "raw sqlite3": lambda m: raw_ingest(conn, m),
            "sqla": lambda m: sqla_ingest(c, m),
            "sqla-pre": lambda m: sqla_pre_ingest(c, m),
        }
        for name, fn in variants.items():  # warm: caches, the compiled cache, the page cache
            for m in inbounds(f"warm{name.replace(' ', '')}", 200, args.customers):
                fn(m)
        for round_no in range(args.rounds):
            order = list(variants) if round_no % 2 == 0 else list(reversed(variants))
            for name in order:
                tag = f"{name.replace(' ', '')}{round_no}"
                timed(variants[name], inbounds(tag, args.transactions, args.customers, round_no), results[name])
            await store_ingest(store, inbounds(f"store{round_no}", args.transactions, args.customers, round_no),
                               results["store.ingest"])
    engine.dispose()
    db.close()
    await store.close()
    report("SQLite: the ingest transaction", results, "raw sqlite3")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--transactions", type=int, default=1000, help="per variant and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=4, help="PostgreSQL connections, one event loop")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--control", type=float, default=0, metavar="µs",
                        help="add raw asyncpg with this much client CPU burnt per transaction (a control)")
    args = parser.parse_args(argv)
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="bench-query-") as tmp:
        asyncio.run(sqlite_part(Path(tmp), args))
    if not args.no_postgres:
        from bench.query_layer_pg import postgres_part  # noqa: PLC0415 (needs the server's binaries)

        asyncio.run(postgres_part(args))
    print(f"\nload average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
