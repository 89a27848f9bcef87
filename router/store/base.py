"""The store interface. Callers speak in models; each backend keeps its SQL
(or Mongo queries) to itself. Every method is one atomic step, so a crash
between two steps leaves a state the router can resume from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Self

from router.models import (
    Agent,
    ChannelIdentity,
    ConversationStatus,
    ConversationView,
    Customer,
    IdentityRef,
    InboundMessage,
    Message,
    OutboundMessage,
    OutboxEntry,
    Role,
    RouteDecision,
)


class StoreError(Exception):
    pass


class NotFound(StoreError):
    pass


class ConflictError(StoreError):
    """A uniqueness rule or an expected state did not hold."""


@dataclass(frozen=True, slots=True)
class Ingested:
    """The first, atomic step of the pipeline for one inbound message."""

    message: Message
    duplicate: bool
    customer: Customer
    # None when the customer has no open conversation: routing decides next
    conversation: ConversationView | None


class Store(ABC):
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

    # -- installation secrets --------------------------------------------
    @abstractmethod
    async def secret(self, name: str) -> bytes:
        """Return the named secret, creating a random one on first use."""

    # -- ingest ---------------------------------------------------------
    @abstractmethod
    async def insert_inbound(self, message: InboundMessage, received_at: datetime) -> tuple[Message, bool]:
        """Durably store an inbound message; ``(stored, duplicate)``.

        A second delivery with the same ``(channel, external_id)`` stores
        nothing and returns the first one with ``duplicate=True``."""

    @abstractmethod
    async def ingest(self, message: InboundMessage, received_at: datetime) -> Ingested:
        """In one transaction: store the message (or recognise a redelivery),
        resolve the sender to a customer, and put the message in the
        customer's open conversation if there is one. The common case, a
        customer already in conversation, takes this one step."""

    @abstractmethod
    async def resolve_identity(self, ref: IdentityRef, display_name: str | None, now: datetime) -> Customer:
        """The customer owning ``ref``, created on first sight."""

    @abstractmethod
    async def find_identity(self, ref: IdentityRef) -> Customer | None: ...

    @abstractmethod
    async def attach_to_conversation(
        self, message_id: str, customer_id: str, channel: str, route: RouteDecision, now: datetime
    ) -> tuple[ConversationView, bool]:
        """Put the message in the customer's open conversation (any channel),
        opening one routed by ``route`` when there is none; ``(conv, created)``."""

    @abstractmethod
    async def unrouted_messages(self, limit: int) -> list[Message]:
        """Inbound messages stored but not yet in a conversation (after a crash)."""

    # -- conversations ----------------------------------------------------
    @abstractmethod
    async def get_conversation(self, conversation_id: str) -> ConversationView: ...

    @abstractmethod
    async def list_conversations(
        self, statuses: list[ConversationStatus] | None, limit: int
    ) -> list[ConversationView]:
        """Most recently active first."""

    @abstractmethod
    async def count_conversations(self) -> dict[ConversationStatus, int]: ...

    @abstractmethod
    async def set_conversation_state(
        self,
        conversation_id: str,
        status: ConversationStatus,
        agent_id: str | None,
        now: datetime,
        *,
        expected: set[ConversationStatus] | None = None,
    ) -> ConversationView:
        """Change status and owner; ``ConflictError`` unless the current status
        is in ``expected`` (when given)."""

    @abstractmethod
    async def list_messages(self, conversation_id: str, limit: int) -> list[Message]:
        """Oldest first, the latest ``limit``."""

    @abstractmethod
    async def customer_messages(self, customer_id: str, limit: int) -> list[Message]:
        """The customer's messages across all conversations, oldest first."""

    @abstractmethod
    async def last_inbound(self, conversation_id: str) -> Message | None: ...

    # -- outbound / outbox ---------------------------------------------------
    @abstractmethod
    async def enqueue_outbound(
        self, message: Message, payload: OutboundMessage, assign_to: str | None, now: datetime
    ) -> tuple[Message, ConversationView]:
        """Store an outbound message and its outbox entry in one transaction;
        when ``assign_to`` is given the conversation becomes assigned to it."""

    @abstractmethod
    async def pending_outbox(self, limit: int) -> list[OutboxEntry]:
        """Undelivered entries, oldest first."""

    @abstractmethod
    async def outbox_sent(self, entry_id: str, external_id: str | None, now: datetime) -> Message: ...

    @abstractmethod
    async def outbox_retry(self, entry_id: str, attempts: int, next_attempt_at: datetime, error: str) -> None: ...

    @abstractmethod
    async def outbox_dead(self, entry_id: str, attempts: int, reason: str, now: datetime) -> Message: ...

    # -- customers -------------------------------------------------------
    @abstractmethod
    async def get_customer(self, customer_id: str) -> Customer: ...

    @abstractmethod
    async def customer_identities(self, customer_id: str) -> list[ChannelIdentity]: ...

    @abstractmethod
    async def customer_conversations(self, customer_id: str) -> list[ConversationView]: ...

    # -- agents and sessions ------------------------------------------------
    @abstractmethod
    async def create_agent(self, username: str, display_name: str, role: Role, password_hash: str) -> Agent:
        """``ConflictError`` if the username is taken."""

    @abstractmethod
    async def agent_credentials(self, username: str) -> tuple[Agent, str] | None: ...

    @abstractmethod
    async def set_password_hash(self, agent_id: str, password_hash: str) -> None: ...

    @abstractmethod
    async def get_agent(self, agent_id: str) -> Agent: ...

    @abstractmethod
    async def list_agents(self) -> list[Agent]: ...

    @abstractmethod
    async def create_session(self, token_hash: str, agent_id: str, expires_at: datetime) -> None: ...

    @abstractmethod
    async def session_agent(self, token_hash: str, now: datetime) -> Agent | None: ...

    @abstractmethod
    async def delete_session(self, token_hash: str) -> None: ...
