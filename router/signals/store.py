"""What the live signals need from a store: each agent's read mark per
conversation, the unread counts computed from it when they are read (never
a write per message per agent: the ingest path writes nothing for them), and
the open conversation a customer types in.

Every method is one atomic step; errors are ``router.store``'s."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from router.models import IdentityRef


@dataclass(frozen=True, slots=True)
class ReadMark:
    """An agent has read ``conversation_id`` up to ``message_id`` (created at ``read_at``)."""

    agent_id: str
    conversation_id: str
    message_id: str
    read_at: datetime


class ReadStore(Protocol):
    @abstractmethod
    async def mark_read(self, agent_id: str, conversation_id: str, message_id: str | None) -> ReadMark:
        """Move the agent's read mark of the conversation to ``message_id``
        (None: its latest message), never back: a mark already past it stays.
        The mark as it is after. ``NotFound`` for an unknown conversation, a
        message of another conversation, or a conversation with no message.

        Single statement: an ``INSERT ... SELECT ... ON CONFLICT DO UPDATE``
        whose WHERE keeps the later mark (PostgreSQL checks it again on a row it
        waited for), then a read of the row."""

    @abstractmethod
    async def unread_counts(self, agent_id: str, conversation_ids: list[str], cap: int) -> dict[str, int]:
        """The customer's messages after the agent's read mark (all of them
        without one), for each of these conversations that exists, counted up
        to ``cap``."""

    @abstractmethod
    async def assigned_unread(self, agent_id: str, cap: int) -> dict[str, int]:
        """As ``unread_counts``, for every open conversation assigned to the agent."""

    @abstractmethod
    async def open_conversation_of(self, sender: IdentityRef) -> str | None:
        """The open conversation of the customer who writes as ``sender``, or None."""

    @abstractmethod
    async def seen_message(self, sender: IdentityRef) -> str | None:
        """The last message ``sender`` wrote in their open conversation, when
        an agent has read it (a read mark at or after it), else None."""
