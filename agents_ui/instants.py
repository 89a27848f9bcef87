"""A moment the API is given (a filter's bounds, a snooze's end, a page's
cursor): with its timezone, turned to UTC, and inside the years the stores
can hold. Python's datetime ends at year 9999 and starts at year 1, so a
well-formed "0001-01-01T00:00:00+01:00" overflows when turned to UTC, and
PostgreSQL refuses what SQLite's fixed-width text cannot order: every such
input is refused here, as bad input (a 400/422), never a 500 deep in a store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

# the years any moment of the service can be in: a day's or a report period's sums stay inside
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def in_utc(value: datetime) -> datetime:
    """``value`` in UTC; a ValueError when it has no timezone or lies outside [EARLIEST, LATEST)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a time needs its timezone")
    try:
        moment = value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"a time between {EARLIEST.year} and {LATEST.year}") from None
    if not EARLIEST <= moment < LATEST:
        raise ValueError(f"a time between {EARLIEST.year} and {LATEST.year}")
    return moment


# the type of every moment a request carries
Instant = Annotated[AwareDatetime, AfterValidator(in_utc)]
