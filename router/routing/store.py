"""What assignment needs from a store, and no more: agents' presence, the
queue, the agents' loads and the offers. ``Store`` inherits it, so the full
store still offers it; the assigner and the console's presence API are typed
against this, and a new backend knows routing's part of its work from this
alone.

Every method is one atomic step; errors are ``router.store``'s
(``ConflictError``, ``NotFound``, ``StoreUnavailable``...)."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from router.models import AgentPresence, ConversationStatus, ConversationView, Presence


@dataclass(frozen=True, slots=True)
class ReleasedOffer:
    """An offer put back in the queue, and the agent it had been made to (the
    conversation no longer names them)."""

    conversation: ConversationView
    agent_id: str


class AssignmentStore(Protocol):
    @abstractmethod
    async def set_presence(self, agent_id: str, presence: Presence, now: datetime) -> AgentPresence:
        """Going online restarts the agent's idle time (``service.idle_since``,
        asked with the agent's previous presence in hand); ``NotFound`` for an
        unknown agent.

        Lock: the agent's ``agents`` row ``FOR UPDATE``, from the read of the
        previous presence to the write (the presence row cannot be the lock:
        there is none before the agent's first presence). ``offer``, which
        restarts the idle time too, holds the same lock, so neither writes
        back an idle time the other replaced."""

    @abstractmethod
    async def list_presence(self) -> list[AgentPresence]:
        """Every agent that ever set a presence (the others are offline)."""

    @abstractmethod
    async def queued_conversations(self, limit: int) -> list[ConversationView]:
        """Waiting for an agent, the first ``limit`` in ``service.SERVING_ORDER``
        (highest priority, then oldest, then by id: a total order)."""

    @abstractmethod
    async def agent_loads(self) -> dict[str, dict[str, int]]:
        """Assigned conversations per agent per channel kind."""

    @abstractmethod
    async def offer(
        self, conversation_id: str, agent_id: str, capacity: int, now: datetime,
        *, expected: frozenset[ConversationStatus] = frozenset({ConversationStatus.QUEUED}), online: bool = False,
    ) -> ConversationView:
        """Assign a conversation to an agent, in one step with the check that
        the agent holds fewer than ``capacity`` conversations of its channel
        kind: ``ConflictError`` when its status is not in ``expected`` (queued:
        not taken meanwhile), the agent is full (``AgentAtCapacity``) or, with
        ``online`` (the assigner's offers), not online: one who went offline
        since the assigner read who is online is offered nothing. The agent's
        idle time restarts.

        Lock: the conversation's row ``FOR UPDATE``, then the agent's
        ``agents`` row ``FOR UPDATE`` (the lock ``set_presence`` takes), both
        before the status is read and the agent's load of the channel kind is
        counted, and held until the offer and the idle time are written; the
        decision is ``service.offer_refusal``'s. (SQLite's one writer holds
        both.)"""

    @abstractmethod
    async def release_offers(self, agent_id: str | None, now: datetime, offered_before: datetime | None = None
                             ) -> list[ReleasedOffer]:
        """Put offers not yet opened back in the queue: one agent's (``agent_id``),
        or everyone's offered before ``offered_before`` (``service.offer_lapsed``);
        each with the agent it was made to.

        No lock: the offers are read, then each is requeued by a single
        statement that checks again the row it read (``status = 'assigned'``,
        not opened, the same agent and ``assigned_at``); only the rows that
        statement changed are returned. An offer opened, transferred or made
        again meanwhile stays as it is."""

    @abstractmethod
    async def mark_opened(self, conversation_id: str, agent_id: str, now: datetime) -> None:
        """The assignee opened the conversation: the offer is taken (no-op otherwise).

        Single statement: an UPDATE whose WHERE holds the conditions (the
        agent's, assigned, not opened yet)."""

    @abstractmethod
    async def awaiting_first_response(self, limit: int, created_before: datetime | None = None
                                      ) -> list[ConversationView]:
        """Queued or assigned conversations no agent has answered yet, oldest
        first; only those created before ``created_before`` when given. A
        reopened conversation counts from its ``reopened_at``: only an agent
        reply since the reopen answers it."""

    @abstractmethod
    async def announce_breaches(self, conversation_ids: list[str], now: datetime) -> list[str]:
        """Mark each conversation's missed first-response target as announced
        (``sla_announced_at``) and return those not announced before in its
        cycle (since ``created_at``, or ``reopened_at`` after a reopen): each
        breach is announced once across restarts and leaders. A single
        statement: two nodes marking at once, one row's lock orders them, and
        the second finds it marked."""

    @abstractmethod
    async def return_from_offline(self, offline_before: datetime, now: datetime,
                                  seen_before: datetime | None = None) -> list[ReleasedOffer]:
        """Put back in their team's queue the conversations assigned to an agent
        offline since before ``offline_before`` (or never seen online), and
        at no console (no session alive and seen at a console since
        ``seen_before``, when given: logged out, expired, or closed), whose
        customer wrote after the agent's last reply: each with that agent, now
        its ``preferred_agent_id`` (offered to them first when they are back,
        if still queued). A single statement, whose WHERE is checked again on
        a row another writer changed meanwhile (taken, transferred, resolved):
        that one is left as it is."""

    @abstractmethod
    async def mark_absent(self, seen_before: datetime, now: datetime) -> list[AgentPresence]:
        """Set offline, at ``now``, every agent online or away whose presence
        has not changed since ``seen_before`` and who has no session alive
        and seen at a console since then (the console closed without a
        logout); their new presence. A single statement, whose WHERE is
        checked again on a row another writer changed meanwhile (the agent
        came back and chose online): that one is left as it is."""
