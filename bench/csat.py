"""What the satisfaction survey costs: N resolved conversations, each asked
(half of them rated, a tenth still awaiting an answer), in the SQLite store
(a temp file), then

- ``awaiting``: the one read the ingest pipeline adds to a message of a
  customer without an open conversation (is a survey waiting for an answer?);
- ``rate``: recording a rating (the conditional UPDATE and the message's place);
- ``report_day``: every survey asked in one day, as issue 23's reports read them.

Prints p50/p99 of each.

    python -m bench.csat --conversations 100000 --samples 2000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from router.models import IdentityRef, InboundMessage
from router.store.rows import ts
from router.store.sqlite import SQLiteStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _fill(path: Path, count: int) -> None:
    """Customers, their resolved conversations and surveys, spread over 100 days."""
    conn = sqlite3.connect(path)
    rows = []
    for i in range(count):
        at = ts(T0 + timedelta(seconds=i * 8640000 // count))
        rating = (i % 5) + 1 if i % 2 else None
        closed = at if i % 10 and rating is None else None
        rows.append((f"cus_{i}", f"conv_{i}", f"csat_{i}", at, rating, closed))
    with conn:
        conn.executemany("INSERT INTO customers (id, created_at, updated_at) VALUES (?, ?, ?)",
                         [(r[0], r[3], r[3]) for r in rows])
        conn.executemany(
            "INSERT INTO conversations (id, customer_id, status, team, channel, created_at, updated_at,"
            " last_message_at, resolved_at) VALUES (?, ?, 'resolved', 'support', 'webchat', ?, ?, ?, ?)",
            [(r[1], r[0], r[3], r[3], r[3], r[3]) for r in rows])
        conn.executemany(
            "INSERT INTO csat_surveys (id, conversation_id, customer_id, team, channel, language, asked_at, rating,"
            " answered_at, closed_at) VALUES (?, ?, ?, 'support', 'webchat', 'ru', ?, ?, ?, ?)",
            [(r[2], r[1], r[0], r[3], r[4], r[3] if r[4] else None, r[5]) for r in rows])
    conn.close()


async def _timed(samples: int, call: Callable[[int], Awaitable[object]]) -> tuple[float, float]:
    took = []
    for i in range(samples):
        started = time.perf_counter()
        await call(i)
        took.append(time.perf_counter() - started)
    took.sort()
    return statistics.median(took) * 1000, took[int(len(took) * 0.99) - 1] * 1000


async def main(count: int, samples: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        async with SQLiteStore(path):
            pass  # the schema
        _fill(path, count)
        async with SQLiteStore(path) as store:
            picks = [random.randrange(count) for _ in range(samples)]
            awaiting = await _timed(samples, lambda i: store.awaiting_survey(f"cus_{picks[i]}"))
            unrated = [i for i in range(0, count, 2) if i % 10 == 0][:samples]
            ids = []
            for n, i in enumerate(unrated):
                stored, _ = await store.insert_inbound(InboundMessage(
                    channel="webchat", external_id=f"r{n}", sender=IdentityRef(kind="webchat", value=f"v{i}"),
                    text="5"), T0)
                ids.append(stored.id)
            rate = await _timed(len(unrated), lambda n: store.rate_survey(f"csat_{unrated[n]}", 5, ids[n], T0))
            days = [T0 + timedelta(days=random.randrange(100)) for _ in range(50)]
            report = await _timed(len(days), lambda n: store.list_surveys(days[n], days[n] + timedelta(days=1),
                                                                          None, 5000))
    print(f"{count} surveys (SQLite): p50 / p99 ms")
    for name, (p50, p99) in (("awaiting", awaiting), ("rate", rate), ("report_day", report)):
        print(f"  {name:<11} {p50:7.3f} {p99:7.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(main(args.conversations, args.samples))
