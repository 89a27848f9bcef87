"""The identity slice's customer writes under concurrent writers, on every
backend of BACKENDS: a sender resolved, a CRM's write by key, a proof of a
phone, each started many times at once.

On PostgreSQL the calls are split over two ``PostgresStore`` instances on
one database (two nodes, each with its own pool), so the transactions really
overlap; on SQLite the one writer runs them one after another and they pass
by construction. Each fails on PostgreSQL without the lock
``router.identity.store`` names for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import pytest

from router.identity.types import ClaimPlan, CustomerUpsert, IdentityPlan, KeyRef, MergeRequest
from router.models import IdentityRef
from router.store.base import Store
from router.store.postgres import PostgresStore
from tests.router.store.test_contract import T0, StoreFactory

T = TypeVar("T")
MANY = 16
PHONE = KeyRef("phone", "+79123456789")

Nodes = tuple[Store, Store]


@pytest.fixture
async def nodes(store: Store, store_factory: StoreFactory) -> AsyncIterator[Nodes]:
    """Two nodes on one database: on PostgreSQL a second store of its own;
    SQLite has one writer per file, so its "nodes" are the one store."""
    if not isinstance(store, PostgresStore):
        yield store, store
        return
    async with store_factory() as other:
        for node in (store, other):  # each pool's connections opened before the race, so the calls overlap
            await asyncio.gather(*(node.find_identity(IdentityRef(kind="warm", value=str(n))) for n in range(MANY)))
        yield store, other


async def on_both(nodes: Nodes, calls: list[Callable[[Store], Awaitable[T]]]) -> list[T]:
    """Every call at once, alternately on either node."""
    return await asyncio.gather(*(call(nodes[n % 2]) for n, call in enumerate(calls)))


def resolving(plan: IdentityPlan) -> Callable[[Store], Awaitable[str]]:
    async def call(node: Store) -> str:
        return (await node.resolve_identity(plan.identity, None, T0, plan)).id

    return call


async def test_two_nodes_seeing_a_new_sender_at_once_make_one_customer(nodes: Nodes) -> None:
    # no key to lock: the identity's (kind, value) decides, and the losers read the winner's customer
    plan = IdentityPlan(identity=IdentityRef(kind="webchat", value="newcomer"))
    ids = await on_both(nodes, [resolving(plan)] * MANY)
    assert len(set(ids)) == 1
    [identity] = await nodes[0].customer_identities(ids[0])
    assert identity.ref == plan.identity


async def test_two_nodes_seeing_one_phone_on_many_channels_at_once_make_one_customer(nodes: Nodes) -> None:
    # each channel's identity is new, and all share the phone: without the key's lock
    # each finds no owner yet and starts a profile of its own
    plans = [IdentityPlan(identity=IdentityRef(kind=f"channel-{n}", value=PHONE.value), key=PHONE, match=True)
             for n in range(MANY)]
    ids = await on_both(nodes, [resolving(plan) for plan in plans])
    assert len(set(ids)) == 1
    linked = await nodes[1].customer_identities(ids[0])
    assert {i.ref.kind for i in linked} == {f"channel-{n}" for n in range(MANY)}


async def test_two_senders_proving_one_phone_at_once_end_as_one_customer(nodes: Nodes) -> None:
    # a Telegram contact of the sender's own account proves the phone: with auto_merge on for
    # phones, the second prover must find the first as the phone's owner and join it, never
    # two owners of one proven phone made in parallel
    proof = ClaimPlan(PHONE, "telegram:proven_phone", PHONE.value)
    plans = [IdentityPlan(identity=IdentityRef(kind="telegram", value=str(5550000 + n)), proven=(proof,),
                          merge_proven=frozenset({"phone"})) for n in range(MANY)]
    await on_both(nodes, [resolving(plan) for plan in plans])
    found = [await nodes[0].find_identity(plan.identity) for plan in plans]
    owners = {c.id if c is not None else None for c in found}
    assert len(owners) == 1 and None not in owners
    [owner] = owners
    keyed = await nodes[1].customer_identities(owner)
    assert len(keyed) == MANY and {i.key for i in keyed} == {"phone:+79123456789"}


async def test_two_nodes_writing_a_customer_by_a_new_phone_at_once_make_one(nodes: Nodes) -> None:
    # a CRM retrying a write by key on two nodes: one customer is created, the others update it
    def upserting(n: int) -> Callable[[Store], Awaitable[tuple[str, bool]]]:
        async def call(node: Store) -> tuple[str, bool]:
            done = await node.upsert_customer(CustomerUpsert("crm", keys=(PHONE,), attributes=(("tier", n),)), T0)
            return done.customer.id, done.created

        return call

    written = await on_both(nodes, [upserting(n) for n in range(MANY)])
    assert len({customer_id for customer_id, _ in written}) == 1
    assert sum(created for _, created in written) == 1


async def test_a_crm_write_racing_a_merge_of_its_customer_lands_on_the_survivor(nodes: Nodes) -> None:
    # the write by key found the customer just as an agent merged it away: its attribute must
    # end on the profile the agent sees, never on the merged one nobody shows
    pairs = []
    for n in range(MANY):
        phone = KeyRef("phone", f"+7912555{n:04d}")
        merged = (await nodes[0].upsert_customer(CustomerUpsert("crm", keys=(phone,)), T0)).customer.id
        survivor = (await nodes[0].resolve_identity(IdentityRef(kind="webchat", value=f"u{n}"), None, T0)).id
        pairs.append((phone, merged, survivor))

    async def merge(node: Store, merged: str, survivor: str) -> None:
        await node.merge_customers(MergeRequest(survivor, merged, "agent", None, "same person"), T0)

    async def write(node: Store, phone: KeyRef, n: int) -> None:
        await node.upsert_customer(CustomerUpsert("crm", keys=(phone,), attributes=(("tier", n),)), T0)

    await asyncio.gather(*(step for n, (phone, merged, survivor) in enumerate(pairs)
                           for step in (merge(nodes[n % 2], merged, survivor), write(nodes[(n + 1) % 2], phone, n))))
    tiers = [(await nodes[0].get_customer(survivor)).attributes.get("tier") for _, _, survivor in pairs]
    assert tiers == list(range(MANY))


async def test_a_claim_racing_a_merge_of_its_customer_lands_on_the_survivor(nodes: Nodes) -> None:
    # a customer types their phone just as an agent merges their profile into another: the claim
    # must end with the profile the agent sees (as the merge moves the earlier ones), never with
    # the merged one nobody shows
    pairs = []
    for n in range(MANY):
        sender = IdentityRef(kind="webchat", value=f"visitor-{n}")
        merged = (await nodes[0].resolve_identity(sender, None, T0)).id
        survivor = (await nodes[0].resolve_identity(IdentityRef(kind="webchat", value=f"u{n}"), None, T0)).id
        pairs.append((sender, merged, survivor))

    async def merge(node: Store, merged: str, survivor: str) -> None:
        await node.merge_customers(MergeRequest(survivor, merged, "agent", None, "same person"), T0)

    async def claim(node: Store, sender: IdentityRef, n: int) -> None:
        phone = ClaimPlan(KeyRef("phone", f"+7912666{n:04d}"), "webchat:text", f"8912666{n:04d}")
        await node.resolve_identity(sender, None, T0, IdentityPlan(identity=sender, claims=(phone,)))

    await asyncio.gather(*(step for n, (sender, merged, survivor) in enumerate(pairs)
                           for step in (merge(nodes[n % 2], merged, survivor), claim(nodes[(n + 1) % 2], sender, n))))
    claimed = [[c.value for c in await nodes[0].customer_claims(survivor)] for _, _, survivor in pairs]
    assert claimed == [[f"+7912666{n:04d}"] for n in range(MANY)]
