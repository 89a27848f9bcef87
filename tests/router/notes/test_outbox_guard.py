"""The send path's last line (router/notes/guard.py): whatever put a note into
the outbox under its id, the worker never hands it to a connector, and
dead-letters it with the reason. And the ordinary path: a note written in a
conversation leaves no outbox entry at all, while a reply after it goes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from router.models import Author, Delivery, Direction, IdentityRef, InboundMessage, Message, OutboundMessage, new_id
from router.notes.guard import NOTE_ID_PREFIX
from router.notes.service import Notes
from router.store.sqlite import SQLiteStore
from tests.router.outbox.test_service import Clock, Rig


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with SQLiteStore(tmp_path / "outbox.db") as store:
        yield Rig(store, Clock())


async def test_a_note_forced_into_the_outbox_never_reaches_the_connector(rig: Rig) -> None:
    conv = await rig.conversation()
    view = await rig.router.store.get_conversation(conv)
    now = rig.clock()
    # a bug's doing: a note copied into the outbound path under its own id
    leaked = Message(id=new_id(NOTE_ID_PREFIX), conversation_id=conv, customer_id=view.customer_id,
                     direction=Direction.OUT, author=Author.AGENT, channel="scripted", text="refund approved, VIP",
                     created_at=now, delivery=Delivery.PENDING)
    payload = OutboundMessage(message_id=leaked.id, channel="scripted", recipient="chat-1", author=Author.AGENT,
                              text=leaked.text, created_at=now)
    await rig.router.store.enqueue_outbound(leaked, payload, None, now)

    await rig.worker.run_once()

    assert rig.platform.delivered == []
    stored = await rig.router.store.get_message(leaked.id)
    assert stored.delivery is Delivery.FAILED
    assert stored.delivery_error is not None and "private note" in stored.delivery_error
    assert await rig.router.store.pending_outbox(10) == []


async def test_a_note_leaves_no_outbox_entry_and_a_reply_after_it_goes(rig: Rig) -> None:
    conv = await rig.conversation()
    agent = await rig.agent()
    notes = Notes(rig.router.store, rig.router.bus, rig.clock)
    await notes.write(conv, agent, "customer is a VIP, say nothing of the refund yet")
    assert await rig.router.store.pending_outbox(10) == []
    await rig.worker.run_once()
    assert rig.platform.delivered == []

    await rig.router.conversations.reply(conv, agent, "Hello! Looking into it.")
    await rig.worker.run_once()
    assert [m.text for m in rig.platform.delivered] == ["Hello! Looking into it."]


async def test_a_note_does_not_count_as_the_first_response(rig: Rig) -> None:
    conv = await rig.conversation()
    await rig.router.on_message(InboundMessage(channel="scripted", external_id="in-2",
                                               sender=IdentityRef(kind="x", value="chat-1"), text="hello?"))
    agent = await rig.agent()
    await Notes(rig.router.store, rig.router.bus, rig.clock).write(conv, agent, "I'll take it after lunch")
    waiting = await rig.router.store.awaiting_first_response(10)
    assert conv in [c.id for c in waiting]
