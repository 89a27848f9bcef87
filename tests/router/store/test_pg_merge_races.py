"""A merge committing in the middle of another node's write, on a real
PostgreSQL: the other node's merge is the real one (``postgres_merge._merge``)
run on a connection of its own and held open, after its locks and writes,
until the write under test waits for it; then it commits. So the window the
race needs is hit every time, not one run in many.

- A sender seen for the first time joins the profile owning its key: the
  owner was read under the key's lock, but a merge takes no key's lock. The
  identity was linked to the customer being merged away: its message landed
  on a profile nobody shows, and the sender's every later resolve that wrote
  anything looped for ever on it.
- A machine's message (a bounce) filed in the thread it answers locked the
  conversation, then its customer (the message's foreign key): against the
  order of ``router.store.base``, so a merge (customers, then their
  conversations) deadlocked with it, and PostgreSQL aborted one of the two."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest

from router.identity.postgres_merge import _merge, lock_customers
from router.identity.types import MergeRequest
from router.models import IdentityRef, InboundMessage
from router.store.pg_engine import PgConn
from router.store.postgres import PostgresStore
from tests.conftest import eventually
from tests.router.identity.test_store_contract import PHONE, keyed
from tests.router.store.test_contract import T0, inbound, ingest, outbound


@pytest.fixture
async def nodes(pg_database: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    """Two nodes on one database."""
    async with PostgresStore(pg_database) as one, PostgresStore(pg_database) as two:
        yield one, two


@asynccontextmanager
async def held_open(node: PostgresStore) -> AsyncIterator[PgConn]:
    """A transaction on a connection of ``node``'s, committed at the block's end (rolled back if it raises)."""
    async with node._pg.pool.acquire() as conn, conn.transaction():
        yield conn


async def waiting_for_a_lock(conn: PgConn) -> None:
    """Until some connection of the database waits for a lock (the write under test, for the merge's)."""
    async def probe() -> bool:
        return bool(await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"))

    await eventually(probe, "the write to wait for the merge's lock")


async def test_a_new_sender_joining_a_key_whose_owner_is_being_merged_joins_the_survivor(
        nodes: tuple[PostgresStore, PostgresStore]) -> None:
    store, second = nodes
    owner = await store.resolve_identity(IdentityRef(kind="whatsapp", value=PHONE.value), "Anna", T0,
                                         keyed("whatsapp", PHONE.value))
    survivor = await store.resolve_identity(IdentityRef(kind="telegram", value="1"), "Anna T", T0)
    sms = keyed("sms", PHONE.value)
    async with held_open(second) as other:
        await _merge(other, MergeRequest(survivor.id, owner.id, "agent", "ann", "same person"), T0)
        # the key's owner is read before the merge commits: the customer merged away
        linking = asyncio.create_task(store.resolve_identity(sms.identity, None, T0, sms))
        await waiting_for_a_lock(other)
    linked = await linking
    assert (linked.id, linked.merged_into) == (survivor.id, None)
    # the sender's next message, with a name to write, resolves (it looped for ever on the merged customer)
    async with asyncio.timeout(120):
        again = await store.ingest(InboundMessage(channel="sms", external_id="s2", sender=sms.identity, text="hi",
                                                  sender_name="Anna S"), T0, sms)
    assert again.customer.id == survivor.id
    assert ("sms", PHONE.value) in {(i.ref.kind, i.ref.value) for i in await store.customer_identities(survivor.id)}


async def test_a_bounce_filed_while_its_conversations_customer_is_merged_waits_for_the_merge(
        nodes: tuple[PostgresStore, PostgresStore], caplog: pytest.LogCaptureFixture) -> None:
    store, second = nodes
    _, bounced = await ingest(store, inbound("c1", sender="c"))
    _, kept = await ingest(store, inbound("s1", sender="s"))
    merged_id = (await store.get_conversation(bounced)).customer_id
    survivor_id = (await store.get_conversation(kept)).customer_id
    message, payload = outbound(bounced, merged_id)
    await store.enqueue_outbound(message, payload, None, T0)
    [entry] = (await store.claim_outbox("node-1", 1, T0, timedelta(seconds=60))).entries
    await store.outbox_sent(entry.id, "ext-1", T0, "node-1")
    bounce = InboundMessage(channel="webchat", external_id="b1", text="undeliverable", automated="bounce",
                            sender=IdentityRef(kind="email", value="mailer-daemon"), replies_to=["ext-1"])
    caplog.set_level(logging.INFO, logger="router.store.pg_engine")
    async with held_open(second) as other:
        # the merge has locked both customers when the bounce comes: the bounce must wait for it before
        # it locks the conversation the merge locks next (it locked it first, then waited: a deadlock)
        await lock_customers(other, (survivor_id, merged_id))
        filing = asyncio.create_task(store.ingest_automated(bounce, T0))
        await waiting_for_a_lock(other)
        await _merge(other, MergeRequest(survivor_id, merged_id, "agent", "ann", "same person"), T0)
    stored, duplicate, conversation = await filing
    assert not duplicate and conversation is not None
    # the merge folded the newer open conversation into the older: the bounce is where the merge left it
    assert stored.customer_id == survivor_id
    assert stored.conversation_id == conversation.id and conversation.customer_id == survivor_id
    assert not [r for r in caplog.records if "aborted" in r.getMessage()]  # no deadlock, no retry
