"""Identity resolution at scale: 1,000,000 customers and 3,000,000 identities
in the SQLite store (a temp file), then the latency of resolving senders, as
the router does for every inbound message (normalise + look up, one store call):

- ``returning``: a known identity writes again (the read path);
- ``linked``: a new channel identity whose phone another profile has (joins it by key, a write);
- ``new``: a stranger (a new profile, a write).

Prints p50/p99 per kind, the process's peak RSS and the database size.

    python -m bench.identity --customers 1000000 --samples 20000
    OMNIROUTER_DATABASE_URL=postgresql://... python -m bench.identity --store postgres  # an empty database
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from router.identity.service import IdentityRules
from router.models import Customer, IdentityRef, InboundMessage
from router.store.base import Store
from router.store.engine import WriterMode
from router.store.pg_engine import PgConn
from router.store.postgres import PostgresStore
from router.store.rows import ts
from router.store.sqlite import SQLiteStore

PHONE_BASE = 79_000_000_000


def phone(n: int) -> str:
    return f"+{PHONE_BASE + n}"


def customers(count: int, stamp: str) -> Iterator[tuple[str, str | None, str]]:
    for n in range(count):
        yield f"cus_{n:012x}", f"Customer {n}", stamp


def identities(count: int, stamp: str) -> Iterator[tuple[str, str, str, str | None, str | None, str]]:
    """Three per customer: a site-chat visitor, a WhatsApp number, an email."""
    for n in range(count):
        cid = f"cus_{n:012x}"
        yield "webchat", f"visitor-{n:x}", cid, None, None, stamp
        yield "whatsapp", phone(n), cid, "phone", phone(n), stamp
        yield "email", f"user{n}@example.com", cid, "email", f"user{n}@example.com", stamp


def message(kind: str, value: str, n: int) -> InboundMessage:
    return InboundMessage(channel=kind, external_id=f"b{n}", sender=IdentityRef(kind=kind, value=value))


async def measure(label: str, calls: list[Callable[[], Awaitable[Customer]]]) -> None:
    took: list[float] = []
    preloaded = 0
    for call in calls:
        started = time.perf_counter()
        customer = await call()
        took.append((time.perf_counter() - started) * 1000)
        preloaded += len(customer.id) == len("cus_") + 12  # one of the generated profiles
    q = statistics.quantiles(took, n=100)
    print(f"{label:<10} n={len(took):>6}  p50 {q[49]:.3f} ms  p99 {q[98]:.3f} ms  max {max(took):.3f} ms"
          f"  (resolved to an existing profile: {preloaded})")


def resolver(store: Store, rules: IdentityRules, msg: InboundMessage) -> Callable[[], Awaitable[Customer]]:
    async def call() -> Customer:
        plan = rules.plan(msg)  # normalising is part of the cost
        return await store.resolve_identity(msg.sender, None, datetime.now(UTC), plan)

    return call


async def run(count: int, samples: int, path: Path, writer: WriterMode = "thread", dsn: str | None = None) -> None:
    """On SQLite at ``path``, or on PostgreSQL at ``dsn`` when given."""
    def opened() -> SQLiteStore | PostgresStore:
        return PostgresStore(dsn) if dsn is not None else SQLiteStore(path, writer=writer)

    stamp = ts(datetime.now(UTC))
    async with opened() as store:
        started = time.perf_counter()
        await store.bulk_load(customers(count, stamp), identities(count, stamp))
        print(f"loaded {count:,} customers and {3 * count:,} identities in {time.perf_counter() - started:.1f} s")
    rules = IdentityRules()
    rnd = random.Random(7)
    async with opened() as store:
        returning = [resolver(store, rules, message("whatsapp", f"whatsapp:{phone(rnd.randrange(count))}", i))
                     for i in range(samples)]
        # an SMS from a number known on WhatsApp: linked to that profile by its key
        linked = [resolver(store, rules, message("sms", f"8{str(PHONE_BASE + n)[1:]}", i))
                  for i, n in enumerate(rnd.sample(range(count), samples))]
        new = [resolver(store, rules, message("webchat", f"stranger-{i}", i)) for i in range(samples)]
        await measure("warm-up", returning[: samples // 10])
        for label, calls in (("returning", returning), ("linked", linked), ("new", new)):
            await measure(label, calls)
        size = await _postgres_size(store) if isinstance(store, PostgresStore) else sum(
            p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1024**2
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MiB; database {size:.0f} MiB")


async def _postgres_size(store: PostgresStore) -> float:
    async def size(conn: PgConn) -> float:
        return float(await conn.fetchval("SELECT pg_database_size(current_database())")) / 1024**2

    return await store._pg.read(size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--store-writer", choices=["process", "thread"], default="process",
                        help="where the store's writer connection runs (config store.writer)")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite",
                        help="postgres: the empty database at OMNIROUTER_DATABASE_URL")
    args = parser.parse_args(argv)
    if args.samples > args.customers:
        parser.error("--samples may not exceed --customers")
    with tempfile.TemporaryDirectory(prefix="omnirouter-bench-") as tmp:
        dsn = os.environ.get("OMNIROUTER_DATABASE_URL") if args.store == "postgres" else None
        if args.store == "postgres" and not dsn:
            parser.error("--store postgres needs OMNIROUTER_DATABASE_URL")
        asyncio.run(run(args.customers, args.samples, Path(tmp) / "identity.db", args.store_writer, dsn))
    return 0


if __name__ == "__main__":
    sys.exit(main())
