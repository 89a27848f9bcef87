"""Every list and count the console asks for, at three sizes of store
(issue 24, item 7): what an agent, a supervisor or an admin waits for each
time a screen of the console opens.

    python -m bench.console_lists [--sizes 10000,100000,1000000] [--samples 40] [--postgres] [--stores sqlite,postgres]

For each size, a store of that many customers, each with one identity, one
conversation and its first message, written in bulk by the database itself
(``WITH RECURSIVE`` on SQLite, ``generate_series`` on PostgreSQL: the ingest
path would take hours); one in twenty conversations open (50,000 at
1,000,000), the rest resolved; of the open ones, half queued, a quarter with
the bot, a quarter assigned, over 50 agents (the admin who asks is one); one in fifty snoozed; a
label on one in a hundred; a survey on one in ten; a webhook delivery for
one in ten; notes mentioning the admin on one in a thousand; 50 agents.
Then ``omnirouter run`` on it (waits for the search indexer's catch-up to
go quiet), and each call the console makes for a list or a count, over
HTTP, timed ``--samples`` times: p50 and p99 per call, per size, per store.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from argon2 import PasswordHasher

from bench.load import PASSWORD, cpu_seconds, free_port, percentile, server, write_config
from bench.sql_fill import fill_statements
from router.store.sqlite import SQLiteStore

Base = str
NOW = datetime.now(UTC).replace(microsecond=0)


def calls(conv: str, customer: str, cursor: str) -> dict[str, str]:
    """Each list or count the console asks for (agents_ui/static/*.js), by a short name."""
    since = (NOW - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    until = (NOW + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    return {
        "conv open": "/api/conversations?status=open",
        "conv queued": "/api/conversations?status=queued",
        "conv mine": "/api/conversations?status=assigned&assignee=me",
        "conv resolved": "/api/conversations?status=resolved",
        "conv all": "/api/conversations?status=all",
        "conv all page 2": f"/api/conversations?status=all&cursor={cursor}",
        "view snoozed": "/api/search?kind=conversations&snoozed=true&limit=20",
        "view label": "/api/search?kind=conversations&label=vip&limit=20",
        "view queued support": "/api/search?kind=conversations&status=queued&team=support&limit=20",
        "view open of none": "/api/search?kind=conversations&status=open&assignee=none&limit=20",
        "unread (200 ids)": "/api/unread?ids=",  # filled in with the first page's ids
        "mentions": "/api/mentions",
        "agents": "/api/agents",
        "roster": "/api/agents/roster",
        "presence": "/api/presence",
        "teams": "/api/teams",
        "sla": "/api/sla",
        "wallboard": "/api/wallboard",
        "labels": "/api/labels",
        "canned": "/api/canned",
        "webhooks": "/api/webhooks",
        "deliveries": "/api/webhooks/deliveries",
        "deliveries sent": "/api/webhooks/deliveries?status=sent",
        "messages": f"/api/conversations/{conv}/messages",
        "notes": f"/api/conversations/{conv}/notes",
        "customer": f"/api/customers/{customer}",
        "customer surveys": f"/api/customers/{customer}/surveys",
        "surveys (a day)": f"/api/surveys?since={since}&until={until}&limit=1000",
    }


# -- SQLite --------------------------------------------------------------------------------
def fill_sqlite(path: Path, customers: int) -> None:
    db = sqlite3.connect(path)
    with db:
        for statement in fill_statements("sqlite", customers, NOW, PasswordHasher().hash(PASSWORD)):
            db.execute(statement)
    db.close()


@contextlib.asynccontextmanager
async def sqlite_service(folder: Path, customers: int) -> AsyncIterator[Base]:
    async with SQLiteStore(folder / "bench.db"):
        pass  # the schema, by the store's own migrations
    started = time.perf_counter()
    fill_sqlite(folder / "bench.db", customers)
    print(f"  sqlite: filled {customers:,} customers in {time.perf_counter() - started:.0f} s", flush=True)
    port = free_port()
    write_config(folder, port, "process")
    cmd = [".venv/bin/omnirouter", "run", "--config", str(folder)]
    async with server(cmd, port, {"OMNIROUTER_ADMIN_PASSWORD": PASSWORD}) as pid:
        await _quiet(pid)
        yield f"http://127.0.0.1:{port}"


# -- PostgreSQL ----------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def postgres_service(folder: Path, customers: int) -> AsyncIterator[Base]:
    import asyncpg  # noqa: PLC0415  (only with --postgres)

    from router.store.postgres import PostgresStore  # noqa: PLC0415
    from tests.postgres_server import fresh_database, start_server  # noqa: PLC0415

    cluster = start_server()
    try:
        with fresh_database(cluster) as dsn:
            async with PostgresStore(dsn):
                pass  # migrated
            started = time.perf_counter()
            conn = await asyncpg.connect(dsn)
            try:
                for statement in fill_statements("postgres", customers, NOW, PasswordHasher().hash(PASSWORD)):
                    await conn.execute(statement)
                await conn.execute("ANALYZE")  # as autovacuum would have, on a store that grew this big
            finally:
                await conn.close()
            print(f"  postgres: filled {customers:,} customers in {time.perf_counter() - started:.0f} s", flush=True)
            port = free_port()
            write_config(folder, port, "process", backend="postgres")
            cmd = [".venv/bin/omnirouter", "run", "--config", str(folder)]
            env = {"OMNIROUTER_ADMIN_PASSWORD": PASSWORD, "OMNIROUTER_DATABASE_URL": dsn}
            async with server(cmd, port, env) as pid:
                await _quiet(pid)
                yield f"http://127.0.0.1:{port}"
    finally:
        cluster.stop()


async def _quiet(pid: int, ceiling: float = 600.0) -> None:
    """Until the service's start-up work (the search index's catch-up) has gone quiet: under
    a tenth of a core over two seconds, or ``ceiling`` seconds."""
    started = time.monotonic()
    before = cpu_seconds(pid)
    while time.monotonic() - started < ceiling:
        await asyncio.sleep(2)
        now = cpu_seconds(pid)
        if now - before < 0.2:
            return
        before = now


# -- the timing ----------------------------------------------------------------------------
async def time_calls(base: Base, samples: int) -> dict[str, list[float]]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(f"{base}/api/login", json={"username": "admin", "password": PASSWORD}) as r:
            r.raise_for_status()
        async with http.get(f"{base}/api/conversations?status=all") as r:
            r.raise_for_status()
            first = await r.json()
        ids = [c["id"] for c in first["conversations"]]
        asks = calls(ids[0], first["conversations"][0]["customer_id"], first["next"])
        asks["unread (200 ids)"] += ",".join(ids[:200])
        times: dict[str, list[float]] = {name: [] for name in asks}
        for _ in range(samples):
            for name, path in asks.items():
                started = time.perf_counter()
                async with http.get(base + path) as r:
                    await r.read()
                    if r.status != 200:
                        raise RuntimeError(f"{name}: {path} answered {r.status}: {await r.text()}")
                times[name].append(time.perf_counter() - started)
    return times


async def main(args: argparse.Namespace) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    stores = [s for s in args.stores.split(",") if s != "postgres" or args.postgres]
    results: dict[tuple[str, int], dict[str, list[float]]] = {}
    for store in stores:
        for size in sizes:
            with tempfile.TemporaryDirectory() as folder:
                service = sqlite_service if store == "sqlite" else postgres_service
                async with service(Path(folder), size) as base:
                    results[store, size] = await time_calls(base, args.samples)
            print(f"  {store}, {size:,} customers: " + ", ".join(  # as it goes: the table comes at the end
                f"{name} {percentile(ms, 0.99) * 1000:.1f}" for name, ms in results[store, size].items()), flush=True)
    for store in stores:
        print(f"\n{store}: p50 / p99 in ms of each call, {args.samples} samples each, over HTTP")
        print(f"  {'call':22s}" + "".join(f"{f'{s:,} customers':>22s}" for s in sizes))
        for name in results[store, sizes[0]]:
            cells = []
            for size in sizes:
                ms = [v * 1000 for v in results[store, size][name]]
                cells.append(f"{percentile(ms, 0.5):9.1f} / {percentile(ms, 0.99):7.1f}   ")
            print(f"  {name:22s}" + "".join(f"{c:>22s}" for c in cells))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="customers, comma-separated")
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--postgres", action="store_true", help="on a throwaway PostgreSQL server too")
    parser.add_argument("--stores", default="sqlite,postgres", help="sqlite,postgres or one (postgres: --postgres)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    os.environ.setdefault("OMNIROUTER_LOG_LEVEL", "WARNING")
    asyncio.run(main(parse_args()))
