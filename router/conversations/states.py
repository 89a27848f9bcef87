"""How a conversation's row may change, as rules: plain Python that every
backend's transaction calls, so a second backend stores conversations without
deciding anything. Which status changes a transaction accepts (the one the
caller saw, so two agents' actions never both win), when a conversation
counts as resolved, where a rerouted one keeps its preferred agent, and what
a conversation list shows of its latest message."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from router.models import ConversationStatus
from router.routing.service import AgentAtCapacity, has_room
from router.store.errors import AnsweredMeanwhile, ConflictError, UnansweredMessages

if TYPE_CHECKING:
    from router.conversations.store import AnswerMark

T = TypeVar("T")

# what a conversation list shows of a message, in characters
PREVIEW_CHARS = 200


class AgentDeactivated(ConflictError):
    """A conversation given to an agent who is deactivated (an assignment in
    flight while an admin deactivated them): refused, nothing changed. Only
    its message is an argument, so it pickles out of SQLite's writer process."""


def check_assignable(agent_id: str, active: bool | None) -> None:
    """``AgentDeactivated`` unless ``agent_id`` is active, as read under its
    row's lock; an id with no account (None) is not refused, as an offer does not."""
    if active is False:
        raise AgentDeactivated(f"agent {agent_id} is deactivated: nothing is assigned to them")


def takes_room(current: ConversationStatus, assignee: str | None, agent_id: str) -> bool:
    """Whether making the conversation (now ``current``, ``assignee``'s)
    ``agent_id``'s adds to their load, which must then be counted under their
    row's lock (``check_room``): not when it is assigned to them already (an
    offer that Take opens is in their load already)."""
    return not (current is ConversationStatus.ASSIGNED and assignee == agent_id)


def check_room(agent_id: str, kind: str, load: int, capacity: Mapping[str, int]) -> None:
    """``AgentAtCapacity`` unless ``agent_id``, holding ``load`` assigned
    conversations of channel ``kind``, has room for one more of it by their
    ``capacity`` (a kind it leaves out: none): the assigner's own rule
    (``router.routing.service.has_room``), so an offer and a take never disagree."""
    if not has_room(load, capacity.get(kind, 0)):
        raise AgentAtCapacity(agent_id, kind, capacity.get(kind, 0))


def check_expected(conversation_id: str, current: ConversationStatus,
                   expected: Collection[ConversationStatus] | None) -> None:
    """A change made for a conversation in one of the ``expected`` statuses
    (None: any) is refused (``ConflictError``, nothing changes) when it is in
    another by now: taken by someone else, handed off, resolved."""
    if expected is not None and current not in expected:
        raise ConflictError(f"conversation {conversation_id} is {current.value}")


def check_owner(conversation_id: str, current: ConversationStatus, agent_id: str | None, caller: str | None) -> None:
    """A change by ``caller``, whose role may not take over a colleague's
    conversation (None: one that may), is refused (``ConflictError``,
    nothing changes) when the conversation is another agent's by now: read
    with the change, so two agents taking or resolving one at once never
    both succeed on a colleague's."""
    if caller is not None and current is ConversationStatus.ASSIGNED and agent_id not in (None, caller):
        raise ConflictError(f"conversation {conversation_id} is assigned to another agent")


def check_unanswered(conversation_id: str, latest: str | None, after: AnswerMark | None) -> None:
    """A bot turn's answer or handoff made ``after`` the answer it read
    (None: no check) is refused (``AnsweredMeanwhile``, nothing changes) when
    the conversation's ``latest`` answer is another by now: someone answered
    what the turn answers, and a second answer would say it twice."""
    if after is not None and latest != after.last_answer:
        raise AnsweredMeanwhile(f"conversation {conversation_id} was answered meanwhile")


def agent_after(status: ConversationStatus, handler: str | None, actor: str | None) -> str | None:
    """The conversation's agent after a change by ``actor``: a resolve keeps
    the agent who handled the case (``handler``, none if it was never an
    agent's), not whoever clicked Resolve; a supervisor resolving in bulk must
    not become every customer's preferred agent on a reopen or a return."""
    return handler if status is ConversationStatus.RESOLVED else actor


def check_seen(status: ConversationStatus, unseen: int) -> None:
    """A resolve made after the agent saw a message is refused
    (``UnansweredMessages``, nothing changes) when the customer wrote
    ``unseen`` messages since: resolved, they would sit where nobody looks."""
    if status is ConversationStatus.RESOLVED and unseen > 0:
        raise UnansweredMessages(unseen)


def resolved_at(status: ConversationStatus, now: T) -> T | None:
    """The time a conversation is resolved at: now when it becomes resolved,
    none when it is (re)opened."""
    return now if status is ConversationStatus.RESOLVED else None


def is_open(status: ConversationStatus) -> bool:
    """Open until resolved: a customer's next message continues it. (The SQL
    backend's index of one open conversation per customer has this predicate.)"""
    return status is not ConversationStatus.RESOLVED


def preferred_after_reroute(routed: str | None, current: str | None) -> str | None:
    """A route that names no preferred agent keeps the one the conversation had."""
    return routed if routed is not None else current


def taken(previous_agent: str | None, agent: str, assigned_at: T | None, opened_at: T | None, now: T
          ) -> tuple[T, T]:
    """When a conversation an agent takes (a take, a reply, an assignment)
    counts as assigned and opened: it is theirs and in front of them, not an
    offer waiting to be opened, which a lapse would put back in the queue. Taken
    from someone else (an offer to a colleague included): both now. Their own:
    as it was, opened now if it was not yet."""
    if agent != previous_agent:
        return now, now
    return assigned_at or now, opened_at or now


def preview(text: str | None, description: Any = None) -> str:
    """What a conversation list shows of a message: its words, or the
    connector's description of a message without any ("[photo]")."""
    shown = text or (description if isinstance(description, str) else "") or ""
    return shown[:PREVIEW_CHARS]


def shown_in_list(automatic: str | None, text: str | None, description: Any = None) -> str | None:
    """What an outbound message makes the conversation list show: its preview,
    or None (the list is left as it is) for an automatic message: "a colleague
    will answer soon" is not what the conversation is about, the list keeps
    showing the customer's last words."""
    return None if automatic else preview(text, description)
