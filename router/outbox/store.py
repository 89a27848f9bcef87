"""What the outbox worker needs from a store, and no more: entries claimed
for sending and what became of each send. ``Store`` inherits it, so the full
store still offers it; the worker is typed against this, and a new backend
knows the outbox's part of its work from this alone. Queueing an entry is not
here: that is the outbound path's (``Store.enqueue_outbound``).

Several nodes send from one outbox: an entry is *claimed* (leased to one
node until a deadline), never just read, and only the node holding its lease
finishes it. A recipient has at most one entry in flight, so its messages
leave in the order they were written. A node that dies mid-send leaves its
lease to expire; the next claim resumes the entry, which the platform may
then get twice (``Claim.resumed``: the worker counts it).

Every method is one atomic step; errors are ``router.store``'s
(``NotFound``, ``StoreUnavailable``, ``LeaseLost``...)."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from router.models import Message, OutboxEntry
from router.store.errors import ConflictError


class LeaseLost(ConflictError):
    """The caller no longer holds the entry's lease: it expired and another
    claim took the entry (which that node now sends), or the entry is done.
    Nothing of the call was stored."""


@dataclass(frozen=True, slots=True)
class Claim:
    """What ``claim_outbox`` leased to a node."""

    entries: list[OutboxEntry]
    # those of ``entries`` whose earlier lease expired before it was finished:
    # a node died (or stalled) mid-send, so the platform may have them already
    resumed: frozenset[str] = field(default_factory=frozenset)
    # when an entry not claimable now may become so (a retry falls due, another
    # node's lease expires); None: nothing is waiting
    next_due: datetime | None = None


class OutboxStore(Protocol):
    @abstractmethod
    async def pending_outbox(self, limit: int) -> list[OutboxEntry]:
        """Undelivered entries, oldest first, leased or not: what waits to go
        (a view for people and tests; the worker claims, ``claim_outbox``)."""

    @abstractmethod
    async def claim_outbox(self, node: str, limit: int, now: datetime, lease: timedelta) -> Claim:
        """Lease to ``node`` until ``now + lease`` up to ``limit`` entries, oldest
        first, each the first pending entry of its recipient (channel and
        recipient), due (``next_attempt_at <= now``), and not leased to another
        node: never leased, its lease expired, or leased to ``node`` itself (a
        node claims only with none of its sends in flight, so a lease of its
        own is from before it restarted). A recipient with an entry leased to
        another node gets nothing: one entry in flight per recipient.

        Lock: PostgreSQL: the claimable entries ``FOR UPDATE SKIP LOCKED`` (two
        nodes claiming at once take different entries; a row another claim
        holds is skipped, never waited for), whose own conditions PostgreSQL
        checks again on the row's latest version, then their UPDATE in the same
        transaction. That an entry is its recipient's first pending one is read
        from the statement's snapshot: an entry only ever leaves the pending
        ones, so an earlier one seen finished stays finished. SQLite: one unit
        on its one writer."""

    @abstractmethod
    async def outbox_sent(
        self, entry_id: str, external_id: str | None, now: datetime, node: str | None = None
    ) -> Message:
        """Delivered. From now on the entry keeps only the text its message
        shows (a one-time code is masked there), as does ``outbox_dead``.
        ``node``: the lease holder (None: an entry no node holds, as a tool
        or a test finishes it); ``LeaseLost`` when it holds none, or the entry
        is finished already (a visitor's return marked it sent).

        Lock: with an ``external_id``, the receipt's advisory lock (kind 1,
        ``channel || ':' || external_id``, the channel being the entry's
        message's, which never changes; ``router.store.base``) before any
        row, held to the commit. It is the lock ``record_delivery`` takes, so
        a receipt racing this answer is either kept before the kept receipts
        are read here, or finds the external id stored here once this
        commits. Then the entry's ``outbox`` row ``FOR UPDATE`` (its lease
        holder is checked, its attempts read and written) and its message's
        row."""

    @abstractmethod
    async def outbox_part_sent(
        self, entry_id: str, parts_sent: int, external_id: str | None, node: str | None = None
    ) -> None:
        """``parts_sent`` of the platform calls of a message sent in parts went
        out (the latest as ``external_id``): kept, so a retry, even after a
        restart or on another node, resumes after them
        (``router.connector.SendProgress``). ``LeaseLost`` when ``node`` no
        longer holds the entry: the send stops, its new holder goes on.

        Single statement: an UPDATE of a pending entry held by ``node`` only."""

    @abstractmethod
    async def outbox_retry(
        self, entry_id: str, attempts: int, next_attempt_at: datetime, error: str, node: str | None = None
    ) -> None:
        """The send failed and is tried again at ``next_attempt_at``; the
        lease is given up (a retry is no resend). ``LeaseLost`` when ``node``
        no longer holds the entry, or it is finished already.

        Single statement: an UPDATE of the entry held by ``node`` with the
        caller's values."""

    @abstractmethod
    async def outbox_dead(
        self, entry_id: str, attempts: int, reason: str, now: datetime, node: str | None = None
    ) -> Message:
        """Given up: the entry is dead and its message failed with ``reason``.
        ``LeaseLost`` when ``node`` no longer holds the entry, or it is
        finished already (a reply the visitor got stays sent).

        Lock: the entry's ``outbox`` row ``FOR UPDATE`` from the read of its
        lease holder and message to the writes, then its message's row."""

    @abstractmethod
    async def outbox_wait(self, entry_id: str, node: str | None = None) -> None:
        """Its recipient is not there (``router.connector.RecipientAway``): the
        entry leaves the pending queue and waits for ``outbox_reached``; its
        message stays pending, no attempt counted, the lease given up. Nothing
        when ``node`` no longer holds it, or it is no longer pending (another
        node marked it sent meanwhile: it stays sent).

        Single statement: an UPDATE of the entry while it is still pending and
        held by ``node``."""

    @abstractmethod
    async def outbox_reached(self, channel: str, recipient: str, message_ids: list[str],
                             now: datetime) -> list[Message]:
        """The recipient has these messages now (``ConnectorHost.reached``):
        each of their entries to ``recipient`` on ``channel`` that waits or is
        pending is sent, as ``outbox_sent`` without an external id (whichever
        node holds its lease: the recipient has it, whoever sent it); the
        messages that changed.

        Lock: each matching ``outbox`` row ``FOR UPDATE`` (re-read as still
        waiting or pending), then its message's row, as ``outbox_sent``."""
