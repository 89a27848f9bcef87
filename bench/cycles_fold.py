"""What the upgrade that adds ``conversation_cycles`` (SQLite migration 29,
PostgreSQL 23: router/reports/cycles_schema.py) costs on a log already
written: N conversations of five events each (opened, queued, assigned,
first_reply, resolved; a third of a tier), the cycle table dropped, then the
migration's script run and timed in one transaction (on PostgreSQL rolled
back and run again; SQLite on a fresh copy of the file each time). On
PostgreSQL the fold holds CREATE TRIGGER's SHARE ROW EXCLUSIVE lock on
``conversation_events`` throughout: event writes wait that long.

    python -m bench.cycles_fold --conversations 94000 --store sqlite postgres
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import asyncpg

from router.reports import cycles_schema
from router.store.postgres import PostgresStore
from router.store.sqlite import SQLiteStore
from tests.postgres_server import fresh_database, start_server

_STEPS = (("0", "opened", "queued"), ("1", "queued", "queued"), ("2", "assigned", "assigned"),
          ("3", "first_reply", "assigned"), ("4", "resolved", "resolved"))
_INSERT = ("INSERT INTO conversation_events (conversation_id, customer_id, kind, at, status, team, channel, agent_id,"
           " tier) VALUES (?, ?, ?, ?, ?, 'support', 'telegram', ?, ?)")
_PG_FILL = """
ALTER TABLE conversation_events DISABLE TRIGGER USER;
INSERT INTO conversation_events (conversation_id, customer_id, kind, at, status, team, channel, agent_id, tier)
SELECT 'c' || i, 'u' || i, k.kind, now() - interval '30 days' + i * interval '1 second' + k.n * interval '1 minute',
       k.status, 'support', 'telegram', CASE WHEN k.n > 1 THEN 'agt' END, CASE WHEN i % 3 = 0 THEN 'gold' END
FROM generate_series(1, {count}) i,
     (VALUES (0, 'opened', 'queued'), (1, 'queued', 'queued'), (2, 'assigned', 'assigned'),
             (3, 'first_reply', 'assigned'), (4, 'resolved', 'resolved')) k(n, kind, status)
ORDER BY i, k.n;
ALTER TABLE conversation_events ENABLE TRIGGER USER;
"""
_PG_DROP = "DROP TABLE conversation_cycles; DROP FUNCTION omnirouter_conversation_cycles CASCADE;"
_SQLITE_DROP = ("DROP TRIGGER conversation_cycles_started; DROP TRIGGER conversation_cycles_folded;"
                " DROP TABLE conversation_cycles;")


async def _sqlite(folder: Path, count: int, samples: int) -> None:
    base = folder / "fold.db"
    store = SQLiteStore(base)
    await store.open()
    await store.close()
    conn = sqlite3.connect(base)
    conn.executescript(_SQLITE_DROP)
    conn.executemany(_INSERT, [
        (f"c{i}", f"u{i}", kind, f"2026-11-01T00:{int(n):02d}:{i // 1_000_000:02d}.{i % 1_000_000:06d}Z", status,
         "agt" if int(n) > 1 else None, "gold" if i % 3 == 0 else None)
        for i in range(count) for n, kind, status in _STEPS])
    conn.commit()
    conn.close()
    for _ in range(samples):
        run = folder / "run.db"
        shutil.copy(base, run)
        conn = sqlite3.connect(run)
        started = time.perf_counter()
        conn.executescript(f"BEGIN;\n{cycles_schema.SQLITE}\nCOMMIT;")
        took = time.perf_counter() - started
        cycles = conn.execute("SELECT count(*) FROM conversation_cycles").fetchone()[0]
        conn.close()
        print(f"sqlite: {count * len(_STEPS)} events -> {cycles} cycles in {took:.2f} s", flush=True)


async def _postgres(count: int, samples: int) -> None:
    server = start_server()
    try:
        with fresh_database(server) as dsn:
            store = PostgresStore(dsn)
            await store.open()
            await store.close()
            conn = await asyncpg.connect(dsn)
            try:
                await conn.execute(_PG_FILL.format(count=count))
                for _ in range(samples):
                    transaction = conn.transaction()
                    await transaction.start()
                    await conn.execute(_PG_DROP)
                    started = time.perf_counter()
                    await conn.execute(cycles_schema.POSTGRES, timeout=3600)
                    took = time.perf_counter() - started
                    cycles = await conn.fetchval("SELECT count(*) FROM conversation_cycles")
                    await transaction.rollback()
                    print(f"postgres: {count * len(_STEPS)} events -> {cycles} cycles in {took:.2f} s", flush=True)
            finally:
                await conn.close()
    finally:
        server.stop()


async def main(count: int, samples: int, stores: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        if "sqlite" in stores:
            await _sqlite(Path(folder), count, samples)
    if "postgres" in stores:
        await _postgres(count, samples)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=94_000)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--store", nargs="+", choices=("sqlite", "postgres"), default=["sqlite"])
    args = parser.parse_args()
    asyncio.run(main(args.conversations, args.samples, args.store))
