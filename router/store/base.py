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
from router.identity.store import ClaimStore, CustomerStore, MergeStore, VerificationStore
from router.identity.types import IdentityPlan
from router.models import (
    AgentPresence,
    ConversationStatus,
    ConversationView,
    Customer,
    CustomerHistory,
    Delivery,
    InboundMessage,
    Message,
    OutboundMessage,
    Presence,
    RouteDecision,
    RouteTrace,
)
from router.outbox.store import OutboxStore


@dataclass(frozen=True, slots=True)
class ReleasedOffer:
    """An offer put back in the queue, and the agent it had been made to (the
    conversation no longer names them)."""

    conversation: ConversationView
    agent_id: str


@dataclass(frozen=True, slots=True)
class Ingested:
    """The first, atomic step of the pipeline for one inbound message."""

    message: Message
    duplicate: bool
    customer: Customer
    # None when the customer has no open conversation: routing decides next
    conversation: ConversationView | None


class Store(AccountStore, OutboxStore, CustomerStore, VerificationStore, ClaimStore, MergeStore, ABC):
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

    # -- ingest ---------------------------------------------------------
    @abstractmethod
    async def insert_inbound(self, message: InboundMessage, received_at: datetime) -> tuple[Message, bool]:
        """Durably store an inbound message; ``(stored, duplicate)``.

        A second delivery with the same ``(channel, external_id)`` stores
        nothing and returns the first one with ``duplicate=True``."""

    @abstractmethod
    async def ingest(self, message: InboundMessage, received_at: datetime, plan: IdentityPlan | None = None
                     ) -> Ingested:
        """In one transaction: store the message (or recognise a redelivery),
        resolve the sender to a customer, and put the message in the
        customer's open conversation if there is one (or in the open
        conversation of the earlier message ``message.replies_to`` names,
        whoever's it is). The common case, a customer already in
        conversation, takes this one step.

        ``plan`` (from ``router.identity.service``) gives the normalised identity, its
        match key and the claims to record; without one the sender is taken
        as it is."""

    @abstractmethod
    async def ingest_automated(self, message: InboundMessage, received_at: datetime
                               ) -> tuple[Message, bool, ConversationView | None]:
        """Store a message a machine wrote (``message.automated``) once per
        external id, in the open conversation its ``replies_to`` names if
        there is one: ``(stored, duplicate, conversation)``. It resolves no
        identity and opens no conversation, and ``unrouted_messages`` never
        lists it."""

    @abstractmethod
    async def attach_to_conversation(
        self, message_id: str, customer_id: str, channel: str, route: RouteDecision, now: datetime
    ) -> tuple[ConversationView, bool]:
        """Put the message in the customer's open conversation (any channel),
        opening one routed by ``route`` when there is none; ``(conv, created)``."""

    @abstractmethod
    async def unrouted_messages(self, limit: int) -> list[Message]:
        """Inbound messages stored but not yet in a conversation (after a crash)."""

    @abstractmethod
    async def contact_history(
        self, customer_id: str, since: datetime, before: datetime | None = None
    ) -> CustomerHistory:
        """The customer's conversations so far (opened before ``before`` when
        given): how many, the opening times of those opened since ``since``,
        and the agent of the latest one."""

    @abstractmethod
    async def conversation_openings(
        self, since: datetime | None, after_id: str | None, limit: int
    ) -> list[tuple[ConversationView, Message | None]]:
        """Conversations opened since ``since`` (oldest first, paged after
        ``after_id``), each with the message that opened it (None if lost)."""

    @abstractmethod
    async def conversation_route(self, conversation_id: str) -> RouteTrace | None:
        """Why the conversation went where it went (None when no rules file
        decided it); ``NotFound`` for an unknown conversation."""

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
    async def reroute_conversation(
        self, conversation_id: str, route: RouteDecision, now: datetime, *, expected: set[ConversationStatus]
    ) -> ConversationView:
        """Send an open conversation somewhere else (bot handoff, transfer to a
        team): status, team, priority, reason and trace from ``route``, no
        agent; ``ConflictError`` unless the current status is in ``expected``."""

    @abstractmethod
    async def list_messages(self, conversation_id: str, limit: int) -> list[Message]:
        """Oldest first, the latest ``limit``."""

    @abstractmethod
    async def get_message(self, message_id: str) -> Message:
        """One message; ``NotFound`` for an unknown id."""

    @abstractmethod
    async def customer_messages(self, customer_id: str, limit: int) -> list[Message]:
        """The customer's messages across all conversations, oldest first."""

    @abstractmethod
    async def last_inbound(self, conversation_id: str) -> Message | None: ...

    @abstractmethod
    async def customer_last_inbound(self, customer_id: str, channel: str) -> Message | None:
        """The customer's latest inbound message on ``channel``, any conversation."""

    @abstractmethod
    async def customer_channels(self, customer_id: str) -> list[str]:
        """The channels the customer has written from (a reply can go to any), most recent first."""

    # -- outbound / outbox ---------------------------------------------------
    @abstractmethod
    async def enqueue_outbound(
        self, message: Message, payload: OutboundMessage, assign_to: str | None, now: datetime,
        *, expected: set[ConversationStatus] | None = None,
    ) -> tuple[Message, ConversationView]:
        """Store an outbound message and its outbox entry in one transaction;
        when ``assign_to`` is given the conversation becomes assigned to it.
        ``ConflictError`` (nothing stored) unless the conversation's status is
        in ``expected``, when given: the bot answers only what is still its own."""

    @abstractmethod
    async def record_delivery(
        self, channel: str, external_id: str, state: Delivery, error: str | None, now: datetime
    ) -> Message | None:
        """A platform's receipt for the outbound message it knows as
        ``external_id`` on ``channel``. Applied only when it moves the state
        forward (``Delivery.may_become``); returns the message when it changed.
        A receipt that raced the send's answer (its id is not stored yet) is
        kept and applied by ``outbox_sent``."""
        ...

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
