"""An upgrade that changes how a text's terms are made (router.search.terms)
builds every index again from what is stored, in the background: what was
indexed by the old rules is found by the new ones after the indexer caught up."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
import pytest

from router.models import IdentityRef
from router.search.service import Filters, Kind, make_search
from router.search.sqlite_index import index_path
from router.store import pg_migrations
from router.store import sqlite as sqlite_store
from router.store.base import Store
from router.store.migrations import MIGRATIONS
from router.store.postgres import PostgresStore
from router.store.sqlite import SQLiteStore
from tests.router.search.test_store_contract import caught_up, found_messages
from tests.router.store.test_contract import T0, inbound, ingest

TEXT = "Crème brûlée для anna.smith@example.com"
# the terms the rules before gave: é, û split a word; PostgreSQL kept the email whole
OLD_CUSTOMER_TERMS = "jos nu ez"


async def customers(store: Store, query: str) -> list[str | None]:
    return [c.display_name for _, c in await store.search_customers(
        make_search(Kind.CUSTOMERS, query, Filters(), None, 10))]


async def test_postgres_upgrade_queues_every_message_and_customer_for_the_new_terms(
        pg_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    before = pg_migrations.PG_MIGRATIONS.index(pg_migrations._SEARCH_TERMS)
    monkeypatch.setattr(pg_migrations, "PG_MIGRATIONS", pg_migrations.PG_MIGRATIONS[:before])
    async with PostgresStore(pg_database) as store:  # the schema before the upgrade
        await ingest(store, inbound("m1", sender="u1", text=TEXT))
        await store.resolve_identity(IdentityRef(kind="telegram", value="7"), "José Núñez", T0)
    conn = await asyncpg.connect(pg_database)
    try:  # the customer indexed by the old rules
        await conn.execute("DELETE FROM search_dirty_customers")
        await conn.execute("INSERT INTO search_customers (customer_id, terms)"
                           " SELECT id, to_tsvector('simple', $1) FROM customers", OLD_CUSTOMER_TERMS)
    finally:
        await conn.close()
    monkeypatch.undo()
    async with PostgresStore(pg_database) as store:  # upgraded
        await caught_up(store)
        assert await found_messages(store, "creme brulee") == [TEXT]
        assert await found_messages(store, "anna") == [TEXT]
        assert await customers(store, "jose nunez") == ["José Núñez"]


async def test_sqlite_upgrade_builds_the_index_of_other_rules_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "omnirouter.db"
    requeue = "INSERT OR IGNORE INTO search_dirty_customers"
    before = next(n for n, script in enumerate(MIGRATIONS) if script.startswith(requeue))
    monkeypatch.setattr(sqlite_store, "MIGRATIONS", MIGRATIONS[:before])  # the schema before this upgrade
    async with SQLiteStore(path) as store:
        await ingest(store, inbound("m1", sender="u1", text=TEXT))
        await store.resolve_identity(IdentityRef(kind="telegram", value="7"), "José Núñez", T0)
        await caught_up(store)
    # as the rules before left both indexes: their own terms, everything marked as indexed
    with sqlite3.connect(index_path(str(path))) as index:
        index.execute("DELETE FROM meta WHERE key = 'terms'")
        index.execute("DROP TABLE search_messages")
        index.execute("CREATE VIRTUAL TABLE search_messages USING fts5(terms, content='', detail=none)")
        index.execute("INSERT INTO search_messages (rowid, terms) VALUES (1, 'cr me br l e')")
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM search_customers")
        db.execute("INSERT INTO search_customers (rowid, terms) SELECT rowid, ? FROM customers", (OLD_CUSTOMER_TERMS,))
    monkeypatch.undo()
    async with SQLiteStore(path) as store:
        await caught_up(store)
        assert await found_messages(store, "creme brulee") == [TEXT]
        assert await customers(store, "jose nunez") == ["José Núñez"]


async def test_postgres_indexes_everything_again_when_the_terms_rules_change(pg_database: str) -> None:
    async with PostgresStore(pg_database) as store:
        await ingest(store, inbound("m1", sender="u1", text=TEXT))
        await store.resolve_identity(IdentityRef(kind="telegram", value="7"), "José Núñez", T0)
        await caught_up(store)
    conn = await asyncpg.connect(pg_database)
    try:  # as rules of another TERMS_VERSION left both tables, everything indexed
        await conn.execute("UPDATE meta SET value = '1' WHERE key = 'search-terms'")
        await conn.execute("UPDATE search_messages SET terms = to_tsvector('simple', 'cr me br l e')")
        await conn.execute("UPDATE search_customers SET terms = to_tsvector('simple', $1)", OLD_CUSTOMER_TERMS)
    finally:
        await conn.close()
    async with PostgresStore(pg_database) as store:
        await caught_up(store)
        assert await found_messages(store, "creme brulee") == [TEXT]
        assert await customers(store, "jose nunez") == ["José Núñez"]


async def test_sqlite_indexes_customers_again_when_the_terms_rules_change(tmp_path: Path) -> None:
    path = tmp_path / "omnirouter.db"
    async with SQLiteStore(path) as store:
        await store.resolve_identity(IdentityRef(kind="telegram", value="7"), "José Núñez", T0)
        await caught_up(store)
    with sqlite3.connect(path) as db:  # as rules of another TERMS_VERSION left the customers' terms
        db.execute("UPDATE meta SET value = X'31' WHERE key = 'search-terms'")
        db.execute("DELETE FROM search_customers")
        db.execute("INSERT INTO search_customers (rowid, terms) SELECT rowid, ? FROM customers", (OLD_CUSTOMER_TERMS,))
    async with SQLiteStore(path) as store:
        await caught_up(store)
        assert await customers(store, "jose nunez") == ["José Núñez"]
