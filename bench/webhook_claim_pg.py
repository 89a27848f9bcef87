"""Bench: a webhooks claim on PostgreSQL with many sent deliveries, and its
plan (EXPLAIN ANALYZE), with and without migration 20's indexes. Starts a
throw-away server as the tests do (tests/postgres_server.py).

    [BENCH_BLOCKED=500000] .venv/bin/python -m bench.webhook_claim_pg --rows 200000

Measured on the shared 2-core VM at 200k sent rows: a claim 1.8 ms (the plan
used the partial indexes before this change too); with a backlog of 500k
behind one held delivery, 3.6 s before (a hash anti-join of every pending
row) -> 7.8 ms (a window, then a skip-scan of each conversation's first).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from datetime import timedelta

import asyncpg

from router.store.postgres import PostgresStore
from router.webhooks.postgres import _CLAIMABLE, WINDOW
from router.webhooks.types import Subscription
from tests.postgres_server import fresh_database, start_server
from tests.router.store.test_contract import T0

PENDING = 50
BLOCKED = int(os.environ.get("BENCH_BLOCKED", "0"))


async def _fill(dsn: str, rows: int) -> None:
    conn = await asyncpg.connect(dsn)
    await conn.execute(
        "INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, order_key, body, status,"
        " next_attempt_at, created_at, finished_at) SELECT 'd' || n, 'wh_a', 'e' || n, 'message.created',"
        " 'conversation:c' || (n % 1000), '{}', CASE WHEN n < $1::int THEN 'sent' ELSE 'pending' END,"
        " $2::timestamptz, $2::timestamptz, CASE WHEN n < $1::int THEN $2::timestamptz END"
        " FROM generate_series(0, $1::int + $3::int - 1) AS n", rows, T0, PENDING)
    if BLOCKED:  # one conversation's backlog behind a first delivery held for a year
        await conn.execute(
            "INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, order_key, body,"
            " next_attempt_at, created_at) SELECT 'b' || n, 'wh_a', 'b' || n, 'message.created', 'conversation:slow',"
            " '{}', CASE WHEN n = 0 THEN $1::timestamptz + interval '365 days' ELSE $1::timestamptz END, $1"
            " FROM generate_series(0, $2::int - 1) AS n", T0, BLOCKED)
    await conn.execute("ANALYZE webhook_deliveries")
    await conn.close()


async def _measure(dsn: str, label: str) -> None:
    conn = await asyncpg.connect(dsn)
    plan = await conn.fetch(f"EXPLAIN ANALYZE {_CLAIMABLE}", T0 + timedelta(days=1), 100, [])
    assert WINDOW  # the claim looks at a window first; this is the plan of its fallback
    await conn.close()
    async with PostgresStore(dsn) as store:
        took = []
        for n in range(20):
            start = time.perf_counter()
            claim = await store.claim_webhooks(f"n{n}", 100, T0 + timedelta(minutes=n * 10), timedelta(minutes=1))
            took.append(time.perf_counter() - start)
            assert claim.deliveries
    print(f"{label}: claim median={statistics.median(took) * 1000:.1f} ms max={max(took) * 1000:.1f} ms")
    print("\n".join("    " + r[0] for r in plan))


async def main(rows: int) -> None:
    server = start_server()
    try:
        with fresh_database(server) as dsn:
            async with PostgresStore(dsn) as store:
                await store.create_webhook(Subscription(id="wh_a", url="https://crm.example.com/",
                                                        events=["message.created"], created_at=T0,
                                                        updated_at=T0), "whsec")
            await _fill(dsn, rows)
            await _measure(dsn, f"rows={rows} indexes=yes")
            conn = await asyncpg.connect(dsn)
            for name in ("claim", "status", "finished"):
                await conn.execute(f"DROP INDEX webhook_deliveries_{name}")
            await conn.execute("UPDATE webhook_deliveries SET lease_owner = NULL, lease_until = NULL"
                               " WHERE status = 'pending'")
            await conn.close()
            await _measure(dsn, f"rows={rows} indexes=no")
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    asyncio.run(main(parser.parse_args().rows))
