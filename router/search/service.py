"""The rules of search, labels and snooze, in plain Python (no database): what
a query may ask, the cursor a page ends with, what a label may be called,
until when a conversation may be snoozed. Each backend's SQL
(``router.search.sqlite``, ``router.search.postgres``) asks these."""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from router.controls import control_character
from router.models import ConversationStatus
from router.search.terms import query_terms

MAX_QUERY = 200  # characters of a query: a search box, not a document
MAX_TERMS = 12  # terms of a query a search ANDs together
MAX_LIMIT = 100  # results a page may hold
MAX_POSITION = 2**63 - 1  # a position is a signed 64-bit integer on both backends
MAX_LABEL = 40  # characters of a label's name
MAX_LABELS = 20  # labels on one conversation
MAX_SNOOZE = timedelta(days=366)  # how far ahead a snooze may end


class SearchError(ValueError):
    """A query, label or snooze refused, with a code of its own (the API's
    error code, the console's catalogue key) and the details its text needs."""

    def __init__(self, code: str, message: str, **details: object) -> None:
        super().__init__(message)
        self.code = code
        self.details = details


class Kind(StrEnum):
    MESSAGES = "messages"
    CONVERSATIONS = "conversations"
    CUSTOMERS = "customers"


# the console's "open" view: every state but resolved
OPEN = "open"


@dataclass(frozen=True, slots=True)
class Filters:
    """What a search or a view is narrowed to (all given ones at once)."""

    statuses: tuple[ConversationStatus, ...] = ()
    team: str | None = None
    channel: str | None = None
    label: str | None = None
    # an agent's id; "" for nobody's
    assignee: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    # True: only snoozed conversations; False: none of them; None: either
    snoozed: bool | None = None

    @property
    def any(self) -> bool:
        return bool(self.statuses) or any(v is not None for v in (
            self.team, self.channel, self.label, self.assignee, self.since, self.until, self.snoozed))


@dataclass(frozen=True, slots=True)
class Search:
    """A checked query: its terms (empty for a view of conversations), the
    filters, where the previous page ended (None: the first page) and how
    many results a page holds."""

    kind: Kind
    terms: tuple[str, ...] = ()
    # the query as typed (trimmed)
    text: str = ""
    filters: Filters = field(default_factory=Filters)
    after: int | None = None
    limit: int = 20


def statuses_of(value: str | None) -> tuple[ConversationStatus, ...]:
    if value is None or value == "":
        return ()
    if value == OPEN:
        return tuple(s for s in ConversationStatus if s is not ConversationStatus.RESOLVED)
    try:
        return (ConversationStatus(value),)
    except ValueError:
        raise SearchError("bad_status", f"no status {value!r}", status=value) from None


def make_search(kind: Kind, text: str | None, filters: Filters, cursor: str | None, limit: int) -> Search:
    """``SearchError`` for a query too long, with no words, missing where
    words are needed, a bad date range, cursor or limit."""
    text = (text or "").strip()
    if len(text) > MAX_QUERY:
        raise SearchError("query_too_long", f"a query is at most {MAX_QUERY} characters", max=MAX_QUERY)
    terms = tuple(query_terms(text)) if text else ()
    if text and not terms:
        raise SearchError("query_no_words", "the query has no letters or digits to search for")
    if terms and kind is Kind.MESSAGES:
        terms = tuple(query_terms(text, drop_stop_words=True))
        if not terms:
            raise SearchError("query_only_stop_words", "the query has only words too common to search by")
    if not terms and kind is not Kind.CONVERSATIONS:
        raise SearchError("query_empty", f"searching {kind.value} needs words to search for")
    if len(terms) > MAX_TERMS:
        raise SearchError("query_too_many_words", f"a query has at most {MAX_TERMS} words", max=MAX_TERMS)
    if kind is Kind.CUSTOMERS and filters.any:
        raise SearchError("filters_not_for_customers", "filters narrow messages and conversations, not customers")
    for bound in (filters.since, filters.until):
        if bound is not None and not _in_utc_range(bound):
            raise SearchError("bad_date", "a date must lie between the years 1 and 9999 in UTC")
    if filters.since and filters.until and filters.since >= filters.until:
        raise SearchError("bad_date_range", "the range's start must come before its end")
    if not 1 <= limit <= MAX_LIMIT:
        raise SearchError("bad_limit", f"a page holds 1 to {MAX_LIMIT} results", max=MAX_LIMIT)
    return Search(kind, terms, text, filters, read_cursor(kind, cursor), limit)


def _in_utc_range(moment: datetime) -> bool:
    """Whether the moment has a UTC time (0001-01-01T00:00+05:00 has none)."""
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return False
    return True


def write_cursor(kind: Kind, position: int) -> str:
    """Where a page ended: an insertion position (SQLite's rowid, PostgreSQL's
    seq), so the next page starts there whatever was added since."""
    raw = json.dumps([kind.value, position], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_cursor(kind: Kind, cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        named, position = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise SearchError("bad_cursor", "the cursor is not one a search gave") from None
    if named != kind.value or not isinstance(position, int) or isinstance(position, bool) \
            or not 0 <= position <= MAX_POSITION:
        raise SearchError("bad_cursor", "the cursor is not one a search of this kind gave")
    return position


def label_name(raw: str) -> str:
    """A label's name as kept: trimmed, in Unicode's composed form; 1 to
    ``MAX_LABEL`` characters without control characters."""
    name = unicodedata.normalize("NFC", raw.strip())
    if not name:
        raise SearchError("label_empty", "a label needs a name")
    if len(name) > MAX_LABEL:
        raise SearchError("label_too_long", f"a label is at most {MAX_LABEL} characters", max=MAX_LABEL)
    if control_character(name) is not None:
        raise SearchError("label_bad_characters", "a label may not hold control characters or line breaks")
    return name


def snooze_until(until: datetime, now: datetime) -> datetime:
    """``SearchError`` for a time that has passed or is over a year ahead."""
    if until.tzinfo is None:
        raise SearchError("snooze_no_timezone", "give the time with its timezone (…Z or …+03:00)")
    if until <= now:
        raise SearchError("snooze_in_past", "a snooze must end in the future")
    if until - now > MAX_SNOOZE:
        raise SearchError("snooze_too_far", f"a snooze ends within {MAX_SNOOZE.days} days",
                          days=MAX_SNOOZE.days)
    return until
