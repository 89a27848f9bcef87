"""How an inbound message is kept (router/ingest/inbound.py), without a
database: what every backend's ingest stores for a connector's message."""

from __future__ import annotations

from datetime import UTC, datetime

from router.ingest.inbound import stored_form
from router.models import DESCRIPTION_EXTRA, Delivery, Direction, IdentityRef, InboundMessage

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SENDER = IdentityRef(kind="telegram", value="42")


def test_what_the_connector_said_beside_the_text_is_kept_with_the_message() -> None:
    message = InboundMessage(channel="telegram", external_id="7", sender=SENDER, text="", sender_name="Анна",
                             description="[photo]", extras={"chat_id": 42})
    stored = stored_form(message, T0)
    assert stored.extras == {"chat_id": 42, DESCRIPTION_EXTRA: "[photo]"}
    assert stored.core.sender_name == "Анна"
    assert (stored.direction, stored.author, stored.delivery) == (Direction.IN, "customer", Delivery.RECEIVED)
    assert (stored.conversation_id, stored.customer_id, stored.created_at) == (None, None, T0)
    assert (stored.channel, stored.external_id, stored.sender) == ("telegram", "7", SENDER)
    assert message.extras == {"chat_id": 42}  # the connector's message is not changed


def test_a_message_a_machine_wrote_is_marked_and_two_messages_are_two() -> None:
    message = InboundMessage(channel="email", external_id="<a@b>", sender=SENDER, text="Undelivered",
                             automated="bounce")
    first, second = stored_form(message, T0), stored_form(message, T0)
    assert first.core.automated == "bounce" and first.extras == {} and first.id != second.id
