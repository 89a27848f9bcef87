"""How an inbound message is kept, as a rule every backend's ingest calls: what
the connector said beside the text in typed fields (the sender's name, that a
machine wrote it, a key the platform proves, its thread, the language) goes
into the stored message's ``core``, its description of a message without
words and its own ``extras`` into ``extras``, and the message belongs to no
conversation until the ingest transaction files it."""

from __future__ import annotations

from datetime import datetime

from router.identity.types import IdentityPlan
from router.models import DESCRIPTION_EXTRA, CoreMeta, Direction, Given, InboundMessage, Message, new_ordered_id

_GIVEN = tuple(Given.model_fields)


def stored_form(message: InboundMessage, received_at: datetime, plan: IdentityPlan | None = None) -> Message:
    """The message to store for ``message``, received at ``received_at``;
    ``plan``: the identity it resolves as, kept with it when written otherwise
    than the connector wrote the sender (an unmerge sorts messages by it)."""
    extras = dict(message.extras)
    if message.description:
        extras[DESCRIPTION_EXTRA] = message.description
    core = CoreMeta(
        # only what is set: validating a keyword costs as much as the rest (measured)
        **{name: value for name in _GIVEN if (value := getattr(message, name))},
        sender_name=message.sender_name or None, automated=message.automated or None,
        identity=plan.identity.value if plan is not None and plan.identity.value != message.sender.value else None,
    )
    return Message(
        id=new_ordered_id("msg"), conversation_id=None, customer_id=None, direction=Direction.IN, author="customer",
        channel=message.channel, external_id=message.external_id, sender=message.sender, text=message.text,
        attachments=message.attachments, extras=extras, core=core, created_at=received_at,
    )
