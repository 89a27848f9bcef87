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
from pydantic_core import PydanticCustomError

# the years any moment of the service can be in: a day's or a report period's sums stay inside
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


# the problems a moment or a period is refused with (details.problem of a 422 invalid), each with a
# text in the console's catalogues (invalid.<problem>), so the console says them in its own language
OUT_OF_RANGE, BACKWARDS = "time_out_of_range", "period_backwards"


def _out_of_range() -> PydanticCustomError:
    return PydanticCustomError(OUT_OF_RANGE, "a time between {earliest} and {latest}",
                               {"earliest": EARLIEST.year, "latest": LATEST.year})


def in_utc(value: datetime) -> datetime:
    """``value`` in UTC; refused when it has no timezone or lies outside [EARLIEST, LATEST)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError("timezone_aware", "a time needs its timezone")
    try:
        moment = value.astimezone(UTC)
    except OverflowError:
        raise _out_of_range() from None
    if not EARLIEST <= moment < LATEST:
        raise _out_of_range()
    return moment


def a_period(since: datetime, until: datetime) -> None:
    """Refuses a period that ends at or before its start (a report's, a list of surveys')."""
    if until <= since:
        raise PydanticCustomError(BACKWARDS, "until must be after since")


# the type of every moment a request carries
Instant = Annotated[AwareDatetime, AfterValidator(in_utc)]
