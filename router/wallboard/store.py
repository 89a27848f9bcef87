"""What the wallboard reads from a store, and no more: the open conversations
counted by team, channel and status, the unanswered ones against each team's
first-response target, and the attributes of the customers queued. Every read
walks the open conversations only (the status index), never the resolved
history, so its cost follows the queue, not the store's size."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from router.models import ConversationStatus


@dataclass(frozen=True, slots=True)
class OpenCount:
    """Open conversations of one team, channel and status: with the bot or queued and not snoozed, or
    assigned (snoozed too: it holds its agent's capacity, as the assigner counts it)."""

    team: str | None
    channel: str
    status: ConversationStatus
    count: int
    oldest: datetime  # the earliest ``created_at`` among them


@dataclass(frozen=True, slots=True)
class SlaCount:
    """Unanswered conversations of one team and channel against the team's target."""

    team: str | None
    channel: str
    breached: int  # created before the team's cutoff
    next_due: datetime | None  # the earliest ``created_at`` of those not breached yet


@dataclass(frozen=True, slots=True)
class QueuedValue:
    """Queued conversations of one team and channel whose customers have the
    same raw ``tier`` and ``lifetime_value`` attributes (as stored: any JSON)."""

    team: str | None
    channel: str
    tier: Any
    lifetime_value: Any
    count: int


class WallboardStore(Protocol):
    @abstractmethod
    async def open_counts(self) -> list[OpenCount]:
        """Conversations with the bot or queued (not snoozed) or assigned (snoozed or not), grouped by team,
        channel and status."""

    @abstractmethod
    async def sla_counts(self, cutoffs: Mapping[str | None, datetime]) -> list[SlaCount]:
        """Queued or assigned conversations, not snoozed, that no agent has
        answered yet (the SLA sweep's ``awaiting_first_response``), of the
        teams in ``cutoffs`` (None: no team), grouped by team and channel:
        how many were created before their team's cutoff, and the earliest
        creation among the others."""

    @abstractmethod
    async def queued_values(self) -> list[QueuedValue]:
        """Queued conversations, not snoozed, grouped by team, channel and
        their customer's ``tier`` and ``lifetime_value`` attributes."""
