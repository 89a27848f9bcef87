"""Bench: a webhooks claim on PostgreSQL with many sent deliveries, and its
plan (EXPLAIN ANALYZE), with and without migration 20's indexes. Starts a
throw-away server as the tests do (tests/postgres_server.py).

    .venv/bin/python -m bench.webhook_claim_pg --rows 200000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import timedelta

import asyncpg

from router.store.postgres import PostgresStore
from router.webhooks.postgres import _CLAIMABLE
from router.webhooks.types import Subscription
from tests.postgres_server import fresh_database, start_server
from tests.router.store.test_contract import T0

PENDING = 50


async def _fill(dsn: str, rows: int) -> None:
    conn = await asyncpg.connect(dsn)
    await conn.execute(
        "INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, order_key, body, status,"
        " next_attempt_at, created_at, finished_at) SELECT 'd' || n, 'wh_a', 'e' || n, 'message.created',"
        " 'conversation:c' || (n % 1000), '{}', CASE WHEN n < $1::int THEN 'sent' ELSE 'pending' END,"
        " $2::timestamptz, $2::timestamptz, CASE WHEN n < $1::int THEN $2::timestamptz END"
        " FROM generate_series(0, $1::int + $3::int - 1) AS n", rows, T0, PENDING)
    await conn.execute("ANALYZE webhook_deliveries")
    await conn.close()


async def _measure(dsn: str, label: str) -> None:
    conn = await asyncpg.connect(dsn)
    plan = await conn.fetch(f"EXPLAIN ANALYZE {_CLAIMABLE}", T0 + timedelta(days=1), 100, [])
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
