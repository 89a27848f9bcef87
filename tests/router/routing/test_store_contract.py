"""Routing's part of the store contract (router/routing/store.py), on every
backend of tests/router/store/test_contract.py: a backend is proven by the
same suite."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from router.models import (
    Agent,
    ConversationStatus,
    Presence,
    Role,
    RouteDecision,
)
from router.routing.service import in_serving_order
from router.store.base import Store
from router.store.errors import ConflictError
from tests.router.store.test_contract import T0, inbound, ingest, outbound


async def test_awaiting_first_response_can_be_limited_to_older_conversations(store: Store) -> None:
    _, old = await ingest(store, inbound("m1", sender="u1"), T0)
    _, new = await ingest(store, inbound("m2", sender="u2"), T0 + timedelta(minutes=10))
    assert [c.id for c in await store.awaiting_first_response(10)] == [old, new]
    assert [c.id for c in await store.awaiting_first_response(10, T0 + timedelta(minutes=5))] == [old]


async def queue(store: Store, sender: str, priority: int, at: datetime, kind: str = "chat") -> str:
    stored, _ = await store.insert_inbound(inbound(f"m-{sender}", sender=sender), at)
    assert stored.sender is not None
    customer = await store.resolve_identity(stored.sender, None, at)
    route = RouteDecision(status=ConversationStatus.QUEUED, team="support", priority=priority, reason="test",
                          channel_kind=kind)
    conv, _ = await store.attach_to_conversation(stored.id, customer.id, stored.channel, route, at)
    return conv.id


async def online(store: Store, username: str) -> Agent:
    agent = await store.create_agent(username, username.title(), Role.AGENT, "hash")
    await store.set_presence(agent.id, Presence.ONLINE, T0)
    return agent


async def test_the_queue_comes_in_the_serving_order_of_the_rules(store: Store) -> None:
    for minute, (sender, priority) in enumerate([("u1", 0), ("u2", 5), ("u3", 0), ("u4", 9), ("u5", 5)]):
        await queue(store, sender, priority, T0 + timedelta(minutes=minute))
    served = await store.queued_conversations(10)
    assert [c.priority for c in served] == [9, 5, 5, 0, 0]
    assert served == in_serving_order(reversed(served))
    assert await store.queued_conversations(2) == served[:2]  # the limit takes the first in that order


async def test_a_tie_in_the_queue_is_served_by_id_on_every_call(store: Store) -> None:
    # same priority, same instant: without the id as the last key the store may
    # return them in any order, and the first offered is whichever came first
    tied = sorted([await queue(store, f"u{i}", 3, T0) for i in range(4)])
    await queue(store, "late", 3, T0 + timedelta(minutes=1))
    served = await store.queued_conversations(10)
    assert [c.id for c in served[:4]] == tied
    assert served == in_serving_order(reversed(served))
    assert [c.id for c in await store.queued_conversations(2)] == tied[:2]


async def test_an_offer_past_the_agents_capacity_is_refused_and_changes_nothing(store: Store) -> None:
    ann = await online(store, "ann")
    first, second = await queue(store, "u1", 0, T0), await queue(store, "u2", 0, T0)
    email = await queue(store, "u3", 0, T0, kind="email")
    assert (await store.offer(first, ann.id, 1, T0)).agent_id == ann.id
    with pytest.raises(ConflictError, match="capacity"):
        await store.offer(second, ann.id, 1, T0)
    refused = await store.get_conversation(second)
    assert (refused.status, refused.agent_id) == (ConversationStatus.QUEUED, None)
    assert (await store.offer(email, ann.id, 1, T0)).agent_id == ann.id  # capacity is per channel kind
    with pytest.raises(ConflictError):
        await store.offer(email, ann.id, 5, T0, expected=frozenset(ConversationStatus))  # hers already
    assert await store.agent_loads() == {ann.id: {"chat": 1, "email": 1}}


async def test_only_unopened_offers_made_before_the_bound_go_back(store: Store) -> None:
    ann, bob = await online(store, "ann"), await online(store, "bob")
    early, opened, late = [await queue(store, f"u{i}", 0, T0) for i in range(3)]
    bobs = await queue(store, "u9", 0, T0)
    await store.offer(early, ann.id, 5, T0)
    await store.offer(opened, ann.id, 5, T0)
    await store.mark_opened(opened, ann.id, T0)
    await store.offer(late, ann.id, 5, T0 + timedelta(minutes=2))
    await store.offer(bobs, bob.id, 5, T0 + timedelta(minutes=2))
    released = await store.release_offers(None, T0 + timedelta(minutes=3), T0 + timedelta(minutes=2))
    assert [(r.conversation.id, r.agent_id) for r in released] == [(early, ann.id)]
    assert released[0].conversation.status is ConversationStatus.QUEUED
    released = await store.release_offers(ann.id, T0 + timedelta(minutes=4))  # ann goes offline: all of hers
    assert [(r.conversation.id, r.agent_id) for r in released] == [(late, ann.id)]
    assert (await store.get_conversation(bobs)).agent_id == bob.id


async def test_idle_time_restarts_only_on_coming_back_from_offline(store: Store) -> None:
    ann = await online(store, "ann")  # online at T0
    await store.set_presence(ann.id, Presence.AWAY, T0 + timedelta(minutes=1))
    back = await store.set_presence(ann.id, Presence.ONLINE, T0 + timedelta(minutes=2))
    assert (back.presence, back.idle_since) == (Presence.ONLINE, T0)
    await store.set_presence(ann.id, Presence.OFFLINE, T0 + timedelta(minutes=3))
    again = await store.set_presence(ann.id, Presence.ONLINE, T0 + timedelta(minutes=4))
    assert again.idle_since == T0 + timedelta(minutes=4)
    assert await store.list_presence() == [again]


async def test_an_offer_taken_by_another_agent_or_answered_is_no_longer_an_offer_that_lapses(store: Store) -> None:
    ann, bob = await online(store, "ann"), await online(store, "bob")
    taken = await queue(store, "u1", 10, T0)
    answered = await queue(store, "u2", 10, T0)
    await store.offer(taken, ann.id, 5, T0)
    await store.offer(answered, ann.id, 5, T0)
    # bob takes the first from ann's unopened offer; ann answers the second without opening it first
    await store.set_conversation_state(taken, ConversationStatus.ASSIGNED, bob.id, T0 + timedelta(minutes=1))
    reply, payload = outbound(answered, (await store.get_conversation(answered)).customer_id, "u2", "здравствуйте")
    await store.enqueue_outbound(reply, payload, ann.id, T0 + timedelta(minutes=1))
    assert await store.release_offers(None, T0 + timedelta(hours=1), T0 + timedelta(hours=1)) == []
    assert (await store.get_conversation(taken)).agent_id == bob.id
    assert (await store.get_conversation(answered)).agent_id == ann.id


async def test_a_snoozed_conversation_is_neither_offered_nor_chased_until_it_wakes(store: Store) -> None:
    # the agent's list hides a snoozed conversation: the assigner must not offer it
    # (the offer would lapse again and again) nor the SLA sweep alert on it
    sleeping, awake = await queue(store, "u1", 9, T0), await queue(store, "u2", 0, T0)
    await store.snooze(sleeping, T0 + timedelta(hours=1))
    assert [c.id for c in await store.queued_conversations(10)] == [awake]
    assert [c.id for c in await store.awaiting_first_response(10)] == [awake]
    assert [c.id for c in await store.wake_due(T0 + timedelta(hours=2), 10)] == [sleeping]
    assert [c.id for c in await store.queued_conversations(10)] == [sleeping, awake]
    assert {c.id for c in await store.awaiting_first_response(10)} == {sleeping, awake}
