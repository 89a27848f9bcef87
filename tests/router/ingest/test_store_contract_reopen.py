"""Reopening a resolved conversation with its customer's next message
(``IngestStore.reopen_with``, ``last_resolved``), on every backend of
tests/router/store/test_contract.py: what the store does once the service
(router/ingest/reopen.py) has decided the window allows it. On PostgreSQL the
races run on two stores over one database (two nodes)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from router.ingest.store import Ingested, Reopening
from router.models import ConversationStatus, Role
from router.store.base import Store
from router.store.errors import AlreadyRouted
from tests.router.agents.test_store_contract_steps import raw
from tests.router.store.test_contract import QUEUE, T0, inbound

LATER = T0 + timedelta(hours=1)


async def _resolved(store: Store, sender: str = "u1", priority: int = 0) -> tuple[Ingested, str, str]:
    """A customer's conversation, taken by Anna and resolved by her at T0: (first message, conversation, agent)."""
    agent = await store.create_agent(f"anna-{sender}", "Anna", Role.AGENT, "x")
    first = await store.ingest(inbound(f"{sender}-m0", sender=sender), T0 - timedelta(minutes=5))
    view, _ = await store.attach_to_conversation(first.message.id, first.customer.id, "webchat",
                                                 QUEUE.model_copy(update={"priority": priority}), T0)
    await store.set_conversation_state(view.id, ConversationStatus.ASSIGNED, agent.id, T0,
                                       expected={ConversationStatus.QUEUED})
    await store.set_conversation_state(view.id, ConversationStatus.RESOLVED, agent.id, T0)
    return first, view.id, agent.id


async def _plan(store: Store, customer_id: str, priority: int = 0) -> Reopening:
    last = await store.last_resolved(customer_id)
    assert last is not None and last.resolved_at is not None
    return Reopening(last.id, last.resolved_at, priority)


async def test_a_message_after_a_resolve_reopens_the_conversation_for_its_resolver_first(store: Store) -> None:
    first, conversation_id, agent_id = await _resolved(store, priority=5)
    nxt = await store.ingest(inbound("m1", text="it still does not work"), LATER)
    assert nxt.conversation is None  # resolved: the ingest step leaves it to routing
    plan = await _plan(store, first.customer.id, priority=2)
    found = await store.reopen_with(nxt.message.id, first.customer.id, "telegram", plan, LATER, only_unrouted=True)
    assert found is not None
    view, reopened = found
    assert reopened and view.id == conversation_id
    assert view.status is ConversationStatus.QUEUED and view.agent_id is None
    assert view.preferred_agent_id == agent_id  # offered to the agent who resolved it first
    assert view.resolved_at is None and view.reopened_at == LATER and view.reopens == 1
    assert view.priority == 5  # the higher of its own and the rules' for the new message
    assert view.channel == "telegram" and view.last_message_text == "it still does not work"
    assert view.last_message_at == LATER
    assert [m.id for m in await store.list_messages(conversation_id, 10)] == [first.message.id, nxt.message.id]
    assert await store.unrouted_messages(10) == []
    assert len(await store.customer_conversations(first.customer.id)) == 1
    assert await store.last_resolved(first.customer.id) is None
    # resolved and reopened again: the count goes on, the rules' higher priority stands
    await store.set_conversation_state(conversation_id, ConversationStatus.RESOLVED, agent_id, LATER)
    again = await store.ingest(inbound("m2"), LATER + timedelta(minutes=1))
    plan = await _plan(store, first.customer.id, priority=9)
    found = await store.reopen_with(again.message.id, first.customer.id, "webchat", plan, LATER + timedelta(minutes=1))
    assert found is not None and found[0].reopens == 2 and found[0].priority == 9


async def test_a_conversation_changed_since_it_was_read_is_not_reopened_and_nothing_changes(store: Store) -> None:
    first, conversation_id, agent_id = await _resolved(store)
    stale = await _plan(store, first.customer.id)
    # an agent reopened it and resolved it again meanwhile: another resolve than the one read
    await store.set_conversation_state(conversation_id, ConversationStatus.ASSIGNED, agent_id, LATER,
                                       expected={ConversationStatus.RESOLVED})
    await store.set_conversation_state(conversation_id, ConversationStatus.RESOLVED, agent_id, LATER)
    nxt = await store.ingest(inbound("m1"), LATER + timedelta(minutes=1))
    assert await store.reopen_with(nxt.message.id, first.customer.id, "webchat", stale, LATER) is None
    view = await store.get_conversation(conversation_id)
    assert view.status is ConversationStatus.RESOLVED and view.reopens == 0
    assert [m.id for m in await store.unrouted_messages(10)] == [nxt.message.id]  # still the router's to open


