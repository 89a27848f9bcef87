"""The reports as the API asks for them: a range, a grouping, the figures
(``figures``) over the event log and the ratings of the store, with each
team's first-response target and opening hours from rules.yaml.

A report of a year can cover millions of events: the node reads the cycles
that started in the range (``conversation_cycles``, one row each, folded by the
database as the events were written: ``router.reports.cycles``) a few thousand
at a time (memory stays bounded by a page and the figures' per-cycle values)
and counts each page in a worker thread, so the
event loop keeps answering; one report is counted at a time per node (another
asked meanwhile is refused, ``ReportBusy``: the API's 429 with Retry-After), so a
burst of reports can neither take every core nor pile up in memory."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, tzinfo

from router.reports.events import ConversationEvent, CycleFacts
from router.reports.figures import Counting, GroupBy, Queues, Report
from router.reports.gc_pause import paused
from router.reports.store import ReportStore, cursor
from router.routing.rules.calendar import Hours
from router.routing.rules.engine import RuleSet

MAX_RANGE = timedelta(days=366)
CHUNK = 500  # conversations whose events are read at a time (the Prometheus follower's)
PAGE = 5000  # cycles (one narrow row each) read and counted at a time


def batched(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for at in range(0, len(items), size):
        yield items[at:at + size]


class RangeRefused(ValueError):
    """A range the reports do not count: backwards, or longer than MAX_RANGE."""


def queue_lookup(ruleset: RuleSet | None, team: str | None) -> tuple[float | None, Hours | None]:
    """A team's first-response target (seconds) and opening hours in ``ruleset``."""
    if ruleset is None:
        return None, None
    target = ruleset.queue(team).first_response
    return (float(target) if target is not None else None), ruleset.queue_hours(team)


def queues_of(ruleset: RuleSet | None, events: Iterable[ConversationEvent]) -> Queues:
    """The target and the hours of the queue of every team the events name."""
    targets: dict[str | None, float] = {}
    hours: dict[str | None, Hours] = {}
    for team in {e.team for e in events}:
        target, open_hours = queue_lookup(ruleset, team)
        if target is not None:
            targets[team] = target
        if open_hours is not None:
            hours[team] = open_hours
    return Queues(targets, hours)


def _counted(counting: Counting, page: list[CycleFacts]) -> None:
    with paused():
        counting.cycles(page)


class ReportBusy(RuntimeError):
    """Another report is being counted on this node: ask again in a moment."""


class Reports:
    """One per node (``lock``: one report counted at a time)."""

    def __init__(self, store: ReportStore, ruleset: Callable[[], RuleSet | None],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.ruleset = ruleset  # the rules in force (they reload)
        self.clock = clock
        self.lock = asyncio.Lock()

    async def figures(self, since: datetime, until: datetime, group_by: GroupBy, zone: tzinfo = UTC) -> Report:
        if until <= since:
            raise RangeRefused("until must be after since")
        if until - since > MAX_RANGE:
            raise RangeRefused(f"a report covers at most {MAX_RANGE.days} days")
        if self.lock.locked():
            raise ReportBusy("another report is being counted: try again in a moment")
        async with self.lock:
            # the rules are read on the worker thread, once per team, when a cycle of the team is counted
            rules: list[RuleSet | None] = []

            def lookup(team: str | None) -> tuple[float | None, Hours | None]:
                if not rules:
                    rules.append(self.ruleset())
                return queue_lookup(rules[0], team)

            counting = Counting(group_by, since, until, Queues(lookup=lookup), self.clock(), zone)
            await self._count(counting, since, until)
            ratings = await self.store.ratings(since, until)
            await asyncio.to_thread(counting.ratings, ratings)
            return counting.report()

    async def _count(self, counting: Counting, since: datetime, until: datetime) -> None:
        """Count the cycles page by page, the next page read while this one is counted (the read waits on
        the database, the count on the CPU): at most two pages in memory."""
        reading: asyncio.Future[list[CycleFacts]] | None = asyncio.ensure_future(
            self.store.cycles(since, until, None, PAGE))
        try:
            while reading is not None:
                page = await reading
                reading = (asyncio.ensure_future(self.store.cycles(since, until, cursor(page[-1]), PAGE))
                           if len(page) == PAGE else None)
                if page:
                    await asyncio.to_thread(_counted, counting, page)
        finally:
            if reading is not None:  # the count failed or was cancelled: the read ahead is not needed
                reading.cancel()
