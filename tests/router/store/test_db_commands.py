"""``omnirouter db copy`` and ``omnirouter db migrate``, for real: an SQLite
store filled through the Store API is copied into a PostgreSQL server the
tests start, and a PostgresStore on it reads back what the SQLite store
reads; a database that holds data is refused; migrate says the version, or
that the store cannot be reached."""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from router.accounts.service import check_login, hash_password
from router.cli import main
from router.identity.types import ClaimPlan, IdentityPlan, KeyRef, MergeRequest, VerificationStart
from router.models import IdentityRef, Role
from router.server.app import DATABASE_URL
from router.store import pg_copy
from router.store.base import Store
from router.store.migrations import MIGRATIONS
from router.store.pg_migrations import PG_MIGRATIONS
from router.store.postgres import PostgresStore
from router.store.sqlite import SQLiteStore
from tests.router.store.test_contract import T0, inbound, ingest, outbound

PASSWORD = "a long enough password"


@dataclass
class Filled:
    conversation: str
    survivor: str
    merged: str
    claimant: str
    token: str


async def fill(store: Store) -> Filled:
    """A bit of everything a running service writes."""
    _, conversation = await ingest(store, inbound("m1", sender="u1", text="Где мой заказ?"))
    await ingest(store, inbound("m2", sender="u1", channel="telegram", text="второе"), T0 + timedelta(seconds=1))
    view = await store.get_conversation(conversation)
    message, payload = outbound(conversation, view.customer_id, text="Сейчас проверю")
    await store.enqueue_outbound(message, payload, None, T0 + timedelta(seconds=2))
    _, other = await ingest(store, inbound("m3", sender="u2"))
    merged = (await store.get_conversation(other)).customer_id
    await store.merge_customers(MergeRequest(view.customer_id, merged, "agent", None, "same person"), T0)
    phone = KeyRef("phone", "+79123456789")
    u3 = IdentityRef(kind="webchat", value="u3")
    claim = ClaimPlan(phone, "webchat:text", "8 912 345-67-89")
    claimant = await store.resolve_identity(u3, "Ира", T0, IdentityPlan(identity=u3, claims=(claim,)))
    await store.start_verification(VerificationStart(
        claimant.id, phone, "whatsapp", "hash-of-the-code", timedelta(minutes=10), timedelta(seconds=60), 5,
        conversation), T0)
    agent = await store.create_agent("ann", "Анна", Role.AGENT, await hash_password(PASSWORD))
    await store.create_session("token-hash", agent.id, T0 + timedelta(days=1))
    await store.secret("webchat")
    return Filled(conversation, view.customer_id, merged, claimant.id, "token-hash")


async def read_back(store: Store, f: Filled) -> dict[str, object]:
    """What a user of the store would see of it."""
    return {
        "messages": await store.list_messages(f.conversation, 100),
        "conversation": await store.get_conversation(f.conversation),
        "identities": await store.customer_identities(f.survivor),
        "merges": await store.customer_merges(f.survivor),
        "merged": await store.get_customer(f.merged),
        "claims": await store.customer_claims(f.claimant),
        "codes": await store.conversation_verifications(f.conversation),
        "outbox": [(e.id, e.payload) for e in await store.pending_outbox(10)],
        "session": await store.session_agent(f.token, T0),
        "login": await check_login(store, "ann", PASSWORD),
        "secret": await store.secret("webchat"),
        # the report's event log, as written at the time: the copy does not write it again
        "events": await store.events_of(f.conversation),
    }


def copy(source: Path, dsn: str) -> int:
    return main(["db", "copy", "--from", f"sqlite:{source}", "--to", f"postgres:{dsn}"])


async def test_a_copied_store_reads_back_the_same_on_postgresql(
    tmp_path: Path, pg_database: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pg_copy, "BATCH", 3)  # a table of several batches, as a large store's are
    path = tmp_path / "omnirouter.db"
    async with SQLiteStore(path) as sqlite_store:
        filled = await fill(sqlite_store)
        expected = await read_back(sqlite_store, filled)
    assert await asyncio.to_thread(copy, path, pg_database) == 0
    out, err = capsys.readouterr()
    assert "messages: 3/4 rows" in err and "messages: 4/4 rows" in err  # progress, batch by batch
    assert "copied" in out and "from" in out
    conn = await asyncpg.connect(pg_database)
    try:  # the copy leaves the planner statistics of what it copied (a never-analysed table says -1)
        assert await conn.fetchval("SELECT reltuples FROM pg_class WHERE relname = 'messages'") == 4
    finally:
        await conn.close()
    async with PostgresStore(pg_database) as pg_store:
        assert await read_back(pg_store, filled) == expected
        # numbering goes on after the copied rows: a new message is stored, and last in its conversation
        later = await pg_store.ingest(inbound("m4", sender="u1", text="ещё"), T0 + timedelta(minutes=1))
        assert [m.id for m in await pg_store.list_messages(filled.conversation, 100)][-1] == later.message.id
    conn = await asyncpg.connect(pg_database)
    try:  # numbered after the copied rows (their SQLite rowids), not from 1 again
        assert await conn.fetchval("SELECT seq FROM messages WHERE id = $1", later.message.id) == 5
    finally:
        await conn.close()


