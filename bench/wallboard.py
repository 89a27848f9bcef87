"""The live wallboard's cost (router/wallboard/).

1. ``ingest``: the whole service in this process (SQLite, its writer in a
   thread, so every CPU second is counted here), customers writing at a fixed
   ``--rate`` for ``--seconds``, twice: nobody watching the wallboard, then one
   supervisor watching (a socket that takes every push). Prints the process's
   CPU per ingested message in each run, the difference (the wallboard's
   update cost per message), how many times the board was computed and pushed.
2. ``snapshot``: one computation of the board (its four reads and the sums) on
   a store of ``--conversations`` conversations, ``--open`` of them open (the
   rest resolved), p50/p99 over ``--samples``; and each read's plan, to show
   it starts from an index of the open conversations. On SQLite, and with
   ``--postgres`` on a throwaway PostgreSQL server too (tests/postgres_server.py).

    python -m bench.wallboard [--rate 200] [--seconds 10] [--conversations 100000] [--open 3000] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestServer

from router.appkeys import ROUTER, WALLBOARD
from router.config import Settings
from router.models import IdentityRef, InboundMessage
from router.routing.assignment import Policy
from router.routing.rules.schema import QueuePolicy, TeamConfig, TeamsFile
from router.server.app import create_app
from router.store.base import Store
from router.store.rows import ts
from router.store.sqlite import SQLiteStore
from router.wallboard import sqlite as sql
from router.wallboard.config import ValuableConfig
from router.wallboard.service import Wallboard

T0 = datetime(2026, 12, 1, tzinfo=UTC)


class Supervisor:
    """A watcher that takes every push at once (a console on a fast link)."""

    def __init__(self) -> None:
        self.pushes = 0
        self.closed = False

    async def send_str(self, data: str, compress: int | None = None) -> None:
        self.pushes += 1

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        self.closed = True
        return True


async def ingest_run(rate: float, seconds: float, watch: bool) -> tuple[float, int, int, int, float]:
    """(CPU seconds per message, messages, computations, pushes, CPU seconds of one computation on the
    store as the run left it, timed alone) of one run on a fresh service."""
    folder = Path(tempfile.mkdtemp(prefix="omnirouter-wallboard-bench-"))
    settings = Settings()
    settings.store.path = str(folder / "bench.db")
    settings.store.writer = "thread"
    settings.connectors = {}
    app = create_app(settings, base_dir=folder)
    server = TestServer(app, port=0)
    await server.start_server()
    supervisor = Supervisor()
    try:
        router = app[ROUTER]
        for n in range(20):  # warm up: the first conversations, the first plans
            await router.on_message(_message(f"warm{n}", n))
        if watch:
            app[WALLBOARD].watch(supervisor, "bench")
        await asyncio.sleep(1.0)
        computed_before = app[WALLBOARD].computations
        count = int(rate * seconds)
        loop = asyncio.get_running_loop()
        start_cpu, start = time.process_time(), loop.time()
        for n in range(count):
            # customers write to their open conversations and open new ones (one in five)
            await router.on_message(_message(f"m{n}", n // 5 if n % 5 else 100_000 + n))
            delay = start + (n + 1) / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        await asyncio.sleep(1.5)  # the last change's computation, within the run
        cpu = time.process_time() - start_cpu
        computations = app[WALLBOARD].computations - computed_before
        alone = time.process_time()
        for _ in range(20):
            await app[WALLBOARD].board.compute()
        per_computation = (time.process_time() - alone) / 20
        return cpu / count, count, computations, supervisor.pushes, per_computation
    finally:
        await server.close()
        shutil.rmtree(folder, ignore_errors=True)


def _message(external_id: str, customer: int) -> InboundMessage:
    return InboundMessage(channel="webchat", external_id=external_id,
                          sender=IdentityRef(kind="webchat", value=f"visitor-{customer}"), text="where is my order?")


async def bench_ingest(rate: float, seconds: float) -> None:
    without, count, computed, _, _ = await ingest_run(rate, seconds, watch=False)
    with_one, _, computed_watched, pushes, per_computation = await ingest_run(rate, seconds, watch=True)
    print(f"ingest at {rate:g} msg/s for {seconds:g} s ({count} messages), CPU of the whole process per message:")
    print(f"  nobody watching: {without * 1e6:.0f} µs/msg (board computed {computed} times)")
    print(f"  one supervisor watching: {with_one * 1e6:.0f} µs/msg (board computed {computed_watched} times, "
          f"{pushes} pushes)")
    print(f"  difference: {(with_one - without) * 1e6:+.0f} µs/msg (within the noise of a shared machine)")
    derived = computed_watched * per_computation / count
    print(f"  one computation alone: {per_computation * 1e3:.2f} ms CPU; so the wallboard's update cost is "
          f"{derived * 1e6:.1f} µs per ingested message at this rate ({computed_watched} × "
          f"{per_computation * 1e3:.2f} ms / {count}), 0 with nobody watching; at most one computation "
          "per second whatever the rate, so it falls as the rate rises")


# -- the snapshot at scale ------------------------------------------------------------------
def fill(path: Path, conversations: int, open_: int) -> None:
    """Rows written straight into the migrated file: the store's own paths would take long.
    Of the open ones: half queued, a quarter assigned (half of those answered), a quarter with the bot;
    teams support/senior/billing, channels webchat/telegram/email; a tenth of customers gold."""
    rng = random.Random(1)
    db = sqlite3.connect(path)
    stamp = ts(T0)
    statuses = ["queued", "queued", "assigned", "bot"]
    teams, channels = ["support", "senior", "billing"], ["webchat", "telegram", "email"]

    def conversation(n: int) -> tuple[object, ...]:
        status = statuses[n % 4] if n < open_ else "resolved"
        created = ts(T0 - timedelta(seconds=rng.randrange(1, 3600)))
        return (f"cnv_{n:08x}", f"cus_{n:08x}", status, None if status == "bot" else teams[n % 3],
                "agt_1" if status == "assigned" else None, channels[n % 3], created, stamp, stamp)

    with db:
        db.execute("INSERT INTO agents (id, username, display_name, role, password_hash, created_at)"
                   " VALUES ('agt_1', 'ann', 'Ann', 'agent', 'x', ?)", (stamp,))
        db.executemany("INSERT INTO customers (id, display_name, attributes, created_at, updated_at)"
                       " VALUES (?, ?, ?, ?, ?)",
                       ((f"cus_{n:08x}", f"Customer {n}",
                         json.dumps({"tier": "gold" if n % 10 == 0 else "silver", "lifetime_value": n % 9000}),
                         stamp, stamp) for n in range(conversations)))
        db.executemany(
            "INSERT INTO conversations (id, customer_id, status, team, agent_id, channel, created_at, updated_at,"
            " last_message_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (conversation(n) for n in range(conversations)))
        db.executemany(
            "INSERT INTO messages (id, conversation_id, customer_id, direction, author, channel, text, created_at,"
            " delivery) VALUES (?, ?, ?, 'in', 'customer', 'webchat', 'hello', ?, 'received')",
            ((f"msg_{n:08x}", f"cnv_{n:08x}", f"cus_{n:08x}", stamp) for n in range(conversations)))
        db.executemany(  # half the assigned ones answered by their agent
            "INSERT INTO messages (id, conversation_id, customer_id, direction, author, channel, text, created_at,"
            " delivery) VALUES (?, ?, ?, 'out', 'agent', 'webchat', 'ok', ?, 'sent')",
            ((f"msg_{n:08x}_a", f"cnv_{n:08x}", f"cus_{n:08x}", stamp) for n in range(2, open_, 8)))
    db.execute("ANALYZE")
    db.close()


def plans(path: Path) -> None:
    db = sqlite3.connect(path)
    cutoff = ts(T0 - timedelta(minutes=10))
    for name, query, params in (("open", sql._OPEN, {}), ("sla", sql._SLA, {"team": "support", "cutoff": cutoff}),
                                ("values", sql._VALUES, {})):
        steps = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + query, params)]
        print(f"  plan of {name}: " + "; ".join(steps))
    db.close()


async def bench_snapshot(conversations: int, open_: int, samples: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="omnirouter-wallboard-bench-"))
    path = folder / "bench.db"
    try:
        async with SQLiteStore(path):
            pass  # migrated
        started = time.perf_counter()
        fill(path, conversations, open_)
        filled = time.perf_counter() - started
        print(f"snapshot: {conversations} conversations ({open_} open), filled in {filled:.0f} s")
        plans(path)
        async with SQLiteStore(path) as store:
            await _time_board(store, samples)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _Targeted(Policy):
    """Every queue with a ten-minute first-response target, as rules.yaml's would give."""

    def queue(self, team: str | None) -> QueuePolicy:
        return QueuePolicy(first_response=600)


