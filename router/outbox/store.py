"""What the outbox worker needs from a store, and no more: the pending
entries and what became of each send. ``Store`` inherits it, so the full
store still offers it; the worker is typed against this, and a new backend
knows the outbox's part of its work from this alone. Queueing an entry is not
here: that is the outbound path's (``Store.enqueue_outbound``).

Every method is one atomic step; errors are ``router.store``'s
(``NotFound``, ``StoreUnavailable``...)."""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime
from typing import Protocol

from router.models import Message, OutboxEntry


class OutboxStore(Protocol):
    @abstractmethod
    async def pending_outbox(self, limit: int) -> list[OutboxEntry]:
        """Undelivered entries, oldest first."""

    @abstractmethod
    async def outbox_sent(self, entry_id: str, external_id: str | None, now: datetime) -> Message:
        """Delivered. From now on the entry keeps only the text its message
        shows (a one-time code is masked there), as does ``outbox_dead``.

        Lock: with an ``external_id``, the receipt's advisory lock (kind 1,
        ``channel || ':' || external_id``, the channel being the entry's
        message's, which never changes; ``router.store.base``) before any
        row, held to the commit. It is the lock ``record_delivery`` takes, so
        a receipt racing this answer is either kept before the kept receipts
        are read here, or finds the external id stored here once this
        commits. Then the entry's ``outbox`` row ``FOR UPDATE`` (its attempts
        are read and written) and its message's row."""

    @abstractmethod
    async def outbox_part_sent(self, entry_id: str, parts_sent: int, external_id: str | None) -> None:
        """``parts_sent`` of the platform calls of a message sent in parts went
        out (the latest as ``external_id``): kept, so a retry, even after a
        restart, resumes after them (``router.connector.SendProgress``).

        Single statement: an UPDATE of a pending entry only."""

    @abstractmethod
    async def outbox_retry(self, entry_id: str, attempts: int, next_attempt_at: datetime, error: str) -> None:
        """The send failed and is tried again at ``next_attempt_at``.

        Single statement: an UPDATE of the entry with the caller's values."""

    @abstractmethod
    async def outbox_dead(self, entry_id: str, attempts: int, reason: str, now: datetime) -> Message:
        """Given up: the entry is dead and its message failed with ``reason``.

        Lock: the entry's ``outbox`` row ``FOR UPDATE`` from the read of its
        message to the writes, then its message's row."""

    @abstractmethod
    async def outbox_wait(self, entry_id: str) -> None:
        """Its recipient is not there (``router.connector.RecipientAway``): the
        entry leaves the pending queue and waits for ``outbox_reached``; its
        message stays pending, no attempt counted.

        Single statement: an UPDATE of the entry while it is still pending
        (one another node marked sent meanwhile stays sent)."""

    @abstractmethod
    async def outbox_reached(self, channel: str, recipient: str, message_ids: list[str],
                             now: datetime) -> list[Message]:
        """The recipient has these messages now (``ConnectorHost.reached``):
        each of their entries to ``recipient`` on ``channel`` that waits or is
        pending is sent, as ``outbox_sent`` without an external id; the
        messages that changed.

        Lock: each matching ``outbox`` row ``FOR UPDATE`` (re-read as still
        waiting or pending), then its message's row, as ``outbox_sent``."""
