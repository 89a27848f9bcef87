"""The read marks' part of the store contract (router/signals/store.py), on
every backend of tests/router/store/test_contract.py: what an agent has read
of each conversation, the unread counts read from it, and the widget's "Seen"."""

from __future__ import annotations

from datetime import timedelta

import pytest

from router.models import ConversationStatus, IdentityRef, Role
from router.store.base import Store
from router.store.errors import NotFound
from tests.router.store.test_contract import T0, inbound, ingest, outbound

CAP = 100


async def _agent(store: Store, name: str = "ann") -> str:
    return (await store.create_agent(name, name.title(), Role.AGENT, "hash")).id


async def test_counts_are_the_customers_messages_after_the_agents_mark(store: Store) -> None:
    ann, bob = await _agent(store), await _agent(store, "bob")
    first, conv = await ingest(store, inbound("m1"), T0)
    await ingest(store, inbound("m2"), T0 + timedelta(seconds=1))
    reply, payload = outbound(conv, first.customer_id)
    reply = reply.model_copy(update={"created_at": T0 + timedelta(seconds=2)})
    await store.enqueue_outbound(reply, payload, None, T0 + timedelta(seconds=2))
    # never opened: every customer message counts, the agent's reply does not
    assert await store.unread_counts(ann, [conv], CAP) == {conv: 2}

    mark = await store.mark_read(ann, conv, first.id)
    assert (mark.message_id, mark.read_at) == (first.id, T0)
    assert await store.unread_counts(ann, [conv], CAP) == {conv: 1}
    assert await store.unread_counts(bob, [conv], CAP) == {conv: 2}  # each agent their own

    third, _ = await ingest(store, inbound("m3"), T0 + timedelta(seconds=3))
    assert await store.unread_counts(ann, [conv], CAP) == {conv: 2}
    latest = await store.mark_read(ann, conv, None)  # no message named: the latest
    assert latest.message_id == third.id
    assert await store.unread_counts(ann, [conv, "cnv_missing"], CAP) == {conv: 0}


async def test_a_mark_never_moves_back(store: Store) -> None:
    ann = await _agent(store)
    first, conv = await ingest(store, inbound("m1"), T0)
    second, _ = await ingest(store, inbound("m2"), T0 + timedelta(seconds=1))
    await store.mark_read(ann, conv, second.id)
    # a slower device says it read only the first: the later mark stays
    again = await store.mark_read(ann, conv, first.id)
    assert again.message_id == second.id
    assert await store.unread_counts(ann, [conv], CAP) == {conv: 0}


async def test_marking_what_is_not_there_is_not_found_and_changes_nothing(store: Store) -> None:
    ann = await _agent(store)
    _, conv = await ingest(store, inbound("m1", sender="u1"), T0)
    other, other_conv = await ingest(store, inbound("m2", sender="u2"), T0)
    with pytest.raises(NotFound):
        await store.mark_read(ann, "cnv_missing", None)
    with pytest.raises(NotFound):
        await store.mark_read(ann, conv, other.id)  # another conversation's message
    with pytest.raises(NotFound):
        await store.mark_read(ann, conv, "msg_missing")
    assert await store.unread_counts(ann, [conv, other_conv], CAP) == {conv: 1, other_conv: 1}


async def test_counts_stop_at_the_cap(store: Store) -> None:
    ann = await _agent(store)
    _, conv = await ingest(store, inbound("m0"), T0)
    for i in range(1, 5):
        await ingest(store, inbound(f"m{i}"), T0 + timedelta(seconds=i))
    assert await store.unread_counts(ann, [conv], 3) == {conv: 3}
    assert await store.unread_counts(ann, [conv], CAP) == {conv: 5}


