"""``omnirouter run`` on PostgreSQL when the database is not there: one
line naming the database (never its password, never a SQLite file), no
traceback, exit status 1: at start, and when it goes away after the store
opened but before the node joined the cluster's event log."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest

from router.store.pg_migrations import PG_MIGRATIONS
from router.store.postgres import PostgresStore, redacted
from tests.e2e.conftest import START_CEILING, free_port
from tests.postgres_server import Server
from tests.router.test_serve import REPO


async def run(tmp_path: Path, dsn: str) -> tuple[int | None, str]:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "omnirouter.yaml").write_text(
        f"store:\n  backend: postgres\n  path: {tmp_path / 'var' / 'omnirouter.db'}\n", encoding="utf-8")
    env = {**os.environ, "OMNIROUTER_DATABASE_URL": dsn, "OMNIROUTER_ADMIN_PASSWORD": "correct horse battery"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "router.cli", "run", "--config", str(folder), "--port", str(free_port()),
        cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), START_CEILING)
    return proc.returncode, err.decode()


def said(err: str, where: str) -> str:
    """The one line that names the store, and nothing of a traceback."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith(f"{where}: the store cannot be written: ")]
    assert len(lines) == 1, err
    return lines[0]


async def test_a_database_that_is_not_there_at_start_is_named(tmp_path: Path) -> None:
    port = free_port()
    status, err = await run(tmp_path, f"postgresql://omni:s3cret-pw@127.0.0.1:{port}/omnirouter")
    assert status == 1
    assert "the database cannot be reached" in said(err, f"postgresql://omni@127.0.0.1:{port}/omnirouter")
    assert "s3cret-pw" not in err and "omnirouter.db" not in err


async def test_a_database_gone_before_the_node_joins_the_cluster_is_one_line(
    tmp_path: Path, pg_server: Server, pg_database: str,
) -> None:
    """A role allowed one connection: the store's pool takes it, so the next
    connection the node opens is refused, as when the database goes away right
    after the store opened: the check that no running node has this node's
    id, or the event log's own connection. Either way one line, exit 1."""
    role, database = f"r_{uuid.uuid4().hex[:12]}", pg_database.rsplit("/", 1)[1]
    pg_server.psql(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 1")
    pg_server.psql(f"ALTER DATABASE {database} OWNER TO {role}")
    limited = pg_database.replace("://postgres@", f"://{role}@")
    try:
        status, err = await run(tmp_path, limited)
    finally:
        pg_server.psql(f"ALTER DATABASE {database} OWNER TO postgres")
        pg_server.psql(f"DROP OWNED BY {role}", database)
        pg_server.psql(f"DROP ROLE {role}")
    assert status == 1
    line = said(err, limited)
    assert "no connection left" in line
    assert "the node could not join the cluster's event log" in line or "the store cannot be written" in line


async def test_a_database_newer_than_this_omnirouter_is_one_line(tmp_path: Path, pg_database: str) -> None:
    """A rollback on PostgreSQL: SchemaTooNew, the type SQLite's refusal shares, is one line, no traceback."""
    async with PostgresStore(pg_database):
        pass
    conn = await asyncpg.connect(pg_database)
    try:
        await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", len(PG_MIGRATIONS) + 1)
    finally:
        await conn.close()
    status, err = await run(tmp_path, pg_database)
    assert status == 1
    assert "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == (
        f"{redacted(pg_database)} has schema version {len(PG_MIGRATIONS) + 1}, newer than this omnirouter "
        f"({len(PG_MIGRATIONS)}); upgrade omnirouter")


@pytest.mark.parametrize(("url", "words"), [
    ("notaurl", 'invalid DSN: scheme is expected to be either "postgresql" or "postgres"'),
    ("postgresql://omni@127.0.0.1:abc/omnirouter", "invalid literal for int()"),
    ("postgresql://omni@127.0.0.1:5432/omnirouter?sslmode=bogus", "`sslmode` parameter must be one of"),
])
async def test_a_malformed_database_url_is_one_line_naming_the_variable(tmp_path: Path, url: str, words: str) -> None:
    """OMNIROUTER_DATABASE_URL=notaurl gave two chained tracebacks (76 lines) ending in BackendError."""
    status, err = await run(tmp_path, url)
    assert status == 1
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("OMNIROUTER_DATABASE_URL: ") and words in lines[0], err
    assert not (tmp_path / "var").exists()
