"""Routing's rules that a store's transaction applies, in plain Python: the
capacity rule, the serving order of the queue, when an offer has lapsed and
when an agent's idle time restarts.

A backend does storage and atomicity only: inside one transaction it reads
(and, where it can, locks) the rows a step depends on, asks the rule here,
and writes what the rule allows. So a second backend implements SQL, not
rules, and the assigner's own picture of who has room asks the same rule.
Nothing here imports more than the models and the store's errors: the SQLite
writer process loads this module."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter

from router.models import AgentPresence, ConversationStatus, ConversationView, Presence
from router.store.errors import ConflictError


class AgentAtCapacity(ConflictError):
    """A conversation given to an agent who already holds their capacity of
    its channel kind, by an offer or by hand (a take, a supervisor's
    assignment, a transfer, a reopen, a reply that takes it): refused,
    nothing changed. Its arguments are its fields: it pickles out of SQLite's
    writer process as it is."""

    def __init__(self, agent_id: str, kind: str, capacity: int) -> None:
        super().__init__(agent_id, kind, capacity)
        self.agent_id = agent_id
        self.kind = kind
        self.capacity = capacity

    def __str__(self) -> str:
        # the words of the assigner's refusal (offer_refusal): one refusal, one sentence
        return f"agent {self.agent_id} is at capacity for {self.kind} ({self.capacity})"


# the order queued conversations are offered in: highest priority first, then
# the oldest, then by id; (field of ConversationView, descending). A backend
# sorts by it before it takes the first ``limit``. The id makes it total: two
# conversations queued in the same instant at the same priority come in one
# order on every backend and every call, not in whatever order a plan reads them
SERVING_ORDER: tuple[tuple[str, bool], ...] = (("priority", True), ("created_at", False), ("id", False))


def in_serving_order(conversations: Iterable[ConversationView]) -> list[ConversationView]:
    """``conversations`` in ``SERVING_ORDER``; a total order, so the order
    they come in does not matter."""
    ordered = list(conversations)
    for field, descending in reversed(SERVING_ORDER):  # least significant first: each sort is stable
        ordered.sort(key=attrgetter(field), reverse=descending)
    return ordered


def has_room(load: int, capacity: int) -> bool:
    """The capacity rule: an agent is offered one more conversation of a
    channel kind only while holding fewer than their capacity of that kind
    (a capacity of 0, or none configured, takes none)."""
    return load < capacity


@dataclass(frozen=True, slots=True)
class OfferState:
    """What a backend read for an offer, with the conversation's row and the
    agent's locked (or its writer alone) until the offer is written."""

    status: ConversationStatus
    # the conversation's agent now, if any
    assignee: str | None
    channel_kind: str
    # conversations of ``channel_kind`` assigned to the agent offered it
    load: int
    # False: the agent's account was deactivated (router.agents): never offered anything again
    agent_active: bool = True
    # snoozed (router.search): out of the agents' views until it wakes, so offered to nobody
    snoozed: bool = False
    # the agent's presence under the same lock (None: not read, or never set: offline), when the
    # offer asks for an agent online (the assigner's: one who went offline meanwhile gets none)
    presence: Presence | None = None


def offer_refusal(conversation_id: str, agent_id: str, capacity: int, expected: Collection[ConversationStatus],
                  state: OfferState, *, online: bool = False) -> ConflictError | None:
    """Why ``conversation_id`` may not be offered to ``agent_id`` now (the
    backend's ``ConflictError``), or None when it may: its status must be one
    of ``expected`` (a queued one not taken meanwhile), not snoozed, it must not be the
    agent's already, and the agent must have room (``has_room``); with ``online``, be online now."""
    if state.status not in expected or state.assignee == agent_id:
        return ConflictError(f"conversation {conversation_id} is {state.status.value}")
    if state.snoozed:  # read by the assigner before an agent snoozed it: it waits until it wakes
        return ConflictError(f"conversation {conversation_id} is snoozed")
    if not state.agent_active:
        return ConflictError(f"agent {agent_id} is deactivated")
    if online and state.presence is not Presence.ONLINE:  # chosen online, gone offline or away since
        return ConflictError(f"agent {agent_id} is {(state.presence or Presence.OFFLINE).value}")
    if not has_room(state.load, capacity):  # typed: a transfer to a full agent says so (409 at_capacity)
        return AgentAtCapacity(agent_id, state.channel_kind, capacity)
    return None


def offer_lapsed(offered_at: datetime, offered_before: datetime | None) -> bool:
    """Whether an offer not yet opened goes back to the queue: every one when
    there is no bound (its agent went offline), else those made before it
    (the assigner's offer timeout)."""
    return offered_before is None or offered_at < offered_before


def idle_since(previous: AgentPresence | None, now: datetime) -> datetime:
    """An agent's idle time restarts when they come back from offline (or
    set a presence for the first time), not when they step away and back:
    a short break does not send them to the end of the line."""
    if previous is None or previous.presence is Presence.OFFLINE:
        return now
    return previous.idle_since
