"""The webhooks' models and the event types an integrator can subscribe to."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from router.models import Timestamp

CONVERSATION_OPENED = "conversation.opened"
CONVERSATION_ASSIGNED = "conversation.assigned"
CONVERSATION_RESOLVED = "conversation.resolved"
CONVERSATION_REOPENED = "conversation.reopened"
MESSAGE_CREATED = "message.created"
CUSTOMER_MERGED = "customer.merged"
CUSTOMER_UNMERGED = "customer.unmerged"
CSAT_RECEIVED = "csat.received"

# in the order the console lists them
EVENT_TYPES: tuple[str, ...] = (
    CONVERSATION_OPENED, CONVERSATION_ASSIGNED, CONVERSATION_RESOLVED, CONVERSATION_REOPENED, MESSAGE_CREATED,
    CUSTOMER_MERGED, CUSTOMER_UNMERGED, CSAT_RECEIVED,
)
EventType = Literal[
    "conversation.opened", "conversation.assigned", "conversation.resolved", "conversation.reopened", "message.created",
    "customer.merged", "customer.unmerged", "csat.received",
]

DeliveryStatus = Literal["pending", "sent", "dead"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Subscription(_Model):
    """A URL that gets the events of ``events``. The secret is never in this
    model: it is read only by the sender and shown once to the admin."""

    id: str
    url: str
    events: list[EventType]
    description: str = ""
    active: bool = True
    # an admin's explicit leave to reach a loopback, private or link-local address
    allow_private: bool = False
    created_at: Timestamp
    updated_at: Timestamp


class WebhookEvent(_Model):
    """One event as integrators get it: the body of every delivery of it."""

    id: str = Field(description="the same in every delivery of this event: the receiver's idempotency key")
    type: EventType
    created_at: Timestamp
    data: dict[str, Any]


class Queued(_Model):
    """An event to queue, with what orders it: deliveries with one
    ``order_key`` (a conversation's, a customer's) to one subscription go out
    one at a time, in the order they were queued."""

    event: WebhookEvent
    order_key: str


class DeliveryReason(_Model):
    """Why a delivery failed, for people: ``code`` names a text of the console's
    catalogues (``webhooks.reasons.<code>``), ``values`` fill it in (host, status,
    seconds, attempts...)."""

    code: str
    values: dict[str, str | int | float | bool] = Field(default_factory=dict)


class WebhookDelivery(_Model):
    id: str
    subscription_id: str
    event_id: str
    event_type: EventType
    order_key: str
    status: DeliveryStatus
    attempts: int = 0
    next_attempt_at: Timestamp
    last_error: str | None = Field(None, description="the last failure's detail, in English")
    last_reason: DeliveryReason | None = Field(None, description="the same as a code and values, to translate")
    # the receiver's last HTTP status (None: no answer, or none yet)
    last_status: int | None = None
    created_at: Timestamp
    finished_at: Timestamp | None = None


class Outgoing(_Model):
    """A claimed delivery with what the sender needs to send it."""

    delivery: WebhookDelivery
    url: str
    secret: str
    allow_private: bool
    body: str
    # claimed before and never finished: the receiver may have it already
    resumed: bool = False
