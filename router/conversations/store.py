"""What agents' actions and the outbound path need from a store, and no
more, in three narrow protocols: the conversations (read, list, change state,
send elsewhere), their messages (read), and an outbound message on its way
(queued with its outbox entry, then the platform's receipts). ``Store``
inherits them, so the full store still offers them; a consumer is typed
against the ones it uses, and a new backend knows this part of its work from
them alone. The rules (which state changes a transaction accepts, the
forward-only receipts) are plain Python in ``states`` and ``receipts``, which
every backend's transaction calls.

Every method is one atomic step; errors are ``router.store``'s
(``ConflictError``, ``NotFound``, ``StoreUnavailable``...)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from router.models import (
    ConversationStatus,
    ConversationView,
    Delivery,
    Message,
    OutboundMessage,
    RouteDecision,
    RouteTrace,
)


@dataclass(frozen=True, slots=True)
class AnswerMark:
    """What a bot turn answers after: the id of the conversation's latest
    answer (``MessageStore.last_answer``) read before the messages the turn
    answers; None when there was none. Given to a write, the write stores
    nothing (``AnsweredMeanwhile``) unless that is still the latest answer:
    two turns on one conversation (two nodes, a redelivery, a resume) never
    both answer the same messages."""

    last_answer: str | None


@dataclass(frozen=True, slots=True)
class ListCursor:
    """Where a page of ``list_conversations`` ended: its last conversation's
    activity and id (the order is ``last_message_at`` then ``id``, newest
    first); the next page starts after it."""

    last_message_at: datetime
    id: str


class ConversationStore(Protocol):
    @abstractmethod
    async def get_conversation(self, conversation_id: str) -> ConversationView: ...

    @abstractmethod
    async def customer_conversations(self, customer_id: str) -> list[ConversationView]:
        """Every conversation of the customer, newest first."""

    @abstractmethod
    async def list_conversations(
        self, statuses: list[ConversationStatus] | None, limit: int, *, awake_only: bool = False,
        agent_id: str | None = None, after: ListCursor | None = None,
    ) -> list[ConversationView]:
        """Most recently active first (ties by id); without the snoozed ones when ``awake_only``;
        only ``agent_id``'s when given (before the limit: an agent's own are never a page's leftovers);
        only those after ``after`` when given (the next page)."""

    @abstractmethod
    async def count_conversations(self) -> dict[ConversationStatus, int]: ...

    @abstractmethod
    async def conversation_route(self, conversation_id: str) -> RouteTrace | None:
        """Why the conversation went where it went (None when no rules file
        decided it); ``NotFound`` for an unknown conversation."""

    @abstractmethod
    async def set_conversation_state(
        self,
        conversation_id: str,
        status: ConversationStatus,
        agent_id: str | None,
        now: datetime,
        *,
        expected: set[ConversationStatus] | None = None,
        seen: str | None = None,
        not_others: str | None = None,
        capacity: Mapping[str, int] | None = None,
    ) -> ConversationView:
        """Change status and owner; ``ConflictError`` unless the current status
        is in ``expected`` (when given), and when it is assigned to an agent
        other than ``not_others`` (when given: a caller who may not take over
        a colleague's, ``states.check_owner``); ``AgentDeactivated`` when it would be
        assigned to a deactivated agent; ``AgentAtCapacity`` when it would be
        assigned to an agent with ``capacity`` (per channel kind, when given)
        who holds that many of its kind already (``states.check_room``; one
        assigned to them already adds nothing). A resolve keeps the conversation's
        agent (who handled it: ``states.agent_after``); with ``seen`` (the
        last message the resolving agent saw) it is refused with
        ``UnansweredMessages`` when the customer wrote after it.

        Lock: the conversation's row ``FOR UPDATE`` from the read of its
        status (``states.check_expected``) to the write: of two agents
        resolving at once, one succeeds and one gets the conflict. For an
        assignment, then the agent's row ``FOR SHARE`` before its ``active``
        is read: a deactivation racing a take either comes first (the take is
        refused) or after (it requeues the conversation). When the capacity
        is counted, ``FOR UPDATE`` instead (an offer's lock,
        ``router.routing.store.AssignmentStore.offer``), and the agent's load
        counted after it is granted: two takes, replies or offers for one
        agent on two nodes go one after the other, and never both fill the
        last place."""

    @abstractmethod
    async def reroute_conversation(
        self, conversation_id: str, route: RouteDecision, now: datetime, *, expected: set[ConversationStatus],
        after: AnswerMark | None = None,
    ) -> ConversationView:
        """Send an open conversation somewhere else (bot handoff, transfer to a
        team): status, team, priority, reason and trace from ``route``, no
        agent; ``ConflictError`` unless the current status is in ``expected``;
        ``AnsweredMeanwhile`` when ``after`` is given and no longer the
        conversation's latest answer (a bot's handoff of what was answered).

        Lock: the conversation's row ``FOR UPDATE`` from the read of its status
        and preferred agent (and of its latest answer) to the write."""


class MessageStore(Protocol):
    @abstractmethod
    async def list_messages(self, conversation_id: str, limit: int) -> list[Message]:
        """Oldest first, the latest ``limit``."""

    @abstractmethod
    async def last_answer(self, conversation_id: str) -> str | None:
        """The id of the conversation's latest answer: an outbound message not
        said aside (``CoreMeta.aside``), the latest stored (every one is
        stored under the conversation's lock, so in that order); None before
        the first. A bot turn's ``AnswerMark``."""

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


class OutboundStore(Protocol):
    @abstractmethod
    async def enqueue_outbound(
        self, message: Message, payload: OutboundMessage, assign_to: str | None, now: datetime,
        *, expected: set[ConversationStatus] | None = None, after: AnswerMark | None = None,
        capacity: Mapping[str, int] | None = None,
    ) -> tuple[Message, ConversationView]:
        """Store an outbound message and its outbox entry in one transaction;
        when ``assign_to`` is given the conversation becomes assigned to it
        (``AgentDeactivated``, nothing stored, when that agent is deactivated:
        their row ``FOR SHARE`` after the conversation's, as ``set_conversation_state``;
        ``AgentAtCapacity``, nothing stored, when ``capacity`` is given and
        they hold that many of its channel kind already: their row ``FOR
        UPDATE`` then, as ``set_conversation_state``).
        ``ConflictError`` (nothing stored) unless the conversation's status is
        in ``expected``, when given: the bot answers only what is still its own.
        ``AnsweredMeanwhile`` (nothing stored) when ``after`` is given and
        its answer is no longer the conversation's latest: a bot turn answers
        only what no one answered since it read it.

        Lock: the conversation's row ``FOR UPDATE`` from the read of its status
        (and of its latest answer, read under it: every answer is stored
        holding it) to the last write (the message, its outbox entry, the
        assignee and the list preview): a bot's answer never lands in a
        conversation an agent took meanwhile, and of two turns that read the
        same unanswered messages (on two nodes) one answers. Before it, the message's customer's row ``FOR
        KEY SHARE``: the message's foreign key takes that lock at the insert
        anyway, and taken first it keeps ``router.store.base``'s order
        (customers, then a conversation) against a merge, which locks the
        customers and then moves their conversations."""

    @abstractmethod
    async def record_delivery(
        self, channel: str, external_id: str, state: Delivery, error: str | None, now: datetime
    ) -> Message | None:
        """A platform's receipt for the outbound message it knows as
        ``external_id`` on ``channel``. Applied only when it moves the state
        forward (``receipts.moves_forward``); returns the message when it changed.
        A receipt that raced the send's answer (its id is not stored yet) is
        kept and applied by ``outbox_sent``.

        Lock: the receipt's advisory lock (kind 1, ``channel || ':' ||
        external_id``; ``router.store.base``) before the message is looked
        for, then the message's row ``FOR UPDATE``, both to the commit. The
        same lock is ``outbox_sent``'s: a receipt whose message is not found
        is kept before ``outbox_sent`` looks for kept receipts, or finds the
        message once ``outbox_sent`` committed, never neither. Two receipts
        of one message apply one after the other, so the later never
        overwrites a state the earlier moved past. The sweep of receipts
        kept over a day waits for no other's lock (``FOR UPDATE SKIP
        LOCKED``): two sweeps never wait for each other's kept receipts."""
