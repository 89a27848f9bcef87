"""Bench: the time of one webhooks claim on SQLite with many finished
deliveries in the table (issue 23 item 5's review: a claim walked the whole
table on the writer). Fills the table directly (N sent rows and a few pending
ones, each of its own conversation: BENCH_PENDING of them, 50 by default),
then times claims; ``--blocked N`` adds N pending deliveries of one
conversation whose first is held (a slow receiver's backlog). Measured on the
shared 2-core VM, at 200k sent rows (SQLite), before -> after this change:
a claim 14.8 ms median, 65 ms max -> 0.9 / 2.4 ms; with 500k blocked
825 ms -> 8.5 ms; 20k conversations pending: 4.6 ms; the dead letters listed
60 ms -> 0.3 ms. (The code before it is needed to measure "before":
``--no-indexes`` dropped migration 26's indexes under the old claim.)

    .venv/bin/python -m bench.webhook_claim --rows 200000 [--blocked 500000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
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

PENDING = int(os.environ.get("BENCH_PENDING", "50"))  # pending deliveries, each of its own conversation


def _fill(path: Path, rows: int, blocked: int) -> None:
    conn = sqlite3.connect(path)
    now = ts(T0)
    with conn:
        # a conversation whose first delivery is held far into the future, and its followers waiting
        conn.executemany(
            "INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, order_key, body,"
            " next_attempt_at, created_at) VALUES (?, 'wh_a', ?, 'message.created', 'conversation:slow', '{}', ?, ?)",
            ((f"b{n}", f"b{n}", ts(T0 + timedelta(days=365)) if n == 0 else now, now) for n in range(blocked)))
        conn.executemany(
            "INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, order_key, body, status,"
            " next_attempt_at, created_at, finished_at) VALUES (?, 'wh_a', ?, 'message.created', ?, '{}', ?, ?, ?, ?)",
            ((f"d{n}", f"e{n}", f"conversation:c{n % 1000 if n < rows else n}", "sent" if n < rows else "pending",
              now, now, now if n < rows else None) for n in range(rows + PENDING)))
    conn.close()


async def main(rows: int, blocked: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(os.environ.get("BENCH_DB", "")) if os.environ.get("BENCH_DB") else Path(tmp) / "bench.db"
        async with SQLiteStore(path) as store:
            sub = Subscription(id="wh_a", url="https://crm.example.com/", events=["message.created"],
                               created_at=T0, updated_at=T0)
            await store.create_webhook(sub, "whsec")
        _fill(path, rows, blocked)
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
        print(f"rows={rows} blocked={blocked} claim median={statistics.median(took) * 1000:.1f} ms"
              f" max={max(took) * 1000:.1f} ms; dead letters listed in {dead * 1000:.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--blocked", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.blocked))
