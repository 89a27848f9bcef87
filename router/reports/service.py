"""The reports as the API asks for them: a range, a grouping, the figures
(``figures``) over the event log and the ratings of the store, with each
team's first-response target and opening hours from rules.yaml."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from router.reports.events import ConversationEvent
from router.reports.figures import GroupBy, Queues, Report, report
from router.reports.store import ReportStore
from router.routing.rules.engine import RuleSet

MAX_RANGE = timedelta(days=366)


class RangeRefused(ValueError):
    """A range the reports do not count: backwards, or longer than MAX_RANGE."""


def queues_of(ruleset: RuleSet | None, events: list[ConversationEvent]) -> Queues:
    """The target and the hours of the queue of every team the events name."""
    queues = Queues()
    if ruleset is None:
        return queues
    for team in {e.team for e in events}:
        target = ruleset.queue(team).first_response
        if target is not None:
            queues.targets[team] = float(target)
        hours = ruleset.queue_hours(team)
        if hours is not None:
            queues.hours[team] = hours
    return queues


class Reports:
    def __init__(self, store: ReportStore, ruleset: Callable[[], RuleSet | None]) -> None:
        self.store = store
        self.ruleset = ruleset  # the rules in force (they reload)

    async def figures(self, since: datetime, until: datetime, group_by: GroupBy) -> Report:
        if until <= since:
            raise RangeRefused("until must be after since")
        if until - since > MAX_RANGE:
            raise RangeRefused(f"a report covers at most {MAX_RANGE.days} days")
        events = await self.store.conversation_events(since, until)
        ratings = await self.store.ratings(since, until)
        return report(events, ratings, since, until, group_by, queues_of(self.ruleset(), events))
