"""The store interface. Callers speak in models; each backend keeps its SQL
(or Mongo queries) to itself. Every method is one atomic step, so a crash
between two steps leaves a state the router can resume from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Self

from router.accounts.store import AccountStore
from router.conversations.store import ConversationStore, MessageStore, OutboundStore
from router.identity.store import ClaimStore, CustomerStore, MergeStore, VerificationStore
from router.ingest.store import IngestStore
from router.models import (
    AgentPresence,
    ConversationStatus,
    ConversationView,
    Presence,
)
from router.outbox.store import OutboxStore


@dataclass(frozen=True, slots=True)
class ReleasedOffer:
    """An offer put back in the queue, and the agent it had been made to (the
    conversation no longer names them)."""

    conversation: ConversationView
    agent_id: str


class Store(AccountStore, OutboxStore, IngestStore, ConversationStore, MessageStore, OutboundStore,
            CustomerStore, VerificationStore, ClaimStore, MergeStore, ABC):
    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @abstractmethod
    async def open(self) -> None:
        """Connect and apply pending schema migrations."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def ping(self) -> None:
        """A round trip to where messages are written; ``StoreError`` with the
        reason when a message could not be stored now (``/healthz``)."""

    # -- installation secrets --------------------------------------------
    @abstractmethod
    async def secret(self, name: str) -> bytes:
        """Return the named secret, creating a random one on first use."""

    # -- customers (the rest is router.identity.store's) -----------------
    @abstractmethod
    async def customer_conversations(self, customer_id: str) -> list[ConversationView]: ...

    # -- assignment ----------------------------------------------------------
    @abstractmethod
    async def set_presence(self, agent_id: str, presence: Presence, now: datetime) -> AgentPresence:
        """Going online restarts the agent's idle time; ``NotFound`` for an unknown agent."""

    @abstractmethod
    async def list_presence(self) -> list[AgentPresence]:
        """Every agent that ever set a presence (the others are offline)."""

    @abstractmethod
    async def queued_conversations(self, limit: int) -> list[ConversationView]:
        """Waiting for an agent, in serving order: highest priority, then oldest."""

    @abstractmethod
    async def agent_loads(self) -> dict[str, dict[str, int]]:
        """Assigned conversations per agent per channel kind."""

    @abstractmethod
    async def offer(
        self, conversation_id: str, agent_id: str, capacity: int, now: datetime,
        *, expected: frozenset[ConversationStatus] = frozenset({ConversationStatus.QUEUED}),
    ) -> ConversationView:
        """Assign a conversation to an agent, in one step with the check that
        the agent holds fewer than ``capacity`` conversations of its channel
        kind: ``ConflictError`` when its status is not in ``expected`` (queued:
        not taken meanwhile) or the agent is full. The agent's idle time restarts."""

    @abstractmethod
    async def release_offers(self, agent_id: str | None, now: datetime, offered_before: datetime | None = None
                             ) -> list[ReleasedOffer]:
        """Put offers not yet opened back in the queue: one agent's (``agent_id``),
        or everyone's offered before ``offered_before``; each with the agent it was made to."""

    @abstractmethod
    async def mark_opened(self, conversation_id: str, agent_id: str, now: datetime) -> None:
        """The assignee opened the conversation: the offer is taken (no-op otherwise)."""

    @abstractmethod
    async def awaiting_first_response(self, limit: int, created_before: datetime | None = None
                                      ) -> list[ConversationView]:
        """Queued or assigned conversations no agent has answered yet, oldest
        first; only those created before ``created_before`` when given."""
