"""What the reports need of a store: the event log and the ratings over a
range of time. Read-only: the log is written by the database's triggers
(``router.reports.schema``)."""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime
from typing import Protocol

from router.reports.events import ConversationEvent, Rating


class ReportStore(Protocol):
    @abstractmethod
    async def conversation_events(self, since: datetime, until: datetime) -> list[ConversationEvent]:
        """Every event of the conversations opened or reopened in
        [``since``, ``until``), also their events after ``until`` (a clock
        started in the range stops where it stops), by conversation, in the
        order they were written."""

    @abstractmethod
    async def events_of(self, conversation_id: str) -> list[ConversationEvent]:
        """One conversation's events in the order they were written."""

    @abstractmethod
    async def ratings(self, since: datetime, until: datetime) -> list[Rating]:
        """The satisfaction ratings given in [``since``, ``until``)."""
