"""PostgreSQL's migrations with several nodes (issue 21): nodes starting
together against an empty database migrate it once, whichever comes first;
a database newer than the code is refused with the reason."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import asyncpg
import pytest

from router.store.pg_migrations import PG_MIGRATIONS
from router.store.postgres import PostgresStore
from tests.conftest import HANG

NODES = 4


async def versions(dsn: str) -> list[int]:
    conn = await asyncpg.connect(dsn)
    try:
        return [r["version"] for r in await conn.fetch("SELECT version FROM schema_version ORDER BY version")]
    finally:
        await conn.close()


async def test_nodes_opening_an_empty_database_at_once_migrate_it_once(pg_database: str) -> None:
    stores = [PostgresStore(pg_database, pool_size=2) for _ in range(NODES)]
    try:
        await asyncio.gather(*(s.open() for s in stores))  # each a session of its own: real concurrency
        for store in stores:
            await store.ping()
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    assert await versions(pg_database) == list(range(1, len(PG_MIGRATIONS) + 1))


async def test_db_migrate_run_by_several_processes_at_once_migrates_once(tmp_path: Path, pg_database: str) -> None:
    (tmp_path / "omnirouter.yaml").write_text("store:\n  backend: postgres\n", encoding="utf-8")
    env = {**os.environ, "OMNIROUTER_DATABASE_URL": pg_database}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "router.cli", "db", "migrate", "--config", str(tmp_path), env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(NODES)
    ]
    outs = [await asyncio.wait_for(p.communicate(), HANG) for p in procs]
    assert [p.returncode for p in procs] == [0] * NODES, [err.decode() for _, err in outs]
    said = [out.decode() for out, _ in outs]
    # one of them applied everything; the others found nothing left (or the rest of what the first had not)
    assert sum(f"({len(PG_MIGRATIONS)} migrations applied)" in s for s in said) <= 1
    assert all(f"schema version {len(PG_MIGRATIONS)}" in s for s in said), said
    assert await versions(pg_database) == list(range(1, len(PG_MIGRATIONS) + 1))


async def test_a_database_newer_than_this_omnirouter_is_refused_with_the_reason(pg_database: str) -> None:
    async with PostgresStore(pg_database):
        pass
    conn = await asyncpg.connect(pg_database)
    try:
        await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", len(PG_MIGRATIONS) + 1)
    finally:
        await conn.close()
    with pytest.raises(RuntimeError, match=f"schema version {len(PG_MIGRATIONS) + 1}, newer than this omnirouter"):
        await PostgresStore(pg_database).open()
