"""The upgrade that takes visitors' tokens out of the data (router/store/visitor_ids.py),
on both backends: a store whose rows name a site-chat visitor by their whole token, as
every version before wrote them (their identity, their messages' sender and external
id, a reply waiting for them in the outbox, a merge's snapshot, the audit log), is
upgraded; the visitor who comes back with that token gets their history, the reply,
their resent message deduplicated, and goes on in their conversation; no row holds the
token any more, and the customer's search terms are made again."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from router.config import Settings
from router.identity.types import MergeRequest
from router.models import Customer, Delivery, IdentityRef, InboundMessage, MergeRecord, Message, Role
from router.server.app import DATABASE_URL, ROUTER, STORE
from router.store.migrations import MIGRATIONS
from router.store.pg_migrations import PG_MIGRATIONS
from router.store.postgres import PostgresStore
from router.store.sqlite import SQLiteStore
from router.store.visitor_ids import POSTGRES as PG_VISITOR_IDS
from router.store.visitor_ids import SQLITE as VISITOR_IDS
from tests.conftest import AppClient, eventually
from tests.connectors.webchat_helpers import Client, Frame, hello, say, tab

# every column the token was written to, made text (SQLite's JSON is text already)
_COLUMNS = (("identities", "value"), ("messages", "sender_value"), ("messages", "external_id"),
            ("outbox", "payload"), ("customer_merges", "snapshot"), ("identity_audit", "details"))


def _sqlite_rows(path: str, sql: str, *args: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, args).fetchall()


def _sqlite_age(path: str, public: str, token: str) -> None:
    """The rows as a version before wrote them: the token wherever its public part is now."""
    conn = sqlite3.connect(path)
    with conn:
        for table, column in _COLUMNS:
            conn.execute(f"UPDATE {table} SET {column} = replace({column}, ?, ?)", (public, token))
        conn.execute("DELETE FROM search_dirty_customers")  # queued by the above: the upgrade must queue them
    conn.close()


def _sqlite_holding(path: str, text: str) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [line for line in conn.iterdump() if text in line]
    finally:
        conn.close()


async def _pg_age(dsn: str, public: str, token: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for table, column in _COLUMNS:
            kind = await conn.fetchval("SELECT data_type FROM information_schema.columns WHERE table_name = $1"
                                       " AND column_name = $2", table, column)
            value = f"replace({column}::text, $1, $2)" + ("::jsonb" if kind == "jsonb" else "")
            await conn.execute(f"UPDATE {table} SET {column} = {value}", public, token)
        await conn.execute("DELETE FROM search_dirty_customers")
    finally:
        await conn.close()


async def _pg_holding(dsn: str, text: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        found = []
        for table, column in _COLUMNS:
            found += [f"{table}.{column}: {r[0]}" for r in await conn.fetch(
                f"SELECT {column}::text FROM {table} WHERE strpos({column}::text, $1) > 0", text)]
        return found
    finally:
        await conn.close()


@dataclass
class _Before:
    token: str
    first: Frame
    visitor: Customer
    other: Customer
    conversation: str
    reply: Message
    merge: MergeRecord


async def _before(client: Client) -> _Before:
    """A visitor writes, an agent answers while they are away, an agent merges them with a WhatsApp customer."""
    async with tab(client) as ws:
        token = (await hello(ws))["visitor_id"]
        first = await say(ws, "Мой заказ 1042", client_id="c-1")
    store = client.app[STORE]
    visitor = await store.find_identity(IdentityRef(kind="webchat", value=token.partition(".")[0]))
    assert visitor is not None
    [asked] = await store.customer_messages(visitor.id, 10)
    assert asked.conversation_id is not None
    agent = await store.create_agent("ann", "Ann", Role.AGENT, "x")
    reply = await client.app[ROUTER].conversations.reply(asked.conversation_id, agent, "Заказ в пути")

    async def waiting() -> bool:
        return all(e.message_id != reply.id for e in await store.pending_outbox(100))

    await eventually(waiting, "the reply waiting for the visitor")
    await client.app[ROUTER].on_message(InboundMessage(
        channel="whatsapp", external_id="wa-1", sender=IdentityRef(kind="whatsapp", value="+79123456789"),
        text="Это Анна"))
    other = await store.find_identity(IdentityRef(kind="whatsapp", value="+79123456789"))
    assert other is not None
    merge = await store.merge_customers(MergeRequest(survivor_id=other.id, merged_id=visitor.id, source="agent",
                                                     actor=None, reason="the same person?"), datetime.now(UTC))
    return _Before(token, first, visitor, other, asked.conversation_id, reply, merge)


async def _age_and_upgrade(settings: Settings, dsn: str, token: str) -> tuple[list[str], set[str]]:
    """The rows aged to what versions before wrote, then the upgrade's migration run on them as the
    store runs it (in a transaction of its own; not by rolling the schema's version back, which would
    run every later migration again on a schema that has them, and an added column cannot be added
    twice): the rows still holding the token's signature, and the customers queued for the search indexer."""
    public, signature = token.split(".")
    path = settings.store.path
    if settings.store.backend == "postgres":
        await _pg_age(dsn, public, token)
        assert await _pg_holding(dsn, signature)
        conn = await asyncpg.connect(dsn)
        try:
            async with conn.transaction():
                await conn.execute(PG_MIGRATIONS[PG_MIGRATIONS.index(PG_VISITOR_IDS)])
            queued = {r[0] for r in await conn.fetch("SELECT customer_id FROM search_dirty_customers")}
        finally:
            await conn.close()
        async with PostgresStore(dsn):
            pass  # opened: the schema is current
        return await _pg_holding(dsn, signature), queued
    _sqlite_age(path, public, token)
    assert _sqlite_holding(path, signature)
    with sqlite3.connect(path) as conn:
        conn.executescript(f"BEGIN;\n{MIGRATIONS[MIGRATIONS.index(VISITOR_IDS)]}\nCOMMIT;")
    conn.close()
    async with SQLiteStore(Path(path)):
        pass
    queued = {str(r[0]) for r in _sqlite_rows(path, "SELECT customer_id FROM search_dirty_customers")}
    return _sqlite_holding(path, signature), queued


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_visitor_named_by_their_token_before_the_upgrade_goes_on_after_it(
        backend: str, request: pytest.FixtureRequest, make_client: AppClient, settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    dsn = ""
    settings.store.backend = backend
    if backend == "postgres":
        dsn = request.getfixturevalue("pg_database")
        monkeypatch.setenv(DATABASE_URL, dsn)
    client = await make_client()
    before = await _before(client)
    await client.close()
    token = before.token
    public = token.partition(".")[0]

    held, queued = await _age_and_upgrade(settings, dsn, token)
    assert held == [], "the upgrade left the visitor's token in the data"
    assert before.other.id in queued, "the customer holding the rewritten identity is not indexed again"

    # the merge undone as it was made; the visitor back with their token
    client = await make_client()
    store = client.app[STORE]
    await store.unmerge_customers(before.merge.id, None, "not the same person", datetime.now(UTC))
    back = await store.find_identity(IdentityRef(kind="webchat", value=public))
    assert back is not None and back.id == before.visitor.id
    async with tab(client) as ws:
        welcome = await hello(ws, token)
        assert welcome["visitor_id"] == token
        assert [(m["id"], m["text"]) for m in welcome["history"]] == [
            (before.first["id"], "Мой заказ 1042"), (before.reply.id, "Заказ в пути")]
        again = await say(ws, "Мой заказ 1042", client_id="c-1")  # resent from before: stored once
        assert again["id"] == before.first["id"]
        later = await say(ws, "Когда привезут?")

    async def sent() -> bool:
        stored = await store.list_messages(before.conversation, 50)
        return any(m.id == before.reply.id and m.delivery is Delivery.SENT for m in stored)

    await eventually(sent, "the waiting reply marked as reaching the visitor")
    stored = {m.id: m for m in await store.list_messages(before.conversation, 50)}
    assert later["id"] in stored, "the visitor's new message is not in their conversation"
    assert stored[later["id"]].sender == IdentityRef(kind="webchat", value=public)
