"""Where a reader of an outside feed got to (a platform's long poll
position), as a store protocol of its own: what the connectors' host keeps
for a poller so that whoever polls next (another node after a failover, this
one after a restart) resumes there instead of at the platform's "now"."""

from __future__ import annotations

from abc import abstractmethod
from typing import Protocol


class CursorStore(Protocol):
    @abstractmethod
    async def cursor(self, key: str) -> str | None:
        """The position last saved under ``key`` (``save_cursor``), None before any was."""

    @abstractmethod
    async def save_cursor(self, key: str, value: str) -> None:
        """Keep ``value`` as ``key``'s position, over the one before.

        Single statement: ``INSERT ... ON CONFLICT (key) DO UPDATE``, no lock:
        one poller (the singleton's leader) writes a key. A slower one that
        lost the lead may still write an older position after it: the feed is
        then read again from there, and what was stored already is a duplicate
        the ingest drops (a receipt per external id), never a loss."""
