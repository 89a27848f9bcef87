"""The ingest slice's SQL on PostgreSQL. Mixed into ``PostgresStore``, which gives it
the pool (``router.store.pg_engine``); storage and atomicity only, the rules are the
slice's. Each write holds the lock its method's docstring names (``router.ingest.store``)."""

from __future__ import annotations

from datetime import datetime

from router.identity.types import IdentityPlan
from router.ingest.store import Ingested, IngestStore
from router.models import (
    ConversationView,
    CustomerHistory,
    InboundMessage,
    Message,
    RouteDecision,
)
from router.store.pg_engine import PgConnections


class PostgresIngest(IngestStore, PgConnections):
    """Ingest over the pool of the store it is mixed into."""

    async def insert_inbound(self, message: InboundMessage, received_at: datetime) -> tuple[Message, bool]:
        raise NotImplementedError("postgres: not yet")

    async def attach_to_conversation(
        self, message_id: str, customer_id: str, channel: str, route: RouteDecision, now: datetime
    ) -> tuple[ConversationView, bool]:
        raise NotImplementedError("postgres: not yet")

    async def ingest(
        self, message: InboundMessage, received_at: datetime, plan: IdentityPlan | None = None
    ) -> Ingested:
        raise NotImplementedError("postgres: not yet")

    async def ingest_automated(
        self, message: InboundMessage, received_at: datetime
    ) -> tuple[Message, bool, ConversationView | None]:
        raise NotImplementedError("postgres: not yet")

    async def unrouted_messages(self, limit: int) -> list[Message]:
        raise NotImplementedError("postgres: not yet")

    async def contact_history(
        self, customer_id: str, since: datetime, before: datetime | None = None
    ) -> CustomerHistory:
        raise NotImplementedError("postgres: not yet")

    async def conversation_openings(
        self, since: datetime | None, after_id: str | None, limit: int
    ) -> list[tuple[ConversationView, Message | None]]:
        raise NotImplementedError("postgres: not yet")
