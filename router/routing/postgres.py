"""The routing slice's SQL on PostgreSQL. Mixed into ``PostgresStore``, which gives it
the pool (``router.store.pg_engine``); storage and atomicity only, the rules are the
slice's. Each write holds the lock its method's docstring names (``router.routing.store``)."""

from __future__ import annotations

from datetime import datetime

from router.models import AgentPresence, ConversationStatus, ConversationView, Presence
from router.routing.store import AssignmentStore, ReleasedOffer
from router.store.pg_engine import PgConnections


class PostgresRouting(AssignmentStore, PgConnections):
    """Routing over the pool of the store it is mixed into."""

    async def set_presence(self, agent_id: str, presence: Presence, now: datetime) -> AgentPresence:
        raise NotImplementedError("postgres: not yet")

    async def list_presence(self) -> list[AgentPresence]:
        raise NotImplementedError("postgres: not yet")

    async def queued_conversations(self, limit: int) -> list[ConversationView]:
        raise NotImplementedError("postgres: not yet")

    async def agent_loads(self) -> dict[str, dict[str, int]]:
        raise NotImplementedError("postgres: not yet")

    async def offer(
        self,
        conversation_id: str,
        agent_id: str,
        capacity: int,
        now: datetime,
        *,
        expected: frozenset[ConversationStatus] = frozenset({ConversationStatus.QUEUED}),
    ) -> ConversationView:
        raise NotImplementedError("postgres: not yet")

    async def release_offers(
        self, agent_id: str | None, now: datetime, offered_before: datetime | None = None
    ) -> list[ReleasedOffer]:
        raise NotImplementedError("postgres: not yet")

    async def awaiting_first_response(
        self, limit: int, created_before: datetime | None = None
    ) -> list[ConversationView]:
        raise NotImplementedError("postgres: not yet")

    async def mark_opened(self, conversation_id: str, agent_id: str, now: datetime) -> None:
        raise NotImplementedError("postgres: not yet")
