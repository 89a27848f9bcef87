"""The conversations slice's SQL on PostgreSQL. Mixed into ``PostgresStore``, which gives it
the pool (``router.store.pg_engine``); storage and atomicity only, the rules are the
slice's. Each write holds the lock its method's docstring names (``router.conversations.store``)."""

from __future__ import annotations

from datetime import datetime

from router.conversations.store import ConversationStore, MessageStore, OutboundStore
from router.models import (
    ConversationStatus,
    ConversationView,
    Delivery,
    Message,
    OutboundMessage,
    RouteDecision,
    RouteTrace,
)
from router.store.pg_engine import PgConnections


class PostgresConversations(ConversationStore, MessageStore, OutboundStore, PgConnections):
    """Conversations over the pool of the store it is mixed into."""

    async def conversation_route(self, conversation_id: str) -> RouteTrace | None:
        raise NotImplementedError("postgres: not yet")

    async def customer_conversations(self, customer_id: str) -> list[ConversationView]:
        raise NotImplementedError("postgres: not yet")

    async def get_conversation(self, conversation_id: str) -> ConversationView:
        raise NotImplementedError("postgres: not yet")

    async def list_conversations(self, statuses: list[ConversationStatus] | None, limit: int) -> list[ConversationView]:
        raise NotImplementedError("postgres: not yet")

    async def count_conversations(self) -> dict[ConversationStatus, int]:
        raise NotImplementedError("postgres: not yet")

    async def reroute_conversation(
        self, conversation_id: str, route: RouteDecision, now: datetime, *, expected: set[ConversationStatus]
    ) -> ConversationView:
        raise NotImplementedError("postgres: not yet")

    async def set_conversation_state(
        self,
        conversation_id: str,
        status: ConversationStatus,
        agent_id: str | None,
        now: datetime,
        *,
        expected: set[ConversationStatus] | None = None,
    ) -> ConversationView:
        raise NotImplementedError("postgres: not yet")

    async def list_messages(self, conversation_id: str, limit: int) -> list[Message]:
        raise NotImplementedError("postgres: not yet")

    async def get_message(self, message_id: str) -> Message:
        raise NotImplementedError("postgres: not yet")

    async def customer_messages(self, customer_id: str, limit: int) -> list[Message]:
        raise NotImplementedError("postgres: not yet")

    async def last_inbound(self, conversation_id: str) -> Message | None:
        raise NotImplementedError("postgres: not yet")

    async def customer_channels(self, customer_id: str) -> list[str]:
        raise NotImplementedError("postgres: not yet")

    async def customer_last_inbound(self, customer_id: str, channel: str) -> Message | None:
        raise NotImplementedError("postgres: not yet")

    async def enqueue_outbound(
        self,
        message: Message,
        payload: OutboundMessage,
        assign_to: str | None,
        now: datetime,
        *,
        expected: set[ConversationStatus] | None = None,
    ) -> tuple[Message, ConversationView]:
        raise NotImplementedError("postgres: not yet")

    async def record_delivery(
        self, channel: str, external_id: str, state: Delivery, error: str | None, now: datetime
    ) -> Message | None:
        raise NotImplementedError("postgres: not yet")
