"""How an inbound message is kept, as a rule every backend's ingest calls: what
the connector said beside the text (the sender's name, its description of a
message without words, that a machine wrote it) goes into the stored
message's extras, and the message belongs to no conversation until the
ingest transaction files it."""

from __future__ import annotations

from datetime import datetime

from router.models import DESCRIPTION_EXTRA, Direction, InboundMessage, Message, new_id


def stored_form(message: InboundMessage, received_at: datetime) -> Message:
    """The message to store for ``message``, received at ``received_at``."""
    extras = message.extras | ({"sender_name": message.sender_name} if message.sender_name else {})
    if message.description:
        extras[DESCRIPTION_EXTRA] = message.description
    if message.automated:
        extras["automated"] = message.automated
    return Message(
        id=new_id("msg"), conversation_id=None, customer_id=None, direction=Direction.IN, author="customer",
        channel=message.channel, external_id=message.external_id, sender=message.sender, text=message.text,
        attachments=message.attachments, extras=extras, created_at=received_at,
    )
