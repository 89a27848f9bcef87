"""CPU per message of the store's ingest alone, on SQLite with the writer in
its own process (the service's default): ``store.ingest`` of a site-chat
message from a customer whose conversation is open, the steady case of
``bench.load``, with many calls in flight so that they commit in groups.
Prints the server's and the writer process's CPU per message. Only the
store's public ``ingest``, so the same file measures an older tree:

    python -m bench.ingest_writer [--customers 1000] [--messages 20000] [--in-flight 64]
    (cd /tmp/before && PYTHONPATH=. python /path/to/bench/ingest_writer.py)

``--unit`` times the writer's unit of work instead, in this process with no
pipe in between (less noise from a shared machine): ``_ingest`` in its
savepoint and the pickling of its reply (the writer's part), then the reply's
unpickling and the models built from it (the server's part), in thread CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pickle
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from router.ingest import sqlite as ingest_sqlite
from router.ingest.inbound import stored_form
from router.ingest.sqlite import _ingest
from router.models import ConversationStatus, IdentityRef, InboundMessage, RouteDecision
from router.store.rows import message_params
from router.store.sqlite import SQLiteStore
from router.store.sqlite_db import Db

_TICK = os.sysconf("SC_CLK_TCK")


def _child_cpu(pid: int) -> float:
    """Seconds of CPU (user and system) the process ``pid`` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _message(customer: int, n: int) -> InboundMessage:
    return InboundMessage(channel="webchat", external_id=f"c{customer}-m{n}",
                          sender=IdentityRef(kind="webchat", value=f"visitor-{customer}"),
                          text=f"hello, this is message {n} of a customer of the bench")


async def _open_all(store: SQLiteStore, customers: int) -> None:
    route = RouteDecision(status=ConversationStatus.QUEUED, team="support", reason="bench")
    for c in range(customers):
        first = await store.ingest(_message(c, 0), datetime.now(UTC))
        if first.conversation is None:
            await store.attach_to_conversation(first.message.id, first.customer.id, "webchat", route,
                                               datetime.now(UTC))


async def _steady(store: SQLiteStore, customers: int, messages: int, in_flight: int, first: int) -> None:
    counter = iter(range(first, first + messages))

    async def sender() -> None:
        for n in counter:
            got = await store.ingest(_message(n % customers, 1 + n // customers), datetime.now(UTC))
            assert got.conversation is not None and not got.duplicate

    await asyncio.gather(*(sender() for _ in range(in_flight)))


def _as_ingested(stored: Any, reply: Any) -> Any:
    """The writer's reply as the server reads it, in this tree or an older one."""
    if hasattr(reply, "ingested"):  # an older tree's: a class of its own
        return reply.ingested(stored)
    if isinstance(reply, tuple):  # a bare tuple (router.ingest.sqlite._Filed)
        return ingest_sqlite._ingested(stored, reply)
    return reply


async def unit(customers: int, messages: int, rounds: int) -> None:
    """The writer's unit of work, and its reply's way back, as engine.py runs them."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        store = SQLiteStore(path)
        await store.open()
        try:
            await _open_all(store, customers)
        finally:
            await store.close()
        db = Db()
        db.open(str(path), "normal", False)
        conn = db.conn
        assert conn is not None
        for r in range(rounds):
            writer = server = 0
            conn.execute("BEGIN IMMEDIATE")
            for n in range(r * messages, (r + 1) * messages):
                stored = stored_form(_message(n % customers, 1 + n // customers), datetime.now(UTC))
                params = message_params(stored)
                started = time.thread_time_ns()
                conn.execute("SAVEPOINT work")
                reply = _ingest(conn, params, None, None, params["created_at"], None, [])
                conn.execute("RELEASE work")
                data = pickle.dumps(reply, pickle.HIGHEST_PROTOCOL)
                between = time.thread_time_ns()
                got = pickle.loads(data)
                got = _as_ingested(stored, got)
                writer, server = writer + between - started, server + time.thread_time_ns() - between
                assert got.conversation is not None
                if n % 32 == 31:  # a group commit's worth
                    conn.execute("COMMIT")
                    conn.execute("BEGIN IMMEDIATE")
            conn.execute("COMMIT")
            print(f"unit round {r + 1}: per message: writer {writer / messages / 1e3:.1f} µs"
                  f" + server {server / messages / 1e3:.1f} µs = {(writer + server) / messages / 1e3:.1f} µs")
        db.close()


async def main(customers: int, messages: int, in_flight: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "bench.db", writer="process")
        await store.open()
        try:
            await _open_all(store, customers)
            pid = store._w.pid
            assert pid is not None
            for r in range(rounds):
                server0, writer0, wall0 = time.process_time(), _child_cpu(pid), time.perf_counter()
                await _steady(store, customers, messages, in_flight, r * messages)
                server = time.process_time() - server0
                writer = _child_cpu(pid) - writer0
                wall = time.perf_counter() - wall0
                print(f"round {r + 1}: {messages} messages in {wall:.2f} s ({messages / wall:,.0f}/s); CPU per"
                      f" message: server {server / messages * 1e6:.0f} µs + writer {writer / messages * 1e6:.0f} µs"
                      f" = {(server + writer) / messages * 1e6:.0f} µs")
        finally:
            await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--unit", action="store_true", help="the unit of work alone, in this process")
    args = parser.parse_args()
    if args.unit:
        asyncio.run(unit(args.customers, args.messages, args.rounds))
    else:
        asyncio.run(main(args.customers, args.messages, args.in_flight, args.rounds))
