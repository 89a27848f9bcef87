"""An agent's capacity on the paths that make a conversation an agent's by
hand (router/conversations/store.py's ``capacity``): a take or a
supervisor's assignment and a reopen (``set_conversation_state``), and a
reply that takes a conversation (``enqueue_outbound``). Each is checked in
the change's own transaction, as the assigner's offers are (DESIGN.md,
invariant 10: no agent is ever over capacity), on every backend; on
PostgreSQL two nodes taking at once for one agent never both pass it."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from router.models import ConversationStatus, ConversationView
from router.routing.service import AgentAtCapacity
from router.store.base import Store
from router.store.errors import ConflictError, NotFound
from tests.router.routing.test_store_contract import online, queue
from tests.router.store.test_contract import T0, outbound

OPEN = {ConversationStatus.QUEUED, ConversationStatus.BOT, ConversationStatus.ASSIGNED}
CHATS = {"chat": 2, "email": 5}  # as Assigner.capacity_of gives them: every kind named


async def take(store: Store, conversation_id: str, agent_id: str) -> ConversationView:
    return await store.set_conversation_state(conversation_id, ConversationStatus.ASSIGNED, agent_id, T0,
                                              expected=OPEN, capacity=CHATS)


async def test_a_take_past_the_agents_capacity_is_refused_and_changes_nothing(store: Store) -> None:
    ann = await online(store, "ann")
    first, second, third = [await queue(store, f"u{i}", 0, T0) for i in range(3)]
    await take(store, first, ann.id)
    await take(store, second, ann.id)
    with pytest.raises(AgentAtCapacity) as refused:
        await take(store, third, ann.id)
    assert (refused.value.agent_id, refused.value.kind, refused.value.capacity) == (ann.id, "chat", 2)
    assert "at capacity for chat (2)" in str(refused.value)
    kept = await store.get_conversation(third)
    assert (kept.status, kept.agent_id) == (ConversationStatus.QUEUED, None)
    assert await store.agent_loads() == {ann.id: {"chat": 2}}
    # the capacity is per channel kind: an email still fits
    email = await queue(store, "u-mail", 0, T0, kind="email")
    assert (await take(store, email, ann.id)).agent_id == ann.id
    # without a capacity (an account routing does not know) nothing is counted
    assert (await store.set_conversation_state(third, ConversationStatus.ASSIGNED, ann.id, T0,
                                               expected=OPEN)).agent_id == ann.id


async def test_taking_a_conversation_already_ones_own_is_not_refused_when_full(store: Store) -> None:
    """An offer is already in the agent's load: opening it with Take adds nothing."""
    ann = await online(store, "ann")
    offered = [await queue(store, f"u{i}", 0, T0) for i in range(2)]
    for conversation_id in offered:
        await store.offer(conversation_id, ann.id, 2, T0)
    taken = await take(store, offered[0], ann.id)
    assert (taken.status, taken.agent_id, taken.opened_at) == (ConversationStatus.ASSIGNED, ann.id, T0)


async def test_giving_a_colleagues_conversation_to_a_full_agent_is_refused(store: Store) -> None:
    ann, bob = await online(store, "ann"), await online(store, "bob")
    full = [await queue(store, f"u{i}", 0, T0) for i in range(2)]
    for conversation_id in full:
        await take(store, conversation_id, ann.id)
    bobs = await queue(store, "u-bob", 0, T0)
    await take(store, bobs, bob.id)
    with pytest.raises(AgentAtCapacity):
        await take(store, bobs, ann.id)
    assert (await store.get_conversation(bobs)).agent_id == bob.id


async def test_a_reopen_past_the_agents_capacity_is_refused_and_it_stays_resolved(store: Store) -> None:
    ann = await online(store, "ann")
    done = await queue(store, "u-done", 0, T0)
    await take(store, done, ann.id)
    await store.set_conversation_state(done, ConversationStatus.RESOLVED, ann.id, T0, expected=OPEN)
    for i in range(2):
        await take(store, await queue(store, f"u{i}", 0, T0), ann.id)
    with pytest.raises(AgentAtCapacity):
        await store.set_conversation_state(done, ConversationStatus.ASSIGNED, ann.id, T0,
                                           expected={ConversationStatus.RESOLVED}, capacity=CHATS)
    kept = await store.get_conversation(done)
    assert kept.status is ConversationStatus.RESOLVED and kept.resolved_at is not None


async def test_a_reply_that_would_take_a_conversation_past_capacity_stores_nothing(store: Store) -> None:
    ann = await online(store, "ann")
    for i in range(2):
        await take(store, await queue(store, f"u{i}", 0, T0), ann.id)
    waiting = await queue(store, "u-wait", 0, T0)
    view = await store.get_conversation(waiting)
    message, payload = outbound(waiting, view.customer_id, recipient="u-wait")
    with pytest.raises(AgentAtCapacity):
        await store.enqueue_outbound(message, payload, ann.id, T0, expected={ConversationStatus.QUEUED},
                                     capacity=CHATS)
    with pytest.raises(NotFound):
        await store.get_message(message.id)
    assert [e for e in await store.pending_outbox(10) if e.message_id == message.id] == []
    kept = await store.get_conversation(waiting)
    assert (kept.status, kept.agent_id, kept.last_message_text) == (ConversationStatus.QUEUED, None,
                                                                     view.last_message_text)
    # a reply in a conversation that is already the agent's takes nothing: not counted
    mine = (await store.list_conversations([ConversationStatus.ASSIGNED], 1))[0]
    message, payload = outbound(mine.id, mine.customer_id)
    await store.enqueue_outbound(message, payload, None, T0, expected={ConversationStatus.ASSIGNED},
                                 capacity=CHATS)
    assert (await store.get_message(message.id)).text == message.text


CONVERSATIONS = 30
CAPACITY = 3


async def test_takes_and_replies_from_two_nodes_at_once_never_overfill_an_agent(
        nodes: tuple[Store, Store]) -> None:
    """The race the offers' lock closes (tests/router/store/test_contract_concurrent_routing.py), on the
    paths by hand: one agent on two consoles (two nodes) takes, replies to and is given conversations at
    once, and the assigner offers her more; each change counts her load under her row's lock."""
    a, b = nodes
    ann = await online(a, "ann")
    queued = [await queue(a, f"u{i}", 0, T0) for i in range(CONVERSATIONS)]
    capacity = {"chat": CAPACITY}
    calls = []
    for n, conversation_id in enumerate(queued):
        node = (a, b)[n % 2]
        if n % 3 == 0:
            calls.append(node.set_conversation_state(conversation_id, ConversationStatus.ASSIGNED, ann.id, T0,
                                                     expected=OPEN, capacity=capacity))
        elif n % 3 == 1:
            view = await a.get_conversation(conversation_id)
            message, payload = outbound(conversation_id, view.customer_id, recipient=f"u{n}")
            calls.append(node.enqueue_outbound(message, payload, ann.id, T0, expected={ConversationStatus.QUEUED},
                                               capacity=capacity))
        else:
            calls.append(node.offer(conversation_id, ann.id, CAPACITY, T0))
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    unexpected = [o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, ConflictError)]
    assert unexpected == []
    assert await a.agent_loads() == {ann.id: {"chat": CAPACITY}}  # full, and not one over
    statuses = Counter([(await b.get_conversation(c)).status for c in queued])
    assert statuses == {ConversationStatus.ASSIGNED: CAPACITY, ConversationStatus.QUEUED: CONVERSATIONS - CAPACITY}
