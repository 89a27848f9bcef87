"""The outbox's part of the store contract (router/outbox/store.py), on every
backend of tests/router/store/test_contract.py: a backend is proven by the
same suite. The entries are queued through the full store's outbound path,
which is not the outbox's."""

from __future__ import annotations

from datetime import timedelta

from router.models import ConversationStatus, Delivery, Direction, Role
from router.store.base import Store
from tests.router.store.test_contract import T0, inbound, ingest, outbound


async def test_outbox_lifecycle(store: Store) -> None:
    _, conv_id = await ingest(store, inbound())
    agent = await store.create_agent("ann", "Ann", Role.AGENT, "hash")
    conv = await store.get_conversation(conv_id)
    msg, payload = outbound(conv_id, conv.customer_id, text="first")
    _, view = await store.enqueue_outbound(msg, payload, agent.id, T0)
    assert view.status is ConversationStatus.ASSIGNED and view.agent_id == agent.id
    assert view.last_message_text == "first"
    msg2, payload2 = outbound(conv_id, conv.customer_id, text="second")
    await store.enqueue_outbound(msg2, payload2, None, T0)

    pending = await store.pending_outbox(10)
    assert [e.payload.text for e in pending] == ["first", "second"]
    await store.outbox_retry(pending[0].id, 1, T0 + timedelta(seconds=30), "HTTP 502")
    retried = (await store.pending_outbox(10))[0]
    assert (retried.attempts, retried.last_error) == (1, "HTTP 502")
    assert retried.next_attempt_at == T0 + timedelta(seconds=30)

    sent = await store.outbox_sent(pending[0].id, "ext-1", T0)
    assert sent.delivery is Delivery.SENT and sent.external_id == "ext-1"
    dead = await store.outbox_dead(pending[1].id, 3, "chat not found", T0)
    assert dead.delivery is Delivery.FAILED and dead.delivery_error == "chat not found"
    assert await store.pending_outbox(10) == []
    texts = [(m.direction, m.text, m.delivery) for m in await store.list_messages(conv_id, 10)]
    assert texts == [
        (Direction.IN, "hi", Delivery.RECEIVED),
        (Direction.OUT, "first", Delivery.SENT),
        (Direction.OUT, "second", Delivery.FAILED),
    ]


async def test_the_parts_of_a_message_sent_so_far_are_kept_until_it_is_finished(store: Store) -> None:
    _, conv_id = await ingest(store, inbound())
    conv = await store.get_conversation(conv_id)
    msg, payload = outbound(conv_id, conv.customer_id, text="long " * 1000)
    await store.enqueue_outbound(msg, payload, None, T0)
    [entry] = await store.pending_outbox(10)
    assert (entry.parts_sent, entry.part_external_id) == (0, None)
    await store.outbox_part_sent(entry.id, 1, "chat:1")
    await store.outbox_retry(entry.id, 1, T0, "HTTP 502")
    await store.outbox_part_sent(entry.id, 2, "chat:2")
    [entry] = await store.pending_outbox(10)
    assert (entry.parts_sent, entry.part_external_id, entry.attempts) == (2, "chat:2", 1)
    await store.outbox_sent(entry.id, "chat:3", T0)
    await store.outbox_part_sent(entry.id, 3, "late")  # a finished entry is not touched again
    assert await store.pending_outbox(10) == []