async def test_a_customer_with_an_open_conversation_joins_it_and_nothing_is_reopened(store: Store) -> None:
    first, resolved_id, _ = await _resolved(store)
    plan = await _plan(store, first.customer.id)
    opened = await store.ingest(inbound("m1"), LATER)
    newer, _ = await store.attach_to_conversation(opened.message.id, first.customer.id, "webchat", QUEUE, LATER)
    late = await store.insert_inbound(inbound("m2"), LATER)  # stored before the new one opened, routed after
    found = await store.reopen_with(late[0].id, first.customer.id, "webchat", plan, LATER)
    assert found is not None and found[0].id == newer.id and not found[1]
    assert (await store.get_conversation(resolved_id)).status is ConversationStatus.RESOLVED


async def test_a_message_routed_meanwhile_is_refused_and_nothing_is_reopened(store: Store) -> None:
    first, resolved_id, _ = await _resolved(store)
    plan = await _plan(store, first.customer.id)
    nxt = await store.ingest(inbound("m1"), LATER)
    await store.reopen_with(nxt.message.id, first.customer.id, "webchat", plan, LATER, only_unrouted=True)
    with pytest.raises(AlreadyRouted) as refused:  # another node's resume read it unrouted too
        await store.reopen_with(nxt.message.id, first.customer.id, "webchat", plan, LATER, only_unrouted=True)
    assert refused.value.conversation_id == resolved_id
    assert (await store.get_conversation(resolved_id)).reopens == 1


async def test_last_resolved_is_the_latest_resolve_of_this_customer(store: Store) -> None:
    first, conversation_id, _ = await _resolved(store)
    await _resolved(store, sender="someone-else")
    last = await store.last_resolved(first.customer.id)
    assert last is not None and last.id == conversation_id and last.resolved_at == T0
    assert await store.last_resolved("cus_nobody") is None


async def test_messages_at_once_after_a_resolve_reopen_it_once_on_two_nodes(nodes: tuple[Store, Store]) -> None:
    """Several messages of the customer at once, routed on either node after a
    resolve: one reopening, every message in that one conversation, never a
    second open conversation (the unique index would refuse one: an error)."""
    a, b = nodes
    for round_ in range(4):
        sender = f"u{round_}"
        first, conversation_id, _ = await _resolved(a, sender=sender)
        plan = await _plan(a, first.customer.id)
        taken = await asyncio.gather(*(nodes[n % 2].ingest(inbound(f"{sender}-m{n}", sender=sender), LATER)
                                       for n in range(1, 9)))
        results = await asyncio.gather(*(
            nodes[n % 2].reopen_with(t.message.id, first.customer.id, "webchat", plan, LATER)
            for n, t in enumerate(taken) if t.conversation is None))
        assert all(r is not None and r[0].id == conversation_id for r in results)
        assert sum(1 for r in results if r is not None and r[1]) == 1  # one step reopened it, the rest joined
        assert len(await b.list_messages(conversation_id, 100)) == 9
        view = await b.get_conversation(conversation_id)
        assert view.status is ConversationStatus.QUEUED and view.reopens == 1
        assert await a.unrouted_messages(100) == []


async def test_the_last_resolved_is_the_latest_resolve_on_every_backend(store: Store) -> None:
    """A resolved row without its time (from before resolved_at was kept) sorts last on both backends:
    SQLite puts NULLs last in a descending order, PostgreSQL first unless told."""
    first, older, _ = await _resolved(store, sender="u1")
    await raw(store, f"UPDATE conversations SET resolved_at = NULL WHERE id = '{older}'",
              f"UPDATE conversations SET resolved_at = NULL WHERE id = '{older}'")
    # the same customer's later case, resolved at a known time
    nxt = await store.ingest(inbound("u1-m1", sender="u1"), LATER)
    view, _ = await store.attach_to_conversation(nxt.message.id, first.customer.id, "webchat", QUEUE, LATER)
    await store.set_conversation_state(view.id, ConversationStatus.RESOLVED, None, LATER)
    last = await store.last_resolved(first.customer.id)
    assert last is not None and last.id == view.id