# the same rows on PostgreSQL, made by the server itself
_PG_FILL = [
    "INSERT INTO agents (id, username, display_name, role, password_hash, created_at)"
    " VALUES ('agt_1', 'ann', 'Ann', 'agent', 'x', $1)",
    "INSERT INTO customers (id, display_name, attributes, created_at, updated_at)"
    " SELECT 'cus_' || n, 'Customer ' || n, jsonb_build_object('tier', CASE WHEN n % 10 = 0 THEN 'gold'"
    " ELSE 'silver' END, 'lifetime_value', n % 9000), $1, $1 FROM generate_series(0, $2 - 1) AS n",
    "INSERT INTO conversations (id, customer_id, status, team, agent_id, channel, created_at, updated_at,"
    " last_message_at) SELECT 'cnv_' || n, 'cus_' || n,"
    " CASE WHEN n >= $3 THEN 'resolved' ELSE (ARRAY['queued', 'queued', 'assigned', 'bot'])[n % 4 + 1] END,"
    " CASE WHEN n < $3 AND n % 4 = 3 THEN NULL ELSE (ARRAY['support', 'senior', 'billing'])[n % 3 + 1] END,"
    " CASE WHEN n < $3 AND n % 4 = 2 THEN 'agt_1' END, (ARRAY['webchat', 'telegram', 'email'])[n % 3 + 1],"
    " $1::timestamptz - make_interval(secs => 1 + (n * 7919) % 3599), $1, $1 FROM generate_series(0, $2 - 1) AS n",
    "INSERT INTO messages (id, conversation_id, customer_id, direction, author, channel, text, created_at, delivery)"
    " SELECT 'msg_' || n, 'cnv_' || n, 'cus_' || n, 'in', 'customer', 'webchat', 'hello', $1, 'received'"
    " FROM generate_series(0, $2 - 1) AS n",
    "INSERT INTO messages (id, conversation_id, customer_id, direction, author, channel, text, created_at, delivery)"
    " SELECT 'msg_' || n || '_a', 'cnv_' || n, 'cus_' || n, 'out', 'agent', 'webchat', 'ok', $1, 'sent'"
    " FROM generate_series(2, $3::int - 1, 8) AS n WHERE $2::int > 0",  # every parameter typed
]


