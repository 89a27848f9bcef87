"""Routing a message read unrouted, on every backend of
tests/router/store/test_contract.py: when another step (another node) routed
it meanwhile, ``only_unrouted`` says so and changes nothing, so only the step
that routed it tells everyone (router/ingest/store.py)."""

from __future__ import annotations

import pytest

from router.store.base import Store
from router.store.errors import AlreadyRouted
from tests.router.store.test_contract import QUEUE, T0, inbound


async def test_a_message_routed_meanwhile_is_refused_to_the_second_routing_and_nothing_changes(
    store: Store,
) -> None:
    first = await store.ingest(inbound("m1"), T0)
    assert first.conversation is None
    [unrouted] = await store.unrouted_messages(10)
    view, created = await store.attach_to_conversation(first.message.id, first.customer.id, "webchat", QUEUE, T0,
                                                       only_unrouted=True)
    assert created and unrouted.id == first.message.id
    with pytest.raises(AlreadyRouted) as refused:  # the other node, which read it unrouted too
        await store.attach_to_conversation(unrouted.id, first.customer.id, "webchat", QUEUE, T0, only_unrouted=True)
    assert refused.value.conversation_id == view.id
    assert [c.id for c in await store.customer_conversations(first.customer.id)] == [view.id]
    assert [m.id for m in await store.list_messages(view.id, 10)] == [first.message.id]
