"""Opening hours: is a calendar open at an instant, and when does it open next."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from router.routing.rules.schema import END_OF_DAY, Calendar

SEARCH_DAYS = 400  # a calendar closed for longer than this never opens


class Hours:
    """A calendar compiled for quick questions."""

    def __init__(self, calendar: Calendar) -> None:
        self.zone = ZoneInfo(calendar.timezone)
        self.week = calendar.week()
        self.holidays = frozenset(calendar.holidays)

    def _ranges(self, day: datetime) -> list[tuple[time, time]]:
        if day.date() in self.holidays:
            return []
        return self.week.get(day.weekday(), [])

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.zone)
        now = local.time()
        return any(start <= now and (now < end or end == END_OF_DAY) for start, end in self._ranges(local))

    def next_opening(self, at: datetime) -> datetime | None:
        """``at`` itself when open, else the start of the next opening, in the
        calendar's zone; None when it never opens."""
        if self.is_open(at):
            return at.astimezone(self.zone)
        local = at.astimezone(self.zone)
        for offset in range(SEARCH_DAYS):
            day = local + timedelta(days=offset)
            for start, _ in self._ranges(day):
                opening = datetime.combine(day.date(), start, self.zone)
                if opening > local:
                    return opening
        return None

    def open_seconds(self, since: datetime, until: datetime) -> float:
        """How long the calendar was open between ``since`` and ``until``: a
        first-response target counts open time, not the night before."""
        start, end = since.astimezone(self.zone), until.astimezone(self.zone)
        total = 0.0
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        for _ in range(SEARCH_DAYS):
            if day > end:
                break
            for opens, closes in self._ranges(day):
                begin = datetime.combine(day.date(), opens, self.zone)
                finish = (datetime.combine(day.date(), time(), self.zone) + timedelta(days=1) if closes == END_OF_DAY
                          else datetime.combine(day.date(), closes, self.zone))
                overlap = (min(finish, end) - max(begin, start)).total_seconds()
                total += max(0.0, overlap)
            day = datetime.combine(day.date() + timedelta(days=1), time(), self.zone)
        return total
