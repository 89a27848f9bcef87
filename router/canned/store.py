"""What canned replies need from a store, and no more. ``Store`` inherits
it; the service and the console's handlers are typed against it alone.

Every method is one atomic step; errors are ``router.store``'s
(``ConflictError``, ``NotFound``, ``StoreUnavailable``...)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Protocol

from router.canned.types import CannedReply


class CannedStore(Protocol):
    @abstractmethod
    async def create_canned(self, reply: CannedReply) -> CannedReply:
        """Store a new reply; ``ConflictError`` when its scope's owner has a
        reply of that shortcut already (or, for a personal one, no such agent).

        Single statement: the INSERT, whose unique indexes are the check."""

    @abstractmethod
    async def update_canned(self, reply: CannedReply) -> CannedReply:
        """Replace the shortcut, title, texts and ``updated_at`` of the reply
        of ``reply.id`` (its scope and owner never change); ``NotFound`` for
        an unknown id, ``ConflictError`` for a shortcut its owner uses already.

        Single statement: an UPDATE, whose unique indexes are the check."""

    @abstractmethod
    async def delete_canned(self, reply_id: str) -> None:
        """``NotFound`` for an unknown id.

        Single statement: a DELETE, whose row count is the answer."""

    @abstractmethod
    async def get_canned(self, reply_id: str) -> CannedReply:
        """``NotFound`` for an unknown id."""

    @abstractmethod
    async def list_canned(self, agent_id: str | None, teams: Sequence[str] | None) -> list[CannedReply]:
        """The personal replies of ``agent_id`` (none when None) and the team
        replies of ``teams`` (every team's when None), by shortcut, then
        personal before team, then team name."""
