"""What the accounts need from a store, and no more: agents and their
console sessions. ``Store`` inherits it, so the full store still offers it;
a consumer that only deals with accounts is typed against this, and a new
backend knows the accounts' part of its work from this alone.

Every method is one atomic step; errors are ``router.store``'s
(``ConflictError``, ``NotFound``, ``StoreUnavailable``...)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from router.models import Agent, Role


@dataclass(frozen=True, slots=True)
class SessionEnd:
    """A console session ended: whose it was, and how many sessions of that
    agent are still alive (not expired) after it; 0 when it was their last,
    so they are at no console any more."""

    agent_id: str
    sessions_left: int


class AccountStore(Protocol):
    @abstractmethod
    async def create_agent(self, username: str, display_name: str, role: Role, password_hash: str) -> Agent:
        """``ConflictError`` if the username is taken.

        Single statement: the INSERT, whose unique username is the check."""

    @abstractmethod
    async def agent_credentials(self, username: str) -> tuple[Agent, str] | None:
        """The agent and its password hash; None for an unknown username."""

    @abstractmethod
    async def set_password_hash(self, agent_id: str, password_hash: str) -> None:
        """Single statement: an UPDATE of the agent's row."""

    @abstractmethod
    async def set_agent_language(self, agent_id: str, language: str | None) -> None:
        """The console language the agent chose (None: their browser's); ``NotFound``
        for an unknown id. Single statement: an UPDATE of the agent's row."""

    @abstractmethod
    async def get_agent(self, agent_id: str) -> Agent:
        """``NotFound`` for an unknown id."""

    @abstractmethod
    async def list_agents(self) -> list[Agent]:
        """Every agent, by username."""

    @abstractmethod
    async def create_session(self, token_hash: str, agent_id: str, expires_at: datetime,
                             seen_at: datetime | None = None) -> None:
        """``ConflictError`` for a token hash in use or an unknown agent.
        ``seen_at``: the sign-in (None: the store's clock now).

        Single statement: the INSERT, whose key and foreign key are the checks."""

    @abstractmethod
    async def seen_sessions(self, token_hashes: Collection[str], now: datetime) -> None:
        """These sessions were seen at a console at ``now`` (a socket open, a
        request): their ``seen_at``, which only moves forward. An unknown or
        ended session is no error.

        Single statement: an UPDATE."""

    @abstractmethod
    async def session_agent(self, token_hash: str, now: datetime) -> Agent | None:
        """The session's agent while ``now`` is before its expiry and the
        agent is active (``router.agents``), else None."""

    @abstractmethod
    async def end_session(self, token_hash: str, now: datetime) -> SessionEnd | None:
        """Delete the session; whose it was and how many of that agent's
        sessions are alive at ``now`` without it. None when there was no such
        session (unknown, or ended meanwhile by another call).

        Lock: the agent's ``agents`` row ``FOR UPDATE`` (the lock
        ``AssignmentStore.set_presence`` takes) before the DELETE and the
        count: two of an agent's sessions ended at once, on two nodes, are
        counted one after the other, so one of the two answers 0 (without it,
        each count would still see the other's uncommitted session). A new
        session's INSERT waits on the same row (its foreign key's share lock)."""

    @abstractmethod
    async def delete_agent_sessions(self, agent_id: str) -> int:
        """End every console session of an agent (a password reset); how many.

        Single statement: a DELETE, whose row count is the answer."""

    @abstractmethod
    async def replace_password(self, agent_id: str, password_hash: str, keep_session: str | None = None) -> int:
        """A new password hash and the end of every console session of the
        agent but ``keep_session`` (a token hash: the acting admin's own,
        when they set their own password), in one transaction: never the new
        password with the old sessions alive. How many sessions ended;
        ``NotFound`` for an unknown agent.

        Lock: the agent's ``agents`` row, by the UPDATE of its hash, then its sessions' DELETE."""
