"""What the notes need from a store, and no more. ``Store`` inherits it, so
the full store still offers it; a new backend knows this part of its work
from it alone. Every method is one atomic step; errors are ``router.store``'s
(``NotFound``, ``StoreUnavailable``...)."""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime
from typing import Protocol

from router.notes.models import Mention, Note


class NoteStore(Protocol):
    @abstractmethod
    async def add_note(self, note: Note) -> None:
        """Store ``note`` and a mention of each agent in ``note.mentions``,
        unread, in one transaction; ``NotFound`` (nothing stored) for an
        unknown conversation.

        Lock: none beyond the inserts' own (the foreign keys' share locks on
        the conversation and the agents): a note changes no row another step
        reads to decide."""

    @abstractmethod
    async def conversation_notes(self, conversation_id: str, limit: int) -> list[Note]:
        """The conversation's latest ``limit`` notes, oldest first."""

    @abstractmethod
    async def agent_mentions(self, agent_id: str, limit: int) -> list[Mention]:
        """The notes that mention the agent, newest first, the latest ``limit``."""

    @abstractmethod
    async def unread_mentions(self, agent_id: str) -> int:
        """How many of the agent's mentions are not read yet (their badge)."""

    @abstractmethod
    async def mark_mentions_read(self, agent_id: str, conversation_id: str, now: datetime) -> int:
        """The agent opened the conversation: their unread mentions in it are
        read from ``now``; how many were marked.

        Single statement: an UPDATE of the agent's unread mentions there."""
