"""One row of the conversation event log, as the reports read it (the kinds
and their columns: ``router.reports.schema``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


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


# the columns in ConversationEvent's order, for both backends' SELECTs
COLUMNS = ("seq, conversation_id, customer_id, kind, at, status, prev_status, team, channel, channel_kind, agent_id,"
           " prev_agent_id, how, priority, reason, tier")
