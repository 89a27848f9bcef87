"""Chains of merges (A into B, then B into C): whatever names a merged
customer (an identity a store linked to one before that was refused, a
chain walked while a merge commits) resolves to the live end of its chain,
a bounded walk; on every backend of tests/router/store/test_contract.py.

A PostgreSQL store written before the fix of the race in
tests/router/store/test_pg_merge_races.py holds identities linked to merged
customers: each of its senders' next message looped for ever in the
resolve (a connection and its locks held), and a CRM's write by its key
too. The rows are written here by hand, as that race left them."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3

import asyncpg
import pytest

from router.identity.types import CustomerUpsert, KeyRef, MergeRequest
from router.models import Customer, IdentityRef
from router.store.base import Store
from router.store.errors import BackendError
from router.store.postgres import PostgresStore
from router.store.sqlite import SQLiteStore
from tests.conftest import HANG
from tests.router.identity.test_store_contract import PHONE, keyed, keyed_inbound
from tests.router.store.test_contract import T0


async def _write(store: Store, sql: str, *args: str) -> None:
    """A statement run on the database itself (``?`` for each argument, in order)."""
    if isinstance(store, PostgresStore):
        conn = await asyncpg.connect(store.dsn)
        try:
            await conn.execute(_numbered(sql), *args)
        finally:
            await conn.close()
        return
    assert isinstance(store, SQLiteStore)
    with contextlib.closing(sqlite3.connect(store.path)) as db, db:
        db.execute(sql, args)


def _numbered(sql: str) -> str:
    parts = sql.split("?")
    return "".join(f"{part}${n}" for n, part in enumerate(parts[:-1], 1)) + parts[-1]


async def _chain(store: Store) -> tuple[Customer, Customer, Customer]:
    """A (who owns PHONE by a WhatsApp identity), B and C; A merged into B, then B into C."""
    a = await store.resolve_identity(IdentityRef(kind="whatsapp", value=PHONE.value), "Anna", T0,
                                     keyed("whatsapp", PHONE.value))
    b = await store.resolve_identity(IdentityRef(kind="webchat", value="b"), None, T0)
    c = await store.resolve_identity(IdentityRef(kind="webchat", value="c"), None, T0)
    await store.merge_customers(MergeRequest(b.id, a.id, "agent", "ann", "same person"), T0)
    await store.merge_customers(MergeRequest(c.id, b.id, "agent", "ann", "same person"), T0)
    return a, b, c


async def _left_on(store: Store, customer: Customer, *kinds: str) -> None:
    """The identities of ``kinds`` linked to ``customer`` (merged), as the race left them."""
    marks = ", ".join("?" for _ in kinds)
    await _write(store, f"UPDATE identities SET customer_id = ? WHERE kind IN ({marks})", customer.id, *kinds)


async def test_a_new_sender_by_a_key_whose_owner_was_merged_twice_joins_the_live_end(store: Store) -> None:
    _, _, c = await _chain(store)
    sms = await store.resolve_identity(IdentityRef(kind="sms", value=PHONE.value), None, T0, keyed("sms", PHONE.value))
    assert sms.id == c.id and sms.merged_into is None


async def test_a_sender_left_on_a_merged_customer_writes_to_the_live_end_of_its_chain(store: Store) -> None:
    a, _, c = await _chain(store)
    await _left_on(store, a, "whatsapp")
    plan = keyed("whatsapp", PHONE.value)
    # a new name is a write: on PostgreSQL the resolve looped for ever on the merged customer
    async with asyncio.timeout(HANG):
        renamed = await store.resolve_identity(plan.identity, "Anna K", T0, plan)
        ingested = await store.ingest(keyed_inbound(plan, "wa-1"), T0, plan)
    assert (renamed.id, renamed.merged_into, renamed.display_name) == (c.id, None, "Anna K")
    assert ingested.customer.id == c.id  # the message is on the profile the agent sees
    assert (await store.get_customer(a.id)).display_name == "Anna"  # nothing written on the merged one


async def test_a_new_sender_by_a_key_left_on_a_merged_customer_joins_the_live_end(store: Store) -> None:
    a, _, c = await _chain(store)
    await _left_on(store, a, "whatsapp")
    async with asyncio.timeout(HANG):
        sms = await store.resolve_identity(IdentityRef(kind="sms", value=PHONE.value), None, T0,
                                           keyed("sms", PHONE.value))
    assert sms.id == c.id and sms.merged_into is None
    assert ("sms", PHONE.value) in {(i.ref.kind, i.ref.value) for i in await store.customer_identities(c.id)}


async def test_a_crm_write_by_a_key_left_on_a_merged_customer_lands_on_the_live_end(store: Store) -> None:
    a, _, c = await _chain(store)
    external = KeyRef("external", "crm-1")
    await store.upsert_customer(CustomerUpsert("crm", customer_id=c.id, keys=(external,)), T0)
    await _left_on(store, a, "whatsapp", "external")
    async with asyncio.timeout(HANG):  # on PostgreSQL it looped for ever on the merged customer
        done = await store.upsert_customer(CustomerUpsert("crm", keys=(PHONE, external), attributes=(("tier", 2),)),
                                           T0)
    assert (done.customer.id, done.created) == (c.id, False)
    assert (await store.get_customer(c.id)).attributes["tier"] == 2


async def test_a_cycle_of_merges_is_an_error_not_a_loop(store: Store) -> None:
    # merges make no cycle; a store edited by hand may have one: the walk gives up, the call fails
    a, b, c = await _chain(store)
    await _left_on(store, a, "whatsapp")
    await _write(store, "UPDATE customers SET merged_into = ? WHERE id = ?", a.id, c.id)
    plan = keyed("whatsapp", PHONE.value)
    async with asyncio.timeout(HANG):
        with pytest.raises(BackendError, match="chain of merges"):
            await store.resolve_identity(plan.identity, "Anna K", T0, plan)
    assert (await store.get_customer(b.id)).merged_into == c.id
