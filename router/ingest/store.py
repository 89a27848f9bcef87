"""What the ingest pipeline needs from a store, and no more: storing an
inbound message once, the one-step ingest transaction (store, resolve the
sender, continue the open conversation), opening a conversation by a routing
decision, and what routing reads about a customer's past. ``Store`` inherits
it, so the full store still offers it; the pipeline is typed against this, and
a new backend knows the ingest's part of its work from this alone.

Every method is one atomic step; errors are ``router.store``'s
(``NotFound``, ``StoreUnavailable``...)."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from router.models import ConversationView, Customer, CustomerHistory, InboundMessage, Message, RouteDecision

if TYPE_CHECKING:  # the store's base imports this module: no cycle at run time
    from router.identity.types import IdentityPlan


@dataclass(frozen=True, slots=True)
class Ingested:
    """The first, atomic step of the pipeline for one inbound message."""

    message: Message
    duplicate: bool
    customer: Customer
    # None when the customer has no open conversation: routing decides next
    conversation: ConversationView | None
    # the open conversation's last message came on another channel: one queued for people tells the
    # customer again, on this channel, what happens next (they never heard it here)
    switched: bool = False


@dataclass(frozen=True, slots=True)
class Reopening:
    """A resolved conversation the rules would reopen (``router.ingest.reopen``),
    as it was read: plain values, which cross to SQLite's writer process."""

    conversation_id: str
    resolved_at: datetime
    # the rules' priority for the message that reopens it; the higher of it and the conversation's stands
    priority: int
    # the channel kind of the channel written on now (teams.yaml), as a new conversation would get it
    channel_kind: str = "chat"


class IngestStore(Protocol):
    @abstractmethod
    async def insert_inbound(self, message: InboundMessage, received_at: datetime) -> tuple[Message, bool]:
        """Durably store an inbound message; ``(stored, duplicate)``.

        A second delivery with the same ``(channel, external_id)`` stores
        nothing and returns the first one with ``duplicate=True``.

        Single statement: ``INSERT ... ON CONFLICT (channel, external_id) DO
        NOTHING``, then the row that won is read: two nodes given the same
        delivery at once store it once, and neither gets an integrity error."""

    @abstractmethod
    async def ingest(self, message: InboundMessage, received_at: datetime, plan: IdentityPlan | None = None
                     ) -> Ingested:
        """In one transaction: store the message (or recognise a redelivery),
        resolve the sender to a customer, and put the message in the
        customer's open conversation if there is one (or in the open
        conversation of the earlier message ``message.replies_to`` names,
        whoever's it is). The common case, a customer already in
        conversation, takes this one step.

        ``plan`` (from ``router.identity``) gives the normalised identity, its
        match key and the claims to record; without one the sender is taken
        as it is.

        Lock: the sender is resolved as ``resolve_identity`` says (a new
        sender's identity inserted ``ON CONFLICT DO NOTHING`` and read again;
        its merges lock as ``merge_customers``), then its customer's row
        ``FOR KEY SHARE``, read again (merged meanwhile, the survivor is the
        sender; a merge waits for this transaction); the message's insert is
        ``ON CONFLICT (channel, external_id) DO NOTHING``, and when another
        transaction stored it first this one goes on as a redelivery with
        the row that won (the first copy's row ``FOR UPDATE``, on PostgreSQL
        ``FOR NO KEY UPDATE`` as in ``attach_to_conversation``, while it is
        attached), never an integrity error to the connector; the open
        conversation (the customer's or the thread's) is locked by the one
        statement that checks it is still open, touches it and puts the
        message in it (an UPDATE, whose WHERE PostgreSQL checks again on a
        row it waited for; the message, inserted just before, comes first in
        the lock order), so a conversation resolved meanwhile is not written
        into."""

    @abstractmethod
    async def ingest_automated(self, message: InboundMessage, received_at: datetime
                               ) -> tuple[Message, bool, ConversationView | None]:
        """Store a message a machine wrote (``message.automated``) once per
        external id, in the open conversation its ``replies_to`` names if
        there is one: ``(stored, duplicate, conversation)``. It resolves no
        identity and opens no conversation, and ``unrouted_messages`` never
        lists it.

        Lock: the insert as ``insert_inbound`` (single statement), then the
        thread's customer ``FOR KEY SHARE`` (``router.store.base``'s order,
        customers before conversations: the message's foreign key takes it
        anyway, and taken after the conversation's it deadlocked with a
        merge), then the thread's conversation row ``FOR UPDATE``, still
        open and still that customer's (a merge committed meanwhile moved
        it to the survivor: read again), from the check to the write."""

    @abstractmethod
    async def attach_to_conversation(
        self, message_id: str, customer_id: str, channel: str, route: RouteDecision, now: datetime,
        *, only_unrouted: bool = False,
    ) -> tuple[ConversationView, bool]:
        """Put the message in the customer's open conversation (any channel),
        opening one routed by ``route`` when there is none; ``(conv, created)``.
        A message already in a conversation is answered with it; with
        ``only_unrouted``, ``AlreadyRouted`` (nothing changes): another step
        routed it since it was read unrouted (two nodes: the node that stored
        it and a starting node's resume), and only that step tells everyone.

        Lock: the customer's row ``FOR UPDATE`` before the open conversation
        is looked for (there may be none to lock: two openings at once would
        otherwise both insert, and the second fail on the one-open-
        conversation index), then the message's row ``FOR UPDATE``, read
        again unattached (else its conversation is the answer), both to the
        commit; an open conversation found is locked as ``ingest`` locks it.
        (On PostgreSQL both rows are locked ``FOR NO KEY UPDATE``: it excludes
        the same writers, and leaves free the foreign-key checks of rows that
        name them, a customer's new messages.)"""

    @abstractmethod
    async def last_resolved(self, customer_id: str) -> ConversationView | None:
        """The customer's most recently resolved conversation, if any (what
        ``reopen_with`` may reopen: ``router.ingest.reopen`` decides)."""

    @abstractmethod
    async def reopen_with(
        self, message_id: str, customer_id: str, channel: str, reopening: Reopening, now: datetime,
        *, only_unrouted: bool = False,
    ) -> tuple[ConversationView, bool] | None:
        """Put the message in the customer's open conversation, or reopen the
        resolved one ``reopening`` names with it: ``(conv, reopened)``; None
        (nothing changes) when there is no open conversation and that one is
        no longer as it was read (resolved at another time, reopened and
        resolved again, another customer's after a merge): the caller opens a
        new one. Reopened, it is queued to its team again with the agent who handled it as
        the preferred agent (``preferred_agent_id``; the assigner offers it to
        them first when they are online and have room), at the higher of its
        priority and ``reopening.priority``, neither resolved nor snoozed nor
        assigned, ``reopened_at`` now and ``reopens`` one more. A message
        already in a conversation is answered as ``attach_to_conversation``
        answers it (``AlreadyRouted`` with ``only_unrouted``).

        Lock: as ``attach_to_conversation`` (the customer's row ``FOR NO KEY
        UPDATE`` first: two messages at once reopen once, the second joins the
        conversation the first reopened; the one-open-conversation index
        stands behind it), the resolved conversation's row by the UPDATE that
        checks it is still resolved at ``reopening.resolved_at``."""

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
