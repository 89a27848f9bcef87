"""The platform's delivery receipts for an outbound message, as rules: plain
Python that every backend's transaction calls, so a second backend stores
receipts without deciding anything.

Receipts arrive late and out of order (a "sent" callback after "delivered"):
a message's delivery state only moves forward, pending < sent < delivered <
read, and ``failed`` ends an undelivered message. A receipt that outruns the
answer to the send call (its id is not stored yet) is kept for a while and
applied when the answer is stored."""

from __future__ import annotations

from datetime import datetime, timedelta

from router.models import Delivery

# a kept receipt whose message never shows up (another system sending on the same account) is forgotten
RECEIPT_KEEP = timedelta(days=1)

# the states each state may still become; once delivered, only read can follow
_NEXT: dict[Delivery, frozenset[Delivery]] = {
    Delivery.RECEIVED: frozenset(),
    Delivery.PENDING: frozenset({Delivery.SENT, Delivery.DELIVERED, Delivery.READ, Delivery.FAILED}),
    Delivery.SENT: frozenset({Delivery.DELIVERED, Delivery.READ, Delivery.FAILED}),
    Delivery.DELIVERED: frozenset({Delivery.READ}),
    Delivery.READ: frozenset(),
    Delivery.FAILED: frozenset(),
}


def moves_forward(current: Delivery, new: Delivery) -> bool:
    """Whether a message ``current``ly in one state takes a receipt saying
    ``new``: never back, never sideways, never again the same."""
    return new in _NEXT[current]


def supersedes(kept: Delivery | None, new: Delivery) -> bool:
    """Whether a receipt for a message not stored yet replaces the one kept
    for it (``kept``, None when there is none)."""
    return kept is None or moves_forward(kept, new)


def error_kept(state: Delivery, error: str | None) -> str | None:
    """The platform's reason is kept only with a failure: a message that is
    delivered or read after all shows no error."""
    return error if state is Delivery.FAILED else None


def forgotten_before(now: datetime) -> datetime:
    """Kept receipts received before this are dropped."""
    return now - RECEIPT_KEEP