async def test_assigned_counts_are_of_the_agents_open_conversations(store: Store) -> None:
    ann, bob = await _agent(store), await _agent(store, "bob")
    _, mine = await ingest(store, inbound("m1", sender="u1"), T0)
    _, theirs = await ingest(store, inbound("m2", sender="u2"), T0)
    _, queued = await ingest(store, inbound("m3", sender="u3"), T0)
    await store.set_conversation_state(mine, ConversationStatus.ASSIGNED, ann, T0)
    await store.set_conversation_state(theirs, ConversationStatus.ASSIGNED, bob, T0)
    assert await store.assigned_unread(ann, CAP) == {mine: 1}
    await store.set_conversation_state(mine, ConversationStatus.RESOLVED, ann, T0)
    assert await store.assigned_unread(ann, CAP) == {}
    assert queued not in await store.assigned_unread(bob, CAP)


async def test_many_conversations_are_counted_at_once(store: Store) -> None:
    """More ids than SQLite takes as variables in one statement."""
    ann = await _agent(store)
    convs = [(await ingest(store, inbound(f"m{i}", sender=f"u{i}"), T0))[1] for i in range(3)]
    asked = [*convs, *(f"cnv_missing{i}" for i in range(1200))]
    assert await store.unread_counts(ann, asked, CAP) == dict.fromkeys(convs, 1)


async def test_the_open_conversation_a_customer_types_in(store: Store) -> None:
    _, conv = await ingest(store, inbound("m1", sender="u1"), T0)
    assert await store.open_conversation_of(IdentityRef(kind="webchat", value="u1")) == conv
    assert await store.open_conversation_of(IdentityRef(kind="webchat", value="nobody")) is None
    await store.set_conversation_state(conv, ConversationStatus.RESOLVED, None, T0)
    assert await store.open_conversation_of(IdentityRef(kind="webchat", value="u1")) is None


async def test_seen_is_the_customers_last_message_once_an_agent_read_it(store: Store) -> None:
    ann = await _agent(store)
    visitor = IdentityRef(kind="webchat", value="u1")
    first, conv = await ingest(store, inbound("m1"), T0)
    assert await store.seen_message(visitor) is None
    await store.mark_read(ann, conv, first.id)
    assert await store.seen_message(visitor) == first.id
    # they write again: not seen until an agent reads that one too
    second, _ = await ingest(store, inbound("m2"), T0 + timedelta(seconds=1))
    assert await store.seen_message(visitor) is None
    await store.mark_read(ann, conv, None)
    assert await store.seen_message(visitor) == second.id


async def test_messages_stamped_alike_are_counted_in_the_order_they_were_stored(store: Store) -> None:
    ann = await _agent(store)
    first, conv = await ingest(store, inbound("m1"), T0)
    second, _ = await ingest(store, inbound("m2"), T0)  # the same time to the microsecond
    await store.mark_read(ann, conv, first.id)
    assert await store.unread_counts(ann, [conv], CAP) == {conv: 1}
    assert await store.seen_message(IdentityRef(kind="webchat", value="u1")) is None
    latest = await store.mark_read(ann, conv, None)
    assert latest.message_id == second.id
    assert await store.unread_counts(ann, [conv], CAP) == {conv: 0}


async def test_a_message_stored_after_the_mark_but_stamped_before_it_is_unread(store: Store) -> None:
    """A platform's clock, another node's, or a slow ingest: what counts is what
    was stored after the agent read, whatever time it carries."""
    ann = await _agent(store)
    visitor = IdentityRef(kind="webchat", value="u1")
    first, conv = await ingest(store, inbound("m1"), T0 + timedelta(seconds=5))
    await store.mark_read(ann, conv, None)
    assert await store.seen_message(visitor) == first.id
    late, _ = await ingest(store, inbound("m2"), T0)  # stored now, stamped five seconds before the mark
    assert await store.unread_counts(ann, [conv], CAP) == {conv: 1}
    assert await store.seen_message(visitor) is None  # its last message is not read yet
    mark = await store.mark_read(ann, conv, None)
    assert mark.message_id == late.id
    assert await store.unread_counts(ann, [conv], CAP) == {conv: 0}
    assert await store.seen_message(visitor) == late.id
    # a slower device says it read only the first: the mark stays on the later-stored one
    assert (await store.mark_read(ann, conv, first.id)).message_id == late.id
    assert await store.unread_counts(ann, [conv], CAP) == {conv: 0}
