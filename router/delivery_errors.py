"""The delivery error tree a connector's ``send`` raises: the outbox decides
from the type what to do (retry, wait as asked, dead-letter, wait for the
recipient). Part of the connector contract: ``router.connector`` re-exports
every name, and connectors import them from there."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum


class Cause(StrEnum):
    """Why a message was not delivered, in an agent's terms: the console says it
    in their language (``delivery.cause.*`` of its catalogues) rather than the
    platform's words and codes, which stay in the stored reason after it."""

    BLOCKED = "blocked"  # the customer blocked us, or does not allow messages from us
    NO_RECIPIENT = "no_recipient"  # no such chat, user, number or mailbox (any more)
    UNSUBSCRIBED = "unsubscribed"  # the customer opted out (SMS STOP)
    WINDOW_CLOSED = "window_closed"  # a reply window (WhatsApp's 24 hours) has closed
    TOO_LONG = "too_long"  # the text is over the platform's limit
    TOO_LARGE = "too_large"  # a file or a mail over the platform's size limit
    REJECTED = "rejected"  # the platform or a carrier refused what the message holds
    ACCOUNT = "account"  # our own account: a token, a password, a setting
    UNAVAILABLE = "unavailable"  # the platform kept failing or did not answer (the last try's fault)


def with_cause(reason: str, cause: Cause | None) -> str:
    """A stored reason: ``[blocked] telegram: Forbidden: bot was blocked by the user``."""
    return reason if cause is None else f"[{cause}] {reason}"


class DeliveryError(Exception):
    """Sending failed. ``reason`` is what the agent is shown beside ``cause``
    (the platform's words: for support staff and the logs)."""

    def __init__(self, reason: str, cause: Cause | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.cause = cause


class TransientError(DeliveryError):
    """Worth retrying later (network, 5xx, timeouts)."""


class RateLimited(TransientError):
    def __init__(self, retry_after: float, reason: str = "rate limited") -> None:
        super().__init__(f"{reason} (retry after {retry_after:g}s)", Cause.UNAVAILABLE)
        self.retry_after = retry_after


def retry_after(value: str | None, default: float = 1.0) -> float:
    """An HTTP ``Retry-After`` in seconds: a number of them, or an HTTP date
    (RFC 9110 allows both; a date read as nothing retried while the limit held)."""
    if value is None:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return default
    if when.tzinfo is None:  # "-0000": UTC, as HTTP dates are
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class PermanentError(DeliveryError):
    """Retrying cannot help (blocked by user, bad recipient): dead-letter now."""


class RecipientAway(DeliveryError):
    """Nobody is there to take it now (a site-chat visitor with no open tab
    on any node). Not a failure: the message waits for them, never retried
    on a schedule and never dead-lettered for it, and is marked sent when the
    connector says they have it (``ConnectorHost.reached``)."""
