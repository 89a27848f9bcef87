"""The outbox's leases, as rules every backend's SQL asks (plain Python, so a
backend stores leases without deciding anything), and its rows as both
backends read them.

A claim leases an entry to one node (``lease_owner``) until a deadline
(``lease_until``). Finishing (sent, dead) keeps the owner, as who finished
it, and drops the deadline; a retry gives the lease up. So a pending entry
with a deadline was claimed and not finished: if a claim finds the deadline
passed, the node that held it died or stalled mid-send."""

from __future__ import annotations

from datetime import datetime

from router.models import OutboundMessage, OutboxEntry
from router.outbox.store import LeaseLost
from router.store.rows import RowLike
from router.store.rows import from_ts as _ts


def check_holder(entry_id: str, owner: str | None, node: str | None, status: str = "pending") -> None:
    """Only the entry's lease holder finishes it, and only while it is
    unfinished, pending or waiting for its recipient (a site-chat reply a
    visitor's return marked sent while its send was failing stays sent);
    ``node`` None finishes an entry no node holds (a tool, a test)."""
    if status not in ("pending", "waiting"):
        raise LeaseLost(f"outbox entry {entry_id} is {status} already")
    if owner != node:
        raise LeaseLost(f"outbox entry {entry_id} is not leased to {node or 'the caller'}")


def resumed(lease_until: str | datetime | None) -> bool:
    """Whether a claimed entry had been claimed before and never finished
    (its lease had expired, or was its own node's from before a restart):
    the platform may have it already."""
    return lease_until is not None


def entry_row(r: RowLike) -> OutboxEntry:
    """An ``outbox`` row, from sqlite3 or asyncpg (``jsonb`` comes back as its text)."""
    return OutboxEntry(
        id=r["id"],
        message_id=r["message_id"],
        conversation_id=r["conversation_id"],
        payload=OutboundMessage.model_validate_json(r["payload"]),
        attempts=r["attempts"],
        next_attempt_at=_ts(r["next_attempt_at"]),
        status=r["status"],
        last_error=r["last_error"],
        parts_sent=r["parts_sent"],
        part_external_id=r["part_external_id"],
    )
