"""A resolve that names the last message its agent saw (``seen``,
``ConversationStore.set_conversation_state``), on every backend of
tests/router/store/test_contract.py: a customer's message that joined the
conversation after it refuses the resolve, so it never sits unseen in a
resolved conversation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from router.models import ConversationStatus, Role
from router.store.base import Store
from router.store.errors import UnansweredMessages
from tests.router.store.test_contract import T0, inbound, ingest


async def test_a_resolve_is_refused_when_the_customer_wrote_after_the_message_seen(store: Store) -> None:
    agent = await store.create_agent("anna", "Anna", Role.AGENT, "x")
    seen, conv = await ingest(store, inbound("m1"), T0)
    await store.set_conversation_state(conv, ConversationStatus.ASSIGNED, agent.id, T0)
    for n in (2, 3):  # the customer writes on while the Resolve click is on its way
        _, joined = await ingest(store, inbound(f"m{n}"), T0 + timedelta(seconds=n))
        assert joined == conv
    with pytest.raises(UnansweredMessages) as refused:
        await store.set_conversation_state(conv, ConversationStatus.RESOLVED, agent.id, T0 + timedelta(seconds=5),
                                           seen=seen.id)
    assert refused.value.count == 2
    view = await store.get_conversation(conv)
    assert (view.status, view.resolved_at) == (ConversationStatus.ASSIGNED, None)  # nothing changed
    latest = (await store.list_messages(conv, 10))[-1]
    done = await store.set_conversation_state(conv, ConversationStatus.RESOLVED, agent.id, T0 + timedelta(seconds=6),
                                              seen=latest.id)
    assert done.status is ConversationStatus.RESOLVED


async def test_a_message_seen_of_another_conversation_counts_every_message(store: Store) -> None:
    other, _ = await ingest(store, inbound("o1", sender="u2"), T0)
    _, conv = await ingest(store, inbound("m1"), T0 + timedelta(seconds=1))
    with pytest.raises(UnansweredMessages) as refused:
        await store.set_conversation_state(conv, ConversationStatus.RESOLVED, None, T0 + timedelta(seconds=2),
                                           seen=other.id)
    assert refused.value.count == 1


async def test_without_a_message_seen_the_resolve_is_as_before(store: Store) -> None:
    _, conv = await ingest(store, inbound("m1"), T0)
    await ingest(store, inbound("m2"), T0 + timedelta(seconds=1))
    view = await store.set_conversation_state(conv, ConversationStatus.RESOLVED, None, T0 + timedelta(seconds=2))
    assert view.status is ConversationStatus.RESOLVED
