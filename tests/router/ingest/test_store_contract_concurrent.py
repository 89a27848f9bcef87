"""The ingest's writes raced, on every backend of tests/router/store/test_contract.py:
what router/ingest/store.py's locks keep true when two nodes take a customer's
messages at once. On PostgreSQL the two are two stores on one database (two
nodes, each with its pool); on SQLite one store serves both, whose one writer
runs the transactions one after another (passing there by construction)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from router.identity.types import MergeRequest
from router.ingest.store import Ingested
from router.models import ConversationStatus
from router.store.base import Store
from tests.router.store.test_contract import QUEUE, T0, inbound

MANY = 8
ROUNDS = 4


async def _routed(node: Store, ingested: Ingested) -> str:
    """The pipeline's next step for a message ingest left unattached: routing opens its conversation."""
    if ingested.conversation is not None:
        return ingested.conversation.id
    view, _ = await node.attach_to_conversation(ingested.message.id, ingested.customer.id, "webchat", QUEUE, T0)
    return view.id


async def test_a_customers_messages_on_two_nodes_end_in_one_conversation(nodes: tuple[Store, Store]) -> None:
    """A new customer writes several messages at once, taken by either node
    and routed there: one customer, one conversation holding every message,
    none left unrouted, none failed."""

    async def take(n: int) -> str:
        node = nodes[n % 2]
        return await _routed(node, await node.ingest(inbound(f"m{n}", sender="newcomer", text=f"t{n}"), T0))

    conversations = await asyncio.gather(*(take(n) for n in range(MANY)))
    assert len(set(conversations)) == 1
    a, _ = nodes
    assert len(await a.list_messages(conversations[0], 100)) == MANY
    assert await a.unrouted_messages(10) == []


async def test_redeliveries_racing_the_first_copys_routing_file_it_once(nodes: tuple[Store, Store]) -> None:
    """The platform retries a message while the node that stored it routes it:
    the message stays one row, in one conversation, and every retry answers
    with that row."""
    a, b = nodes
    first = await a.ingest(inbound("m1", sender="u1"), T0)
    assert first.conversation is None  # routing's to open
    retries = [b.ingest(inbound("m1", sender="u1"), T0 + timedelta(seconds=n)) for n in range(MANY)]
    routed, *copies = await asyncio.gather(_routed(a, first), *retries)
    assert all(c.duplicate and c.message.id == first.message.id for c in copies)
    assert {c.conversation.id for c in copies if c.conversation is not None} <= {routed}
    assert [m.id for m in await a.list_messages(routed, 10)] == [first.message.id]
    assert len(await a.customer_conversations(first.customer.id)) == 1


async def test_a_message_never_lands_in_a_conversation_resolved_meanwhile(nodes: tuple[Store, Store]) -> None:
    """An agent resolves the conversation on one node while the customer's
    next messages arrive on the other: each message is either in the
    conversation while it was open, or waits for routing (a new one), never
    filed into a resolved conversation that nobody will read again."""
    a, b = nodes
    for round_ in range(ROUNDS):
        sender, at = f"u{round_}", T0 + timedelta(minutes=round_)
        opened = await a.ingest(inbound(f"r{round_}m0", sender=sender), at)
        conversation_id = await _routed(a, opened)
        arrivals = [asyncio.ensure_future(b.ingest(inbound(f"r{round_}m{n}", sender=sender), at))
                    for n in range(1, 3 * MANY)]
        # resolved once the first arrival is in, while the others are on their way
        await asyncio.wait(arrivals, return_when=asyncio.FIRST_COMPLETED)
        await a.set_conversation_state(conversation_id, ConversationStatus.RESOLVED, None, at)
        taken = await asyncio.gather(*arrivals)
        for ingested in taken:
            assert ingested.conversation is None or ingested.conversation.status is not ConversationStatus.RESOLVED
        joined = {t.message.id for t in taken if t.conversation is not None}
        waiting = {m.id for m in await a.unrouted_messages(100)}
        assert joined | waiting == {t.message.id for t in taken} and not joined & waiting
        in_resolved = {m.id for m in await a.list_messages(conversation_id, 100)}
        assert in_resolved == {opened.message.id} | joined  # the ones filed before the resolution, nothing after
        for ingested in taken:  # routed: the next round starts with nothing waiting
            if ingested.conversation is None:
                await _routed(a, ingested)


async def test_messages_arriving_while_their_customer_is_merged_follow_the_survivor(
    nodes: tuple[Store, Store], caplog: pytest.LogCaptureFixture
) -> None:
    """An agent merges two profiles on one node while the merged one's
    messages arrive on the other: each message ends with the survivor, in
    its one open conversation (routing opens none for the merged profile),
    and no transaction deadlocked on the way (a deadlock is retried, a
    second later: a stall the customer would notice)."""
    a, b = nodes
    caplog.set_level(logging.INFO, logger="router.store.pg_engine")
    for round_ in range(ROUNDS):
        at = T0 + timedelta(minutes=round_)
        survivor = await a.ingest(inbound(f"r{round_}s", sender=f"s{round_}"), at)
        merged = await a.ingest(inbound(f"r{round_}m", sender=f"m{round_}"), at)
        await _routed(a, survivor)
        await _routed(a, merged)
        arrivals = [asyncio.ensure_future(b.ingest(inbound(f"r{round_}m{n}", sender=f"m{round_}"), at))
                    for n in range(2 * MANY)]
        await asyncio.wait(arrivals, return_when=asyncio.FIRST_COMPLETED)
        await a.merge_customers(MergeRequest(survivor.customer.id, merged.customer.id, "agent", None, "same"), at)
        for ingested in await asyncio.gather(*arrivals):
            await _routed(a, ingested)
        assert [c.status for c in await a.customer_conversations(merged.customer.id)
                if c.status is not ConversationStatus.RESOLVED] == []
        [open_one] = [c for c in await a.customer_conversations(survivor.customer.id)
                      if c.status is not ConversationStatus.RESOLVED]
        assert len(await a.list_messages(open_one.id, 100)) == 2 + 2 * MANY
    assert not [r for r in caplog.records if "aborted" in r.getMessage()]