async def test_a_database_that_holds_data_is_refused_and_left_as_it_was(
    tmp_path: Path, pg_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "omnirouter.db"
    async with SQLiteStore(path) as sqlite_store:
        await ingest(sqlite_store, inbound("m1"))
    async with PostgresStore(pg_database) as pg_store:
        await pg_store.create_agent("bob", "Bob", Role.ADMIN, "hash")
    assert await asyncio.to_thread(copy, path, pg_database) == 1
    assert "already holds data (in agents)" in capsys.readouterr().err
    async with PostgresStore(pg_database) as pg_store:
        assert [a.username for a in await pg_store.list_agents()] == ["bob"]
        assert await pg_store.unrouted_messages(10) == []


async def test_a_failed_copy_leaves_nothing_behind(
    tmp_path: Path, pg_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """One transaction: a row PostgreSQL refuses halfway (text where JSON
    belongs) leaves the target empty, and says which row."""
    path = tmp_path / "omnirouter.db"
    async with SQLiteStore(path) as sqlite_store:
        await ingest(sqlite_store, inbound("m1"))
        await ingest(sqlite_store, inbound("m2", sender="u2"))
    import sqlite3  # noqa: PLC0415 - the damage no Store method would do

    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE messages SET extras = 'not json' WHERE external_id = 'm2'")
    assert await asyncio.to_thread(copy, path, pg_database) == 1
    assert "messages row 2: extras = 'not json' is no jsonb" in capsys.readouterr().err
    conn = await asyncpg.connect(pg_database)
    try:
        assert await conn.fetchval("SELECT count(*) FROM customers") == 0
    finally:
        await conn.close()


def test_a_source_that_is_not_a_store_or_a_target_that_is_not_postgres_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert copy(tmp_path / "missing.db", "postgresql://nobody@127.0.0.1:1/x") == 1
    assert f"no SQLite store at {tmp_path / 'missing.db'}" in capsys.readouterr().err
    assert main(["db", "copy", "--from", "sqlite:x.db", "--to", "mysql:x"]) == 1
    assert "give the database as postgres:URL" in capsys.readouterr().err


def config_for(folder: Path, store: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "omnirouter.yaml").write_text(f"store: {store}\n", encoding="utf-8")
    return folder


async def test_migrate_applies_what_is_pending_and_says_the_version(
    tmp_path: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sqlite_config = config_for(tmp_path / "sqlite", f"{{path: '{tmp_path / 'var' / 'omnirouter.db'}'}}")
    assert await asyncio.to_thread(main, ["db", "migrate", "--config", str(sqlite_config)]) == 0
    assert f"schema version {len(MIGRATIONS)} ({len(MIGRATIONS)} migrations applied)" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["db", "migrate", "--config", str(sqlite_config)]) == 0
    assert f"schema version {len(MIGRATIONS)} (nothing to apply)" in capsys.readouterr().out

    pg_config = config_for(tmp_path / "pg", "{backend: postgres}")
    monkeypatch.setenv(DATABASE_URL, pg_database)
    assert await asyncio.to_thread(main, ["db", "migrate", "--config", str(pg_config)]) == 0
    out = capsys.readouterr().out
    assert f"schema version {len(PG_MIGRATIONS)} ({len(PG_MIGRATIONS)} migrations applied)" in out
    assert "postgres@" in out  # where, without a password
    async with PostgresStore(pg_database) as pg_store:  # a store that opens with nothing left to apply
        await pg_store.ping()
    assert await asyncio.to_thread(main, ["db", "migrate", "--config", str(pg_config)]) == 0
    assert "(nothing to apply)" in capsys.readouterr().out


async def test_migrate_says_when_the_store_cannot_be_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pg_config = config_for(tmp_path / "pg", "{backend: postgres}")
    monkeypatch.setenv(DATABASE_URL, f"postgresql://omnirouter:secret-pw@127.0.0.1:{port}/omnirouter")
    assert await asyncio.to_thread(main, ["db", "migrate", "--config", str(pg_config)]) == 1
    err = capsys.readouterr().err
    # said once: "the store cannot be reached: the database cannot be reached"
    assert "omnirouter db migrate: the database cannot be reached (" in err and err.count("cannot be reached") == 1
    assert "secret-pw" not in err
    monkeypatch.delenv(DATABASE_URL)
    assert await asyncio.to_thread(main, ["db", "migrate", "--config", str(pg_config)]) == 1
    assert f"set {DATABASE_URL}" in capsys.readouterr().err


async def test_a_malformed_database_url_is_said_so_with_the_form_it_takes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """db copy printed the driver's class name ('ClientConfigurationError: invalid DSN…'), db migrate
    its words alone, where ``omnirouter run`` names the variable and the URL's form."""
    pg_config = config_for(tmp_path / "pg", "{backend: postgres}")
    monkeypatch.setenv(DATABASE_URL, "omnirouter@db.internal/omnirouter")
    assert await asyncio.to_thread(main, ["db", "migrate", "--config", str(pg_config)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"omnirouter db migrate: the database's URL ({DATABASE_URL} or --to): ")
    assert "give its libpq URL (postgresql://user:password@host:5432/database); nothing was changed" in err
    source = tmp_path / "var" / "omnirouter.db"
    async with SQLiteStore(source):
        pass
    for target, named in ((f"postgres:{os.environ[DATABASE_URL]}", "--to's URL"), ("postgres:", DATABASE_URL)):
        assert await asyncio.to_thread(main, ["db", "copy", "--from", f"sqlite:{source}", "--to", target]) == 1
        err = capsys.readouterr().err
        assert f"omnirouter db copy: {named} is no PostgreSQL URL: give it as postgresql://" in err, err
        assert "Error" not in err