async def bench_snapshot_pg(conversations: int, open_: int, samples: int) -> None:
    import asyncpg  # noqa: PLC0415  (only with --postgres)

    from router.store.postgres import PostgresStore  # noqa: PLC0415
    from router.wallboard import postgres as pg_sql  # noqa: PLC0415
    from tests.postgres_server import fresh_database, start_server  # noqa: PLC0415

    server = start_server()
    try:
        with fresh_database(server) as dsn:
            async with PostgresStore(dsn):
                pass  # migrated
            conn = await asyncpg.connect(dsn)
            try:
                started = time.perf_counter()
                for statement in _PG_FILL:
                    used = max(int(n) for n in re.findall(r"\$(\d)", statement))  # $1..$3, in order
                    await conn.execute(statement, *(T0, conversations, open_)[:used])
                await conn.execute("ANALYZE")
                print(f"snapshot on PostgreSQL: filled in {time.perf_counter() - started:.0f} s")
                for name, query, args in (("open", pg_sql._OPEN, ()), ("values", pg_sql._VALUES, ()),
                                          ("sla", pg_sql._SLA, (["support", "senior", "billing"],
                                                                [T0 - timedelta(minutes=10)] * 3))):
                    plan = [r[0] for r in await conn.fetch("EXPLAIN " + query, *args)]
                    scans = [line.strip() for line in plan if "Scan" in line]
                    print(f"  plan of {name}: " + "; ".join(scans))
            finally:
                await conn.close()
            async with PostgresStore(dsn) as store:
                await _time_board(store, samples)
    finally:
        server.stop()


async def _time_board(store: Store, samples: int) -> None:
    teams = TeamsFile(teams={t: TeamConfig() for t in ("support", "senior", "billing")})
    board = Wallboard(store, lambda: _Targeted(teams), ValuableConfig(tiers=["gold"], min_ltv=5000), lambda: T0)
    for _ in range(5):
        await board.compute()
    took = []
    for _ in range(samples):
        begun = time.perf_counter()
        computed = await board.compute()
        took.append((time.perf_counter() - begun) * 1000)
    took.sort()
    totals = computed.snapshot.totals
    print(f"  one computation: p50 {statistics.median(took):.1f} ms, p99 {took[int(len(took) * 0.99)]:.1f} ms "
          f"({samples} samples; {totals.queued} queued, {totals.sla_breached} breached, "
          f"{totals.valuable_waiting} valuable waiting)")


async def main(args: argparse.Namespace) -> None:
    os.environ.setdefault("OMNIROUTER_ADMIN_PASSWORD", "bench password 1")
    if not args.snapshot_only:
        await bench_ingest(args.rate, args.seconds)
    await bench_snapshot(args.conversations, args.open, args.samples)
    if args.postgres:
        await bench_snapshot_pg(args.conversations, args.open, args.samples)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--open", type=int, default=3_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--postgres", action="store_true", help="the snapshot on PostgreSQL too")
    parser.add_argument("--snapshot-only", action="store_true", help="skip the ingest runs")
    asyncio.run(main(parser.parse_args()))
