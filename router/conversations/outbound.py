"""The one way a message goes out: composed (the stored copy and the outbox
payload, to the channel, address and thread of the message it answers),
enqueued (both in one transaction), published (``message.created``) and the
outbox woken. Agents' replies, the bot's answers, handoff notices, the
self-service texts, the phone request and one-time codes all leave through
``send``, so none of them can forget a step."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from router import events
from router.bus import EventBus
from router.conversations.store import AnswerMark, OutboundStore
from router.models import (
    Attachment,
    Author,
    ConversationStatus,
    ConversationView,
    CoreMeta,
    Delivery,
    Direction,
    Message,
    OutboundMessage,
    new_ordered_id,
)


def thread_of(inbound: Message) -> dict[str, Any]:
    """The connector's thread data of the message a reply answers (opaque here)."""
    return dict(inbound.core.thread)


@dataclass(frozen=True)
class Outgoing:
    """A message to send, as the step that sends it says it."""

    to: Message  # the inbound message it answers: it goes to that channel, address and thread
    conversation_id: str  # where it is stored (the conversation answered, not always ``to``'s)
    customer_id: str | None
    text: str
    author: Author = Author.BOT
    agent_id: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    core: CoreMeta = field(default_factory=CoreMeta)  # the stored copy's
    # the stored copy's text when it must not be what is sent: a one-time code's digits go only to the outbox
    shown: str | None = None
    # more fields of the outbox payload (``template``, ``agent_name``, ``ask_phone``, ``history_changed``)
    payload: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def automatic(cls, inbound: Message, view: ConversationView, text: str, core: CoreMeta,
                  **payload: Any) -> Outgoing:
        """The bot's message answering ``inbound`` in ``view``."""
        return cls(inbound, view.id, view.customer_id, text, core=core, payload=payload)


def compose(out: Outgoing, now: datetime) -> tuple[Message, OutboundMessage]:
    """The stored copy and the outbox payload of ``out``."""
    assert out.to.sender is not None
    message = Message(
        id=new_ordered_id("msg"), conversation_id=out.conversation_id, customer_id=out.customer_id,
        direction=Direction.OUT, author=out.author, agent_id=out.agent_id, channel=out.to.channel,
        text=out.text if out.shown is None else out.shown, attachments=list(out.attachments), created_at=now,
        delivery=Delivery.PENDING, core=out.core.model_copy(update={"recipient": out.to.sender}),
    )
    payload = OutboundMessage(
        message_id=message.id, channel=out.to.channel, recipient=out.to.sender.value, author=out.author,
        text=out.text, attachments=list(out.attachments), created_at=now, thread=thread_of(out.to), **out.payload,
    )
    return message, payload


async def send(
    store: OutboundStore, bus: EventBus, wakeup: asyncio.Event, out: Outgoing, now: datetime, *,
    assign_to: str | None = None, expected: set[ConversationStatus] | None = None, after: AnswerMark | None = None,
    capacity: Mapping[str, int] | None = None,
) -> tuple[Message, ConversationView]:
    """Compose ``out``, enqueue it, publish it and wake the outbox; the
    message as stored and its conversation after it. ``assign_to``: the
    conversation becomes that agent's in the same transaction (published
    too); ``capacity``: their capacity per channel kind, ``AgentAtCapacity``
    and nothing stored or published when taking it would put them past it;
    ``expected``: ``ConflictError`` and nothing stored or published unless
    the conversation's status is one of them; ``after``:
    ``AnsweredMeanwhile`` and nothing stored or published unless its answer
    is still the conversation's latest (a bot turn's answer)."""
    message, payload = compose(out, now)
    message, view = await store.enqueue_outbound(message, payload, assign_to, now, expected=expected, after=after,
                                                 capacity=capacity)
    if assign_to is not None:
        bus.publish(events.conversation_assigned(view))
    bus.publish(events.message_created(message, view))
    wakeup.set()
    return message, view
