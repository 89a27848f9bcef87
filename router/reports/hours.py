"""Business time: how much of an interval a queue's calendar (rules.yaml's
``calendars``, named by the queue's ``hours``) was open."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from router.routing.rules.calendar import Hours
from router.routing.rules.schema import END_OF_DAY


def open_seconds(hours: Hours, start: datetime, end: datetime) -> float:
    """Seconds of [start, end) during which ``hours`` is open: each local day's
    opening ranges (none on a holiday) clipped to the interval. Days are the
    calendar's own, so a change of UTC offset moves its ranges with it."""
    if end <= start:
        return 0.0
    total = 0.0
    day = start.astimezone(hours.zone).date()
    last = end.astimezone(hours.zone).date()
    while day <= last:
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=hours.zone)
        for opens, closes in hours._ranges(noon):
            begin = max(start, datetime.combine(day, opens, hours.zone))
            closing = (datetime.combine(day + timedelta(days=1), time(0), hours.zone) if closes == END_OF_DAY
                       else datetime.combine(day, closes, hours.zone))
            finish = min(end, closing)
            if finish > begin:
                total += (finish - begin).total_seconds()
        day += timedelta(days=1)
    return total
