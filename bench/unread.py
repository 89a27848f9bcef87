"""Unread counts at scale (router.signals): counted when the console asks,
from each agent's read mark and the messages' (conversation, time) index,
never kept per message. Builds ``--conversations`` open conversations of
``--messages`` customer messages each in the SQLite store (a temp file), one
agent who has read half of them to a random point and owns ``--mine`` of them,
then times what a console does:

- ``list``: ``GET /api/unread?ids=`` for a page of 200 conversations (the list's size);
- ``mine``: the agent's own open conversations (the tab title's total);
- ``mark``: opening a conversation (the read mark's write).

Prints p50/p99 of each and the database size. Ingest is not measured here: it
writes nothing for these counts (tests/router/signals hold that it needs no row).

    python -m bench.unread --conversations 50000 --messages 10 --samples 2000
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

from router.models import Role
from router.store.rows import ts
from router.store.sqlite import SQLiteStore

T0 = datetime(2026, 12, 1, tzinfo=UTC)
CAP = 100


def fill(path: Path, agent_id: str, conversations: int, messages: int, mine: int) -> None:
    """Rows written straight into the migrated file: the store's own paths would take an hour."""
    db = sqlite3.connect(path)
    stamp = ts(T0)
    with db:
        db.executemany("INSERT INTO customers (id, display_name, created_at, updated_at) VALUES (?, ?, ?, ?)",
                       ((f"cus_{n:08x}", f"Customer {n}", stamp, stamp) for n in range(conversations)))
        db.executemany(
            "INSERT INTO conversations (id, customer_id, status, team, agent_id, channel, created_at, updated_at,"
            " last_message_at) VALUES (?, ?, ?, 'support', ?, 'webchat', ?, ?, ?)",
            ((f"cnv_{n:08x}", f"cus_{n:08x}", "assigned" if n < mine else "queued", agent_id if n < mine else None,
              stamp, stamp, stamp) for n in range(conversations)))
        db.executemany(
            "INSERT INTO messages (id, conversation_id, customer_id, direction, author, channel, text, created_at,"
            " delivery) VALUES (?, ?, ?, 'in', 'customer', 'webchat', 'hello', ?, 'received')",
            ((f"msg_{n:08x}_{m:03d}", f"cnv_{n:08x}", f"cus_{n:08x}", ts(T0 + timedelta(seconds=m)))
             for n in range(conversations) for m in range(messages)))
        rng = random.Random(1)
        db.executemany(
            "INSERT INTO conversation_reads (agent_id, conversation_id, message_id, read_at) VALUES (?, ?, ?, ?)",
            ((agent_id, f"cnv_{n:08x}", f"msg_{n:08x}_{m:03d}", ts(T0 + timedelta(seconds=m)))
             for n in range(0, conversations, 2) for m in [rng.randrange(messages)]))
    db.close()


async def timed(samples: int, call: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    took = []
    for _ in range(samples):
        start = time.perf_counter()
        await call()
        took.append((time.perf_counter() - start) * 1000)
    took.sort()
    return statistics.median(took), took[int(len(took) * 0.99) - 1]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=50_000)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--mine", type=int, default=20)
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "unread.db"
        async with SQLiteStore(path) as store:
            agent = await store.create_agent("ann", "Ann", Role.AGENT, "x")
        started = time.perf_counter()
        fill(path, agent.id, args.conversations, args.messages, args.mine)
        print(f"{args.conversations} conversations x {args.messages} messages filled in "
              f"{time.perf_counter() - started:.0f} s; {path.stat().st_size / 2**20:.0f} MiB")
        rng = random.Random(2)
        ids = [f"cnv_{n:08x}" for n in range(args.conversations)]
        async with SQLiteStore(path) as store:
            page = lambda: store.unread_counts(agent.id, rng.sample(ids, 200), CAP)  # noqa: E731
            mine = lambda: store.assigned_unread(agent.id, CAP)  # noqa: E731
            mark = lambda: store.mark_read(agent.id, rng.choice(ids), None)  # noqa: E731
            for name, call in (("list (200 ids)", page), (f"mine ({args.mine})", mine), ("mark", mark)):
                p50, p99 = await timed(args.samples, call)
                print(f"{name:>16}: p50 {p50:.2f} ms, p99 {p99:.2f} ms")


if __name__ == "__main__":
    asyncio.run(main())
