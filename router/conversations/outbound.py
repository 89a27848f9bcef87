"""An automatic message back to where the customer wrote: the stored copy and
the outbox payload, composed once for every step that answers by itself (a
handoff notice, the bot's answers, the self-service texts, the phone request).

Each caller enqueues the pair itself (``Store.enqueue_outbound``), with the
checks its own step needs, then publishes ``events.message_created``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from router.models import (
    Author,
    ConversationView,
    Delivery,
    Direction,
    Message,
    OutboundMessage,
    new_id,
)


def thread_of(inbound: Message) -> dict[str, Any]:
    """The connector's thread data of the message a reply answers (opaque here)."""
    thread = inbound.extras.get("thread")
    return thread if isinstance(thread, dict) else {}


def automatic_reply(
    inbound: Message, view: ConversationView, text: str, now: datetime, extras: dict[str, object],
    **payload: Any,
) -> tuple[Message, OutboundMessage]:
    """The bot's message answering ``inbound`` in ``view``, on the channel and
    to the address it came from; ``payload``: more fields of the outbox
    payload (``history_changed``, ``ask_phone``)."""
    assert inbound.sender is not None
    message = Message(
        id=new_id("msg"), conversation_id=view.id, customer_id=view.customer_id, direction=Direction.OUT,
        author=Author.BOT, channel=inbound.channel, text=text, created_at=now, delivery=Delivery.PENDING,
        extras=dict(extras),
    )
    sent = OutboundMessage(
        message_id=message.id, channel=inbound.channel, recipient=inbound.sender.value, author=Author.BOT,
        text=text, created_at=now, thread=thread_of(inbound), **payload,
    )
    return message, sent

