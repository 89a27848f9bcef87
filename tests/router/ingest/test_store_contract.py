"""The ingest's part of the store contract (router/ingest/store.py), on every
backend of tests/router/store/test_contract.py: a backend is proven by the
same suite. Storing an inbound message once, the one-step ingest, attaching
to the open conversation (any channel) or opening one by a routing decision,
and what routing reads of a customer's past."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from router.models import (
    ConditionTrace,
    ConversationStatus,
    IdentityRef,
    Role,
    RouteTrace,
    RuleTrace,
)
from router.store.base import Store
from router.store.errors import NotFound
from tests.router.store.test_contract import QUEUE, T0, inbound, ingest


async def test_redelivery_is_stored_once(store: Store) -> None:
    first, dup1 = await store.insert_inbound(inbound(text="Где мой заказ?"), T0)
    second, dup2 = await store.insert_inbound(inbound(text="Где мой заказ?"), T0 + timedelta(seconds=5))
    assert (dup1, dup2) == (False, True)
    assert second.id == first.id
    assert second.text == "Где мой заказ?"
    # the same external id on another channel is another message
    other, dup3 = await store.insert_inbound(inbound(channel="telegram"), T0)
    assert not dup3 and other.id != first.id


async def test_concurrent_first_messages_make_one_customer_and_one_conversation(store: Store) -> None:
    msgs = [inbound(external_id=f"m{i}", channel=("webchat", "telegram")[i % 2]) for i in range(20)]
    results = await asyncio.gather(*(ingest(store, m) for m in msgs))
    assert len({conv_id for _, conv_id in results}) == 1
    conv = await store.get_conversation(results[0][1])
    assert len(await store.list_messages(conv.id, 100)) == 20
    assert len(await store.customer_conversations(conv.customer_id)) == 1


async def test_customer_continues_open_conversation_from_any_channel(store: Store) -> None:
    _, c1 = await ingest(store, inbound("m1", channel="webchat"))
    _, c2 = await ingest(store, inbound("m2", channel="telegram"), T0 + timedelta(minutes=1))
    assert c1 == c2
    view = await store.get_conversation(c1)
    assert view.channel == "telegram"  # the channel the customer used last
    assert view.last_message_text == "hi"


async def test_resolved_conversation_is_not_continued(store: Store) -> None:
    _, c1 = await ingest(store, inbound("m1"))
    await store.set_conversation_state(c1, ConversationStatus.RESOLVED, None, T0)
    _, c2 = await ingest(store, inbound("m2"))
    assert c2 != c1
    assert (await store.get_conversation(c1)).resolved_at == T0
    assert (await store.get_conversation(c2)).status is ConversationStatus.QUEUED


async def test_ingest_is_one_step_for_a_customer_in_conversation(store: Store) -> None:
    first = await store.ingest(inbound("m1", text="first"), T0)
    assert first.conversation is None and not first.duplicate  # nobody to continue with: routing decides
    assert first.message.customer_id is None and first.customer.display_name is None
    view, created = await store.attach_to_conversation(first.message.id, first.customer.id, "webchat", QUEUE, T0)
    assert created
    second = await store.ingest(inbound("m2", channel="telegram", text="second"), T0 + timedelta(seconds=1))
    assert second.conversation is not None and second.conversation.id == view.id
    assert second.message.conversation_id == view.id and second.customer.id == first.customer.id
    assert second.conversation.last_message_text == "second" and second.conversation.channel == "telegram"
    again = await store.ingest(inbound("m2", channel="telegram", text="second"), T0 + timedelta(seconds=2))
    assert again.duplicate and again.message.id == second.message.id
    assert again.conversation is not None and again.conversation.id == view.id
    assert len(await store.list_messages(view.id, 10)) == 2


async def test_attach_is_idempotent(store: Store) -> None:
    stored, conv_id = await ingest(store, inbound())
    assert stored.customer_id is None  # not yet attached when first stored
    again, created = await store.attach_to_conversation(stored.id, "ignored", "webchat", QUEUE, T0)
    assert again.id == conv_id and not created


async def test_unrouted_messages_are_found_after_a_crash(store: Store) -> None:
    stored, _ = await store.insert_inbound(inbound("lost"), T0)
    assert [m.id for m in await store.unrouted_messages(10)] == [stored.id]
    await ingest(store, inbound("lost"))
    assert await store.unrouted_messages(10) == []


async def test_contact_history_counts_earlier_conversations_and_the_last_agent(store: Store) -> None:
    agent = await store.create_agent("anna", "Anna", Role.AGENT, "x")
    _, first = await ingest(store, inbound("h1", sender="u7"), T0 - timedelta(days=40))
    # the last agent is the one who had the conversation (a resolve keeps them), not its resolver
    await store.set_conversation_state(first, ConversationStatus.ASSIGNED, agent.id, T0 - timedelta(days=40))
    await store.set_conversation_state(first, ConversationStatus.RESOLVED, None, T0 - timedelta(days=40))
    _, second = await ingest(store, inbound("h2", sender="u7"), T0 - timedelta(days=3))
    await store.set_conversation_state(second, ConversationStatus.RESOLVED, None, T0 - timedelta(days=3))
    customer = await store.find_identity(IdentityRef(kind="webchat", value="u7"))
    assert customer is not None
    history = await store.contact_history(customer.id, T0 - timedelta(days=30))
    assert (history.total, history.recent, history.last_agent_id) == (2, [T0 - timedelta(days=3)], agent.id)
    nobody = await store.contact_history("cus_unknown", T0)
    assert (nobody.total, nobody.recent, nobody.last_agent_id) == (0, [], None)


async def test_a_decision_keeps_its_rules_version_and_trace(store: Store) -> None:
    trace = RouteTrace(
        rules_version="abc123", matched_rule="vip", step="team senior priority 80", decided_at=T0,
        rules=[RuleTrace(rule="vip", matched=True, conditions=[ConditionTrace(expression="x", value=True)])],
        facts={"customer_tier": "gold"},
    )
    routed = QUEUE.model_copy(update={"rules_version": "abc123", "trace": trace, "team": "senior"})
    stored, _ = await store.insert_inbound(inbound("r1", sender="u8"), T0)
    assert stored.sender is not None
    customer = await store.resolve_identity(stored.sender, None, T0)
    view, _ = await store.attach_to_conversation(stored.id, customer.id, stored.channel, routed, T0)
    assert (view.rules_version, view.team) == ("abc123", "senior")
    assert await store.conversation_route(view.id) == trace
    _, plain = await ingest(store, inbound("r2", sender="u9"))
    assert await store.conversation_route(plain) is None
    with pytest.raises(NotFound):
        await store.conversation_route("conv_nope")


async def test_conversation_openings_page_through_history_with_their_first_message(store: Store) -> None:
    ids = []
    for n in range(5):
        _, conv = await ingest(store, inbound(f"o{n}", sender=f"w{n}", text=f"first {n}"), T0 + timedelta(hours=n))
        ids.append(conv)
    page1 = await store.conversation_openings(T0 + timedelta(hours=1), None, 2)
    page2 = await store.conversation_openings(T0 + timedelta(hours=1), page1[-1][0].id, 10)
    assert [c.id for c, _ in page1 + page2] == ids[1:]
    assert [m.text if m else None for _, m in page1] == ["first 1", "first 2"]
    customer = page1[0][0].customer_id
    assert (await store.contact_history(customer, T0, before=T0 + timedelta(hours=1))).total == 0
    assert (await store.contact_history(customer, T0)).total == 1


async def test_an_ingest_answers_with_its_conversation_and_customer_as_a_read_gives_them(store: Store) -> None:
    # SQLite's writer sends them back as rows, built into models on the server's side
    named = inbound("m1", sender="u7").model_copy(update={"sender_name": "Анна"})
    first = await store.ingest(named, T0)
    route = QUEUE.model_copy(update={"skills": {"ru": 2}, "priority": 3})
    view, _ = await store.attach_to_conversation(first.message.id, first.customer.id, "webchat", route, T0)
    await store.add_label(view.id, "доставка", T0, 20)
    await store.add_label(view.id, "VIP", T0, 20)
    second = await store.ingest(inbound("m2", sender="u7", channel="telegram", text="ещё"), T0 + timedelta(seconds=1))
    assert second.conversation is not None
    # labels: PostgreSQL's ingest reads the conversation without them (None: not read)
    assert second.conversation.labels in (None, ["VIP", "доставка"])
    read = await store.get_conversation(view.id)
    assert second.conversation.model_copy(update={"labels": read.labels}) == read
    assert second.customer == await store.get_customer(first.customer.id)
    assert second.conversation.customer_name == "Анна"
    assert (second.conversation.skills, second.conversation.priority) == ({"ru": 2}, 3)
    assert second.conversation.last_message_at == T0 + timedelta(seconds=1)
