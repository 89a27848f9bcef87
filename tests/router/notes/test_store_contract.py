"""The notes' part of the store contract (router/notes/store.py), on every
backend of tests/router/store/test_contract.py. A note is stored beside its
conversation and never among its messages: no path that reads messages for a
customer, the list's preview, the outbox or the SLA's first response sees it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from router.models import Role, new_id
from router.notes.guard import NOTE_ID_PREFIX
from router.notes.models import Note
from router.store.base import Store
from router.store.errors import NotFound
from tests.router.store.test_contract import T0, inbound, ingest


def note(conversation_id: str, agent_id: str, text: str = "VIP, be gentle", mentions: list[str] | None = None,
         at: int = 0) -> Note:
    return Note(id=new_id(NOTE_ID_PREFIX), conversation_id=conversation_id, agent_id=agent_id, agent_name="Ann",
                text=text, created_at=T0 + timedelta(seconds=at), mentions=mentions or [])


async def test_a_note_is_kept_beside_the_thread_never_in_it(store: Store) -> None:
    stored, conv_id = await ingest(store, inbound(text="where is my order?"))
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "hash")
    before = await store.get_conversation(conv_id)
    written = note(conv_id, ann.id, "customer sounds angry, refund approved", at=5)
    await store.add_note(written)

    assert await store.conversation_notes(conv_id, 10) == [written]
    # every path that reads messages for the customer: the thread, the history, the latest answer and inbound
    assert [m.id for m in await store.list_messages(conv_id, 100)] == [stored.id]
    assert [m.id for m in await store.customer_messages(before.customer_id, 100)] == [stored.id]
    assert await store.last_answer(conv_id) is None
    last = await store.last_inbound(conv_id)
    assert last is not None and last.id == stored.id
    # the conversation list's preview and time are the customer's words still
    after = await store.get_conversation(conv_id)
    assert after.last_message_text == before.last_message_text == "where is my order?"
    assert after.last_message_at == before.last_message_at
    # nothing to send, and the conversation still waits for its first response (SLA)
    assert await store.pending_outbox(10) == []
    assert conv_id in [c.id for c in await store.awaiting_first_response(10)]


async def test_notes_are_listed_oldest_first_the_latest_ones(store: Store) -> None:
    _, conv_id = await ingest(store, inbound())
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "hash")
    written = [note(conv_id, ann.id, f"note {i}", at=i) for i in range(5)]
    for n in reversed(written):  # stored out of order: listed by time
        await store.add_note(n)
    assert [n.text for n in await store.conversation_notes(conv_id, 3)] == ["note 2", "note 3", "note 4"]
    assert await store.conversation_notes("conv_other", 10) == []


async def test_notes_written_at_the_same_time_are_listed_in_the_order_written(store: Store) -> None:
    _, conv_id = await ingest(store, inbound())
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "hash")
    written = [note(conv_id, ann.id, f"note {i}", at=7) for i in range(6)]
    for n in written:
        await store.add_note(n)
    assert [n.text for n in await store.conversation_notes(conv_id, 10)] == [n.text for n in written]
    assert [n.text for n in await store.conversation_notes(conv_id, 4)] == [n.text for n in written[2:]]


async def test_a_note_in_an_unknown_conversation_stores_nothing(store: Store) -> None:
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "hash")
    bob = await store.create_agent("bob", "Bob", Role.AGENT, "hash")
    with pytest.raises(NotFound):
        await store.add_note(note("conv_missing", ann.id, "@bob look", [bob.id]))
    assert await store.agent_mentions(bob.id, 10) == []
    assert await store.unread_mentions(bob.id) == 0


async def test_mentions_newest_first_unread_until_their_conversation_is_opened(store: Store) -> None:
    _, first = await ingest(store, inbound("a", sender="u1"))
    _, second = await ingest(store, inbound("b", sender="u2"))
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "hash")
    bob = await store.create_agent("bob", "Bob", Role.AGENT, "hash")
    cid = await store.create_agent("cid", "Cid", Role.AGENT, "hash")
    older = note(first, ann.id, "@bob @cid see this", [bob.id, cid.id], at=1)
    newer = note(second, ann.id, "@bob and this", [bob.id], at=2)
    await store.add_note(older)
    await store.add_note(newer)
    await store.add_note(note(first, ann.id, "nobody mentioned", at=3))

    mentions = await store.agent_mentions(bob.id, 10)
    assert [m.note.id for m in mentions] == [newer.id, older.id]
    assert sorted(mentions[1].note.mentions) == sorted([bob.id, cid.id])
    assert all(m.read_at is None and m.agent_id == bob.id for m in mentions)
    assert await store.unread_mentions(bob.id) == 2 and await store.unread_mentions(ann.id) == 0

    # Bob opens the first conversation: its mention of him is read, nobody else's, no other conversation's
    assert await store.mark_mentions_read(bob.id, first, T0 + timedelta(minutes=1)) == 1
    assert await store.mark_mentions_read(bob.id, first, T0 + timedelta(minutes=2)) == 0
    assert await store.unread_mentions(bob.id) == 1 and await store.unread_mentions(cid.id) == 1
    read = {m.note.id: m.read_at for m in await store.agent_mentions(bob.id, 10)}
    assert read == {newer.id: None, older.id: T0 + timedelta(minutes=1)}
    assert [m.note.id for m in await store.agent_mentions(bob.id, 1)] == [newer.id]
