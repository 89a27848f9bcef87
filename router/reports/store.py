"""What the reports need of a store: the event log and the ratings over a
range of time. Read-only: the log is written by the database's triggers
(``router.reports.schema``)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from router.reports.events import ConversationEvent, CycleFacts, Rating

CycleCursor = tuple[datetime, int]  # a cycle's (start_at, start_seq): where a page of cycles ends


def cursor(cycle: CycleFacts) -> CycleCursor:
    return cycle.start_at, cycle.start_seq


class ReportStore(Protocol):
    @abstractmethod
    async def conversation_events(self, since: datetime, until: datetime) -> list[ConversationEvent]:
        """Every event of the conversations opened or reopened in
        [``since``, ``until``), also their events after ``until`` (a clock
        started in the range stops where it stops), by conversation, in the
        order they were written."""

    @abstractmethod
    async def cycles(self, since: datetime, until: datetime, after: CycleCursor | None, limit: int
                     ) -> list[CycleFacts]:
        """Up to ``limit`` cycles (``conversation_cycles``, folded as the events were written) that
        started in [``since``, ``until``), in start order, after ``after`` (a page's last: ``cursor``)."""

    @abstractmethod
    async def events_of_many(self, conversation_ids: Sequence[str]) -> list[ConversationEvent]:
        """Every event of these conversations, by conversation id, each one's in the order written."""

    @abstractmethod
    async def events_of(self, conversation_id: str) -> list[ConversationEvent]:
        """One conversation's events in the order they were written."""

    @abstractmethod
    async def ratings(self, since: datetime, until: datetime) -> list[Rating]:
        """The satisfaction ratings given in [``since``, ``until``)."""

    @abstractmethod
    async def event_cursor(self) -> str:
        """Where the log ends now, for ``events_after``: what follows it is new."""

    @abstractmethod
    async def events_after(self, cursor: str, limit: int) -> tuple[list[ConversationEvent], str]:
        """Up to ``limit`` events written after ``cursor``, in an order that
        never passes over one committed later, and the cursor after them.
        Reading from each cursor returned, a follower sees every event once."""
