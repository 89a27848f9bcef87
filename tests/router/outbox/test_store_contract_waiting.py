"""Entries that wait for their recipient (router/outbox/store.py: ``outbox_wait``,
``outbox_reached``) on every backend: a site-chat reply no node could push
leaves the queue without failing, and is sent once the visitor has it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from router.models import Delivery
from router.outbox.store import LeaseLost
from router.store.base import Store
from tests.router.store.test_contract import T0, inbound, ingest, outbound

MANY = 8  # nodes at once


async def _queued(store: Store, conv_id: str, text: str, recipient: str = "u1") -> str:
    conv = await store.get_conversation(conv_id)
    msg, payload = outbound(conv_id, conv.customer_id, recipient=recipient, text=text)
    await store.enqueue_outbound(msg, payload, None, T0)
    return msg.id


async def test_a_waiting_entry_leaves_the_queue_and_is_sent_when_its_recipient_has_it(store: Store) -> None:
    _, conv_id = await ingest(store, inbound())
    first = await _queued(store, conv_id, "first")
    second = await _queued(store, conv_id, "second")
    entries = {e.message_id: e for e in await store.pending_outbox(10)}

    await store.outbox_wait(entries[first].id)
    await store.outbox_wait(entries[second].id)

    assert await store.pending_outbox(10) == []  # waiting entries never fill a batch of the worker's
    assert [m.delivery for m in await store.list_messages(conv_id, 10)] == [Delivery.RECEIVED, Delivery.PENDING,
                                                                            Delivery.PENDING]
    # another visitor's id, or another channel, reaches nothing of this one's
    assert await store.outbox_reached("webchat", "u2", [first, second], T0) == []
    assert await store.outbox_reached("telegram", "u1", [first, second], T0) == []

    reached = await store.outbox_reached("webchat", "u1", [first], T0)

    assert [(m.id, m.delivery) for m in reached] == [(first, Delivery.SENT)]
    assert [m.delivery for m in await store.list_messages(conv_id, 10)] == [Delivery.RECEIVED, Delivery.SENT,
                                                                            Delivery.PENDING]
    assert await store.outbox_reached("webchat", "u1", [first], T0) == []  # once


async def test_an_entry_another_node_marked_sent_does_not_go_back_to_waiting(store: Store) -> None:
    """The node that pushed a reply marks it sent while the node that sent it
    (which had no tab) is still deciding it waits: sent stays sent."""
    _, conv_id = await ingest(store, inbound())
    reply = await _queued(store, conv_id, "hello")
    [entry] = await store.pending_outbox(10)

    assert [m.id for m in await store.outbox_reached("webchat", "u1", [reply], T0)] == [reply]
    await store.outbox_wait(entry.id)

    assert await store.pending_outbox(10) == []
    assert await store.outbox_reached("webchat", "u1", [reply], T0) == []
    assert [m.delivery for m in await store.list_messages(conv_id, 10)][-1] is Delivery.SENT


async def test_nodes_pushing_one_reply_at_once_mark_it_sent_once(store: Store) -> None:
    """Tabs of one visitor on several nodes: each node that pushed the reply
    says so at once; one of them marks it sent (one message.updated), the
    others find it sent already."""
    _, conv_id = await ingest(store, inbound())
    replies = [await _queued(store, conv_id, f"reply {n}") for n in range(4)]
    for entry in await store.pending_outbox(10):
        await store.outbox_wait(entry.id)

    marked = await asyncio.gather(*(store.outbox_reached("webchat", "u1", replies, T0) for _ in range(MANY)))

    assert sorted(m.id for ms in marked for m in ms) == sorted(replies)


async def test_a_reply_the_visitor_got_stays_sent_whatever_its_sending_node_then_records(store: Store) -> None:
    """The visitor's return marked the reply sent while the node holding its
    lease was still failing to send it: that node's dead letter, retry or
    second "sent" is refused (``LeaseLost``), and the visitor's copy stands."""
    _, conv_id = await ingest(store, inbound())
    reply = await _queued(store, conv_id, "hello")
    [entry] = (await store.claim_outbox("node-a", 10, T0, timedelta(seconds=60))).entries

    assert [m.id for m in await store.outbox_reached("webchat", "u1", [reply], T0)] == [reply]

    with pytest.raises(LeaseLost):
        await store.outbox_dead(entry.id, 8, "gave up", T0, "node-a")
    with pytest.raises(LeaseLost):
        await store.outbox_retry(entry.id, 2, T0, "try again", "node-a")
    with pytest.raises(LeaseLost):
        await store.outbox_sent(entry.id, "ext-1", T0, "node-a")
    [message] = [m for m in await store.list_messages(conv_id, 10) if m.id == reply]
    assert (message.delivery, message.delivery_error) == (Delivery.SENT, None)
