"""The conversations' part of the store contract (router/conversations/store.py),
on every backend of tests/router/store/test_contract.py: a backend is proven by
the same suite. Conversations' state and routing, their messages, and the
platform's delivery receipts for an outbound message (forward only, kept when
they outrun the send's answer)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from router.conversations.store import ListCursor
from router.models import ConversationStatus, Delivery, Direction, Role, RouteDecision, RouteTrace
from router.store.base import Store
from router.store.errors import ConflictError, NotFound
from tests.router.store.test_contract import QUEUE, T0, inbound, ingest, outbound


async def test_state_change_checks_expected_status(store: Store) -> None:
    _, conv_id = await ingest(store, inbound())
    agent = await store.create_agent("ann", "Ann", Role.AGENT, "hash")
    view = await store.set_conversation_state(
        conv_id, ConversationStatus.ASSIGNED, agent.id, T0, expected={ConversationStatus.QUEUED}
    )
    assert view.status is ConversationStatus.ASSIGNED and view.agent_id == agent.id
    with pytest.raises(ConflictError):
        await store.set_conversation_state(
            conv_id, ConversationStatus.ASSIGNED, agent.id, T0, expected={ConversationStatus.QUEUED}
        )
    with pytest.raises(NotFound):
        await store.set_conversation_state("conv_missing", ConversationStatus.RESOLVED, None, T0)


async def test_a_caller_who_may_not_take_over_is_refused_a_colleagues_conversation_with_the_change(
        store: Store) -> None:
    """``not_others``: checked with the change, so a colleague who took the
    conversation since the caller looked (two agents at once) wins alone."""
    _, conv_id = await ingest(store, inbound())
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "hash")
    bob = await store.create_agent("bob", "Bob", Role.AGENT, "hash")
    open_ = {ConversationStatus.QUEUED, ConversationStatus.BOT, ConversationStatus.ASSIGNED}
    await store.set_conversation_state(conv_id, ConversationStatus.ASSIGNED, bob.id, T0, expected=open_,
                                       not_others=bob.id)  # a queued one: anyone's to take
    for status in (ConversationStatus.ASSIGNED, ConversationStatus.RESOLVED):
        with pytest.raises(ConflictError):
            await store.set_conversation_state(conv_id, status, ann.id, T0, expected=open_, not_others=ann.id)
    kept = await store.get_conversation(conv_id)
    assert (kept.status, kept.agent_id) == (ConversationStatus.ASSIGNED, bob.id)
    # bob's own, and a role that may take over (None)
    assert (await store.set_conversation_state(conv_id, ConversationStatus.ASSIGNED, bob.id, T0, expected=open_,
                                               not_others=bob.id)).agent_id == bob.id
    taken = await store.set_conversation_state(conv_id, ConversationStatus.ASSIGNED, ann.id, T0, expected=open_)
    assert taken.agent_id == ann.id


async def test_list_and_count_conversations(store: Store) -> None:
    _, c1 = await ingest(store, inbound("a", sender="u1"), T0)
    _, c2 = await ingest(store, inbound("b", sender="u2"), T0 + timedelta(seconds=1))
    await store.set_conversation_state(c1, ConversationStatus.RESOLVED, None, T0)
    assert [c.id for c in await store.list_conversations(None, 10)] == [c2, c1]
    assert [c.id for c in await store.list_conversations([ConversationStatus.QUEUED], 10)] == [c2]
    counts = await store.count_conversations()
    assert counts[ConversationStatus.QUEUED] == 1 and counts[ConversationStatus.RESOLVED] == 1


async def test_a_list_of_several_statuses_is_the_latest_of_them_all_in_order(store: Store) -> None:
    """Picked one status at a time through the index, then merged: the page is
    still the most recently active across the statuses, newest first."""
    statuses = [ConversationStatus.QUEUED, ConversationStatus.BOT, ConversationStatus.ASSIGNED,
                ConversationStatus.RESOLVED]
    agent = await store.create_agent("ann", "Ann", Role.AGENT, "hash")
    made = []
    for i in range(12):
        _, conv = await ingest(store, inbound(f"m{i}", sender=f"u{i}"), T0 + timedelta(minutes=i))
        status = statuses[i % 4]
        if status is not ConversationStatus.QUEUED:
            await store.set_conversation_state(conv, status, agent.id if status is ConversationStatus.ASSIGNED
                                               else None, T0)
        made.append((conv, status))
    newest_first = [conv for conv, _ in reversed(made)]
    open_ones = [conv for conv, status in reversed(made) if status is not ConversationStatus.RESOLVED]
    assert [c.id for c in await store.list_conversations(None, 5)] == newest_first[:5]
    assert [c.id for c in await store.list_conversations(None, 100)] == newest_first
    opened = await store.list_conversations(statuses[:3], 4)
    assert [c.id for c in opened] == open_ones[:4]
    assert [c.id for c in await store.list_conversations([ConversationStatus.BOT, ConversationStatus.BOT], 10)] == [
        conv for conv, status in reversed(made) if status is ConversationStatus.BOT]


async def test_delivery_receipts_only_move_forward(store: Store) -> None:
    _, conv_id = await ingest(store, inbound())
    conv = await store.get_conversation(conv_id)
    msg, payload = outbound(conv_id, conv.customer_id)
    await store.enqueue_outbound(msg, payload, None, T0)
    [entry] = await store.pending_outbox(10)
    await store.outbox_sent(entry.id, "SM1", T0)

    delivered = await store.record_delivery("webchat", "SM1", Delivery.DELIVERED, None, T0)
    assert delivered is not None and delivered.id == msg.id and delivered.delivery is Delivery.DELIVERED
    # a late "sent" and a repeated "delivered" change nothing
    assert await store.record_delivery("webchat", "SM1", Delivery.SENT, None, T0) is None
    assert await store.record_delivery("webchat", "SM1", Delivery.DELIVERED, None, T0) is None
    # a delivered message does not become failed; read still follows
    assert await store.record_delivery("webchat", "SM1", Delivery.FAILED, "30008: unknown", T0) is None
    read = await store.record_delivery("webchat", "SM1", Delivery.READ, None, T0)
    assert read is not None and read.delivery is Delivery.READ and read.delivery_error is None
    # the same id on another channel is another message; an inbound id is never touched
    assert await store.record_delivery("other", "SM1", Delivery.FAILED, "x", T0) is None
    assert await store.record_delivery("webchat", "m1", Delivery.FAILED, "x", T0) is None
    stored = {m.id: m for m in await store.list_messages(conv_id, 10)}
    assert stored[msg.id].delivery is Delivery.READ
    assert [m.delivery for m in stored.values() if m.direction is Direction.IN] == [Delivery.RECEIVED]


async def test_a_failure_receipt_keeps_its_error(store: Store) -> None:
    _, conv_id = await ingest(store, inbound())
    conv = await store.get_conversation(conv_id)
    msg, payload = outbound(conv_id, conv.customer_id)
    await store.enqueue_outbound(msg, payload, None, T0)
    [entry] = await store.pending_outbox(10)
    await store.outbox_sent(entry.id, "SM2", T0)
    failed = await store.record_delivery("webchat", "SM2", Delivery.FAILED, "30003: unreachable handset", T0)
    assert failed is not None and failed.delivery_error == "30003: unreachable handset"
    # failed is final: a late "delivered" does not hide the failure
    assert await store.record_delivery("webchat", "SM2", Delivery.DELIVERED, None, T0) is None
    [out] = [m for m in await store.list_messages(conv_id, 10) if m.id == msg.id]
    assert (out.delivery, out.delivery_error) == (Delivery.FAILED, "30003: unreachable handset")


async def test_a_receipt_before_the_send_answer_is_applied_when_it_is_stored(store: Store) -> None:
    _, conv_id = await ingest(store, inbound())
    conv = await store.get_conversation(conv_id)
    msg, payload = outbound(conv_id, conv.customer_id)
    await store.enqueue_outbound(msg, payload, None, T0)
    [entry] = await store.pending_outbox(10)
    # the platform's callback outran the answer to our send call
    assert await store.record_delivery("webchat", "SM3", Delivery.SENT, None, T0) is None
    assert await store.record_delivery("webchat", "SM3", Delivery.DELIVERED, None, T0) is None
    assert await store.record_delivery("webchat", "SM3", Delivery.SENT, None, T0) is None
    sent = await store.outbox_sent(entry.id, "SM3", T0)
    assert sent.delivery is Delivery.DELIVERED
    # the kept receipt is used once
    assert await store.record_delivery("webchat", "SM3", Delivery.DELIVERED, None, T0) is None


async def test_a_stray_receipt_is_forgotten_after_a_day(store: Store) -> None:
    _, conv_id = await ingest(store, inbound())
    conv = await store.get_conversation(conv_id)
    assert await store.record_delivery("webchat", "SM4", Delivery.DELIVERED, None, T0) is None
    # another receipt a day later sweeps the stray one
    assert await store.record_delivery("webchat", "SM5", Delivery.SENT, None, T0 + timedelta(days=1, seconds=1)) is None
    msg, payload = outbound(conv_id, conv.customer_id)
    await store.enqueue_outbound(msg, payload, None, T0)
    [entry] = await store.pending_outbox(10)
    sent = await store.outbox_sent(entry.id, "SM4", T0 + timedelta(days=1, seconds=2))
    assert sent.delivery is Delivery.SENT


async def test_messages_limit_keeps_the_latest(store: Store) -> None:
    for i in range(5):
        _, conv_id = await ingest(store, inbound(f"m{i}", text=str(i)), T0 + timedelta(seconds=i))
    assert [m.text for m in await store.list_messages(conv_id, 3)] == ["2", "3", "4"]
    customer_id = (await store.get_conversation(conv_id)).customer_id
    assert [m.text for m in await store.customer_messages(customer_id, 2)] == ["3", "4"]
    last = await store.last_inbound(conv_id)
    assert last is not None and last.text == "4"
    assert await store.get_message(last.id) == last
    with pytest.raises(NotFound):
        await store.get_message("msg_unknown")


async def test_reroute_sends_an_open_conversation_elsewhere_with_its_new_trace(store: Store) -> None:
    bot = QUEUE.model_copy(update={"status": ConversationStatus.BOT})
    stored, _ = await store.insert_inbound(inbound("b1", sender="u10"), T0)
    assert stored.sender is not None
    customer = await store.resolve_identity(stored.sender, None, T0)
    view, _ = await store.attach_to_conversation(stored.id, customer.id, stored.channel, bot, T0)
    trace = RouteTrace(rules_version="v2", matched_rule="simple", step="bot handoff, team senior", decided_at=T0)
    handoff = RouteDecision(status=ConversationStatus.QUEUED, team="senior", priority=20, reason="handoff",
                            rules_version="v2", trace=trace)
    moved = await store.reroute_conversation(view.id, handoff, T0, expected={ConversationStatus.BOT})
    assert (moved.status, moved.team, moved.priority, moved.route_reason, moved.rules_version) == (
        ConversationStatus.QUEUED, "senior", 20, "handoff", "v2")
    assert await store.conversation_route(view.id) == trace
    with pytest.raises(ConflictError):  # no longer with the bot: refused, nothing changes
        await store.reroute_conversation(view.id, bot, T0, expected={ConversationStatus.BOT})
    assert (await store.get_conversation(view.id)).team == "senior"
    with pytest.raises(NotFound):
        await store.reroute_conversation("conv_nope", bot, T0, expected={ConversationStatus.BOT})


async def test_one_agents_conversations_page_by_page(store: Store) -> None:
    """``agent_id`` filters before the limit (a page is full of the agent's own),
    ``after`` goes on from a page's last one; ties in activity are ordered by id."""
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "hash")
    bob = await store.create_agent("bob", "Bob", Role.AGENT, "hash")
    made = []
    for i in range(9):
        # three at each moment: the cursor must tell apart conversations active at the same time
        _, conv = await ingest(store, inbound(f"m{i}", sender=f"u{i}"), T0 + timedelta(minutes=i // 3))
        await store.set_conversation_state(conv, ConversationStatus.ASSIGNED, ann.id if i % 3 else bob.id, T0)
        made.append(conv)
    anns = [c.id for c in await store.list_conversations(None, 100, agent_id=ann.id)]
    assert sorted(anns) == sorted(c for i, c in enumerate(made) if i % 3)
    pages, after = [], None
    while True:
        page = await store.list_conversations([ConversationStatus.ASSIGNED], 4, agent_id=ann.id, after=after)
        if not page:
            break
        pages.append([c.id for c in page])
        after = ListCursor(page[-1].last_message_at, page[-1].id)
    assert [len(p) for p in pages] == [4, 2] and [c for p in pages for c in p] == anns
    assert await store.list_conversations(None, 10, agent_id="agent_nobody") == []
