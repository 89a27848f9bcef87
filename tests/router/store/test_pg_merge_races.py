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
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from router.identity.postgres_merge import _merge
from router.identity.types import MergeRequest
from router.models import IdentityRef, InboundMessage
from router.store.pg_engine import PgConn
from router.store.postgres import PostgresStore
from tests.conftest import eventually
from tests.router.identity.test_store_contract import PHONE, keyed
from tests.router.store.test_contract import T0


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
