"""One row of the conversation event log, as the reports read it (the kinds
and their columns: ``router.reports.schema``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple


class Kind(StrEnum):
    OPENED = "opened"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    TRANSFERRED = "transferred"
    TO_BOT = "to_bot"
    HANDOFF = "handoff"
    FIRST_REPLY = "first_reply"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    MERGED = "merged"  # folded into another conversation by a merge: not a resolve
    UNMERGED = "unmerged"  # back as it was before the merge: not a reopening


@dataclass(frozen=True, slots=True)
class ConversationEvent:
    seq: int
    conversation_id: str
    customer_id: str
    kind: Kind
    at: datetime
    status: str
    prev_status: str | None
    team: str | None
    channel: str
    channel_kind: str | None
    agent_id: str | None
    prev_agent_id: str | None
    how: str | None
    priority: int
    reason: str | None
    tier: str | None


@dataclass(frozen=True, slots=True)
class Rating:
    """A satisfaction rating (router.csat) of a conversation."""

    conversation_id: str
    rating: int
    answered_at: datetime
    team: str | None
    channel: str
    agent_id: str | None
    tier: str | None = None  # the customer's when the rated cycle started (conversation_cycles)


# the columns in ConversationEvent's order, for both backends' SELECTs
COLUMNS = ("seq, conversation_id, customer_id, kind, at, status, prev_status, team, channel, channel_kind, agent_id,"
           " prev_agent_id, how, priority, reason, tier")


class Stay(NamedTuple):
    """One stay in a queue, from a ``queued`` to the next ``assigned`` (its group: the queued event's
    time, team, channel and tier, and the agent assigned)."""

    queued_at: datetime
    team: str | None
    channel: str
    tier: str | None
    assigned_at: datetime
    agent_id: str | None


class Transfer(NamedTuple):
    """One ``transferred`` event: ``how`` = ``team`` or ``agent``."""

    at: datetime
    team: str | None
    channel: str
    tier: str | None
    how: str | None
    agent_id: str | None


class CycleFacts(NamedTuple):
    """What the figures need of one cycle (``router.reports.cycles``): folded from its events as they
    are written, by the database's triggers (a row of ``conversation_cycles``) or in Python."""

    conversation_id: str
    start_seq: int
    reopened: bool
    start_at: datetime
    start_status: str
    team: str | None  # the start's team, channel and tier: the cycle's groups
    channel: str
    tier: str | None
    asked_at: datetime | None  # a person was asked for (the first-response clock starts)
    asked_team: str | None
    replied_at: datetime | None  # the cycle's first reply
    replied_agent: str | None
    resolved_at: datetime | None  # its first resolve
    resolved_agent: str | None
    resolved_prev_status: str | None
    merged: bool
    with_bot: bool
    handoffs: tuple[str | None, ...]  # each handoff's reason code
    stays: tuple[Stay, ...]
    transfers: tuple[Transfer, ...]
