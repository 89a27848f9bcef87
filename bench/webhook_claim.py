"""Bench: the time of one webhooks claim on SQLite with many finished
deliveries in the table (issue 23 item 5's review: a claim walked the whole
table on the writer). Fills the table directly (N sent rows and a few pending
ones), then times claims; ``--no-indexes`` drops migration 26's indexes to
measure the claim as it was.

    .venv/bin/python -m bench.webhook_claim --rows 200000 [--no-indexes]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from router.store.rows import ts
from router.store.sqlite import SQLiteStore
from router.webhooks.types import Subscription
from tests.router.store.test_contract import T0

PENDING = 50


def _fill(path: Path, rows: int, drop: bool) -> None:
    conn = sqlite3.connect(path)
    now = ts(T0)
    with conn:
        conn.executemany(
            "INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, order_key, body, status,"
            " next_attempt_at, created_at, finished_at) VALUES (?, 'wh_a', ?, 'message.created', ?, '{}', ?, ?, ?, ?)",
            ((f"d{n}", f"e{n}", f"conversation:c{n % 1000}", "sent" if n < rows else "pending", now, now,
              now if n < rows else None) for n in range(rows + PENDING)))
        if drop:
            for name in ("claim", "status", "finished"):
                conn.execute(f"DROP INDEX webhook_deliveries_{name}")
    conn.close()


async def main(rows: int, drop: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        async with SQLiteStore(path) as store:
            sub = Subscription(id="wh_a", url="https://crm.example.com/", events=["message.created"],
                               created_at=T0, updated_at=T0)
            await store.create_webhook(sub, "whsec")
        _fill(path, rows, drop)
        async with SQLiteStore(path) as store:
            took = []
            for n in range(20):
                start = time.perf_counter()
                # a new node each time: nothing it claimed before is its own
                claim = await store.claim_webhooks(f"n{n}", 100, T0 + timedelta(minutes=n * 10),
                                                   timedelta(minutes=1))
                took.append(time.perf_counter() - start)
                assert claim.deliveries
            dead = time.perf_counter()
            await store.list_webhook_deliveries(None, "dead", 50)
            dead = time.perf_counter() - dead
        print(f"rows={rows} indexes={'no' if drop else 'yes'} claim median={statistics.median(took) * 1000:.1f} ms"
              f" max={max(took) * 1000:.1f} ms; dead letters listed in {dead * 1000:.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--no-indexes", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.no_indexes))
