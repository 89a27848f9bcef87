"""What a report costs over a big store: N conversations with M messages
each (by default 100,000 and 10: 1,000,000 messages) over 30 days, in the
SQLite store (a temp file), their event log written by the real triggers as
the statements of the store would write it: opened (a third to the bot, half
of those handed to a person), queued, offered, answered (an agent's first
reply among the messages), resolved. Then ``Reports.figures`` (the store's
read and the counting, what GET /api/reports/figures does) for

- ``day/hour``: one day by hour (about N/30 conversations);
- ``week/team``: seven days by team;
- ``month/day``: all 30 days by day (every conversation).

Prints the fill time and p50/p99 of each, and the CPU time of this process (the reading, the
counting; on PostgreSQL not the server's) at the median: on a busy
machine the wall clock measures the others' load as much as the report.

    python -m bench.reports --conversations 100000 --messages 10 --samples 20
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from router.heap import settle_heap
from router.reports.figures import GroupBy
from router.reports.service import Reports
from router.reports.store import ReportStore
from router.store.pg_copy import copy_store
from router.store.postgres import PostgresStore
from router.store.rows import ts
from router.store.sqlite import SQLiteStore
from tests.postgres_server import fresh_database, start_server

T0 = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 30
TEAMS = ("support", "billing", "senior")
CHANNELS = ("webchat", "telegram", "vk", "whatsapp")
TIERS = ('{"tier": "gold"}', "{}", "{}", "{}")


def _at(seconds: float) -> str:
    return ts(T0 + timedelta(seconds=seconds))


def _fill(path: Path, count: int, messages: int) -> None:
    conn = sqlite3.connect(path)
    spread = DAYS * 86400 / count
    with conn:
        conn.executemany("INSERT INTO agents (id, username, display_name, role, password_hash, created_at)"
                         " VALUES (?, ?, ?, 'agent', 'x', ?)",
                         [(f"agt_{a}", f"a{a}", f"A {a}", _at(0)) for a in range(50)])
        conn.executemany("INSERT INTO customers (id, attributes, created_at, updated_at) VALUES (?, ?, ?, ?)",
                         [(f"cus_{i}", TIERS[i % 4], _at(i * spread), _at(i * spread)) for i in range(count)])
        for i in range(count):
            start = i * spread
            bot = i % 3 == 0
            conn.execute(
                "INSERT INTO conversations (id, customer_id, status, team, priority, channel, route_reason, created_at,"
                " updated_at, last_message_at) VALUES (?, ?, ?, ?, 0, ?, 'default', ?, ?, ?)",
                (f"conv_{i}", f"cus_{i}", "bot" if bot else "queued", TEAMS[i % 3], CHANNELS[i % 4], _at(start),
                 _at(start), _at(start)))
            if bot and i % 2 == 0:  # contained: resolved as the bot left it
                _messages(conn, i, start, messages, None)
                conn.execute("UPDATE conversations SET status = 'resolved', resolved_at = ?, updated_at = ?"
                             " WHERE id = ?", (_at(start + 300), _at(start + 300), f"conv_{i}"))
                continue
            if bot:
                conn.execute("UPDATE conversations SET status = 'queued', route_reason = 'asked for a person',"
                             " updated_at = ? WHERE id = ?", (_at(start + 60), f"conv_{i}"))
            agent = f"agt_{i % 50}"
            offered = start + 90 + (i % 600)
            conn.execute("UPDATE conversations SET status = 'assigned', agent_id = ?, assigned_at = ?,"
                         " opened_at = NULL, updated_at = ? WHERE id = ?",
                         (agent, _at(offered), _at(offered), f"conv_{i}"))
            _messages(conn, i, offered + 30, messages, agent)
            done = offered + 600 + (i % 3600)
            conn.execute("UPDATE conversations SET status = 'resolved', resolved_at = ?, updated_at = ? WHERE id = ?",
                         (_at(done), _at(done), f"conv_{i}"))
    conn.close()


def _messages(conn: sqlite3.Connection, i: int, start: float, count: int, agent: str | None) -> None:
    rows = []
    for m in range(count):
        inbound = m % 2 == 0
        author = "customer" if inbound else ("agent" if agent else "bot")
        rows.append((f"msg_{i}_{m}", f"conv_{i}", f"cus_{i}", "in" if inbound else "out", author,
                     None if inbound else agent, CHANNELS[i % 4], f"ext_{i}_{m}" if inbound else None, "text",
                     _at(start + m * 20), "received" if inbound else "sent"))
    conn.executemany(
        "INSERT INTO messages (id, conversation_id, customer_id, direction, author, agent_id, channel, external_id,"
        " text, created_at, delivery) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


async def _timed(samples: int, reports: Reports, since: datetime, until: datetime, by: GroupBy
                 ) -> tuple[float, float, int, float, float]:
    took = []
    cpu = []
    rows = 0
    stalls: list[float] = []
    for _ in range(samples):
        started, used = time.perf_counter(), time.process_time()
        ticker = asyncio.create_task(_ticker(stalls))
        made = await reports.figures(since, until, by)
        took.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
        ticker.cancel()
        rows = sum(int(r["opened"] or 0) for r in made.rows)
    took.sort()
    # nearest rank: with few samples, p99 is the slowest
    return (statistics.median(took) * 1000, took[math.ceil(len(took) * 0.99) - 1] * 1000, rows, max(stalls) * 1000,
            statistics.median(cpu) * 1000)


async def _ticker(stalls: list[float]) -> None:
    """The longest the event loop went without answering while a report ran (what /healthz would feel)."""
    stalls.append(0.0)
    last = time.perf_counter()
    while True:
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        stalls[-1] = max(stalls[-1], now - last)
        last = now


CASES = (("day/hour", 1, GroupBy.HOUR), ("week/team", 7, GroupBy.TEAM),
         *((f"month/{by.value}", DAYS, by) for by in GroupBy))


async def _measure(store: ReportStore, samples: int) -> None:
    reports = Reports(store, lambda: None)
    for name, days, by in CASES:
        since = T0 + timedelta(days=10) if days < DAYS else T0
        p50, p99, opened, stall, cpu = await _timed(samples, reports, since, since + timedelta(days=days), by)
        print(f"  {name:14} {opened:7d} conversations  p50 {p50:8.1f} ms  p99 {p99:8.1f} ms"
              f"  cpu p50 {cpu:7.1f} ms  loop stalled at most {stall:7.1f} ms", flush=True)


async def _postgres(path: Path, samples: int) -> None:
    server = start_server()
    try:
        with fresh_database(server) as dsn:
            started = time.perf_counter()
            await copy_store(path, dsn, "bench", lambda *_: None)
            # as autovacuum would soon after: a copied table has no statistics yet, and without them
            # PostgreSQL reads every cycle of the range and sorts them for each page (measured: seconds)
            conn = await asyncpg.connect(dsn)
            try:
                await conn.execute("ANALYZE")
            finally:
                await conn.close()
            print(f"postgres (copied in {time.perf_counter() - started:.0f} s):", flush=True)
            async with PostgresStore(dsn) as store:
                await _measure(store, samples)
    finally:
        server.stop()


async def main(count: int, messages: int, samples: int, stores: list[str], kept: Path | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = kept or Path(folder) / "bench.db"
        if not path.exists():
            async with SQLiteStore(path):
                pass  # the schema
            started = time.perf_counter()
            _fill(path, count, messages)
            print(f"filled {count} conversations, {count * messages} messages in {time.perf_counter() - started:.0f} s")
        async with SQLiteStore(path) as store:  # a file of an older omnirouter is migrated here
            events = len(await store.conversation_events(T0, T0 + timedelta(days=DAYS)))
            print(f"{events} events in the log")
            # as the server's heap is once it has started: what exists now is out of the collector's scans,
            # and the log's events just counted are not kept (alive, each collection walked them: the loop's
            # stalls read 90-130 ms at 30,000 conversations on PostgreSQL, against ~20 ms without)
            settle_heap()
            if "sqlite" in stores:
                print("sqlite:", flush=True)
                await _measure(store, samples)
        if "postgres" in stores:
            await _postgres(path, samples)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--store", nargs="+", choices=("sqlite", "postgres"), default=["sqlite"])
    parser.add_argument("--db", type=Path, help="a SQLite file to fill once and keep (filled only when it does not"
                        " exist), e.g. to measure the same data with an older omnirouter and then this one")
    args = parser.parse_args()
    asyncio.run(main(args.conversations, args.messages, args.samples, args.store, args.db))
