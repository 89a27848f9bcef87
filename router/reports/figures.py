"""The figures, counted from the event log by plain rules (the README's
"Reports" section defines each one; this is that definition in code). They
are counted from each cycle's facts (``router.reports.cycles``: what a cycle's
events come to, folded as they are written), so a report reads one row per
cycle, not every event; ``Cycle``/``cycles`` keep each cycle's events for the
Prometheus follower.

A conversation's *cycle* runs from its ``opened`` (or ``reopened``) event to
the next ``resolved``; a reopened conversation is a new cycle, counted again.
- first response: from the cycle's first ``queued``/``assigned`` event (a
  person was asked for: opened in a queue, or the bot's handoff), or from a
  reopening not to the bot, to its ``first_reply``; a cycle the bot kept has none;
- resolution: from the cycle's start to its ``resolved``;
- SLA: a first response within its team's ``first_response`` target is met; a
  later one missed; a cycle with no reply is missed when its target passed before
  its clock stopped (the earliest of its ``resolved``, the end of the range and
  now), else neither (a cycle resolved unanswered within its target is not judged);
  a snooze does not stop the clock (the customer still waits);
- wait: each stay in a queue, from ``queued`` to the next ``assigned``;
- bot: a cycle opened to the bot (or handed to it) is contained when it is
  resolved with no ``handoff`` anywhere in it;
- a ``merged`` event (the conversation folded into another by a merge) ends a
  cycle without resolving it: no resolution, containment (it is not among the
  bot's cycles either) nor SLA is counted of it, its handoffs are; an
  ``unmerged`` one starts nothing: the conversation is back as it was, its
  cycle goes on and is judged as any other;
- percentiles are nearest-rank (the smallest value with at least p% of the
  values at or below it), so each one is a value that happened.
First response and wait count business time: a queue with opening ``hours``
(rules.yaml) runs their clocks only while its calendar is open (its team's at
the start of the clock); resolution time is wall-clock."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from itertools import groupby
from operator import attrgetter

from router.reports.cycles import fold
from router.reports.events import ConversationEvent, CycleFacts, Kind, Rating
from router.reports.hours import open_seconds
from router.routing.rules.calendar import Hours


class GroupBy(StrEnum):
    DAY = "day"
    HOUR = "hour"
    TEAM = "team"
    CHANNEL = "channel"
    AGENT = "agent"
    TIER = "tier"


NONE = "-"  # the group of a figure with no team, agent or tier


def percentile(values: list[float], p: float) -> float | None:
    """Nearest rank: the value at rank ceil(p/100 * n) of the sorted values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


@dataclass(slots=True)
class Cycle:
    """One conversation from (re)opening to resolving, as the figures see it."""

    conversation_id: str
    start: ConversationEvent
    events: list[ConversationEvent] = field(default_factory=list)
    # the first event of each kind, kept as the events are added (a report asks a few per cycle)
    firsts: dict[Kind, ConversationEvent] = field(default_factory=dict)

    def add(self, event: ConversationEvent) -> None:
        self.events.append(event)
        self.firsts.setdefault(event.kind, event)

    def first(self, *kinds: Kind) -> ConversationEvent | None:
        found = [e for e in map(self.firsts.get, kinds) if e is not None]
        return min(found, key=_seq) if found else None


_order = attrgetter("conversation_id", "seq")
_seq = attrgetter("seq")
_conversation = attrgetter("conversation_id")


def cycles(events: Iterable[ConversationEvent]) -> list[Cycle]:
    """The events of each conversation (in seq order) cut into cycles."""
    found: list[Cycle] = []
    # the store reads them in this order already: sorting sorted data is one cheap pass
    ordered = sorted(events, key=_order)
    for conversation_id, own in groupby(ordered, key=_conversation):
        current: Cycle | None = None
        for event in own:
            if event.kind in (Kind.OPENED, Kind.REOPENED):
                current = Cycle(conversation_id, event)
                found.append(current)
            if current is not None:
                current.add(event)
    return found


@dataclass(slots=True)
class Row:
    """The figures of one group."""

    group: str
    opened: int = 0
    reopened: int = 0
    resolved: int = 0
    first_response: list[float] = field(default_factory=list)
    resolution: list[float] = field(default_factory=list)
    wait: list[float] = field(default_factory=list)
    sla_met: int = 0
    sla_missed: int = 0
    bot: int = 0
    bot_contained: int = 0
    handoffs: int = 0
    transfers_team: int = 0
    transfers_agent: int = 0
    ratings: list[int] = field(default_factory=list)

    def figures(self) -> dict[str, str | int | float | None]:
        judged = self.sla_met + self.sla_missed
        return {
            "group": self.group, "opened": self.opened, "reopened": self.reopened, "resolved": self.resolved,
            "first_response_p50": percentile(self.first_response, 50),
            "first_response_p90": percentile(self.first_response, 90),
            "resolution_p50": percentile(self.resolution, 50), "resolution_p90": percentile(self.resolution, 90),
            "sla_met": self.sla_met, "sla_missed": self.sla_missed,
            "sla_attainment": round(self.sla_met / judged, 4) if judged else None,
            "bot": self.bot, "bot_contained": self.bot_contained, "handoffs": self.handoffs,
            "bot_containment": round(self.bot_contained / self.bot, 4) if self.bot else None,
            "transfers_team": self.transfers_team, "transfers_agent": self.transfers_agent,
            "wait_p50": percentile(self.wait, 50), "wait_p90": percentile(self.wait, 90),
            "csat_count": len(self.ratings),
            "csat_average": round(sum(self.ratings) / len(self.ratings), 4) if self.ratings else None,
            "csat_satisfied": round(sum(r >= 4 for r in self.ratings) / len(self.ratings), 4) if self.ratings else None,
        }


COLUMNS = tuple(Row("").figures())


@dataclass(slots=True)
class Report:
    since: datetime
    until: datetime
    group_by: GroupBy
    rows: list[dict[str, str | int | float | None]]
    handoff_reasons: dict[str, int]


Key = Callable[[datetime, str | None, str, str | None, str | None], str]  # (at, team, channel, tier, agent)


def _local(zone: tzinfo, hourly: bool) -> Key:
    """A day's or an hour's name in ``zone``: named once per local day (or hour), found by its number."""
    names: dict[int, str] = {}

    def key(at: datetime, team: str | None, channel: str, tier: str | None, agent: str | None) -> str:
        local = at.astimezone(zone)
        number = local.toordinal() * 24 + local.hour if hourly else local.toordinal()
        name = names.get(number)
        if name is None:  # the ISO text's first characters, cheaper than strftime
            name = names[number] = local.isoformat()[:13] + ":00" if hourly else local.isoformat()[:10]
        return name

    return key


def _keys(group_by: GroupBy, zone: tzinfo) -> Key:
    """How a figure's group is named: chosen once per report, called per figure."""
    match group_by:
        case GroupBy.DAY:
            return _local(zone, hourly=False)
        case GroupBy.HOUR:
            return _local(zone, hourly=True)
        case GroupBy.TEAM:
            return lambda at, team, channel, tier, agent: team or NONE
        case GroupBy.CHANNEL:
            return lambda at, team, channel, tier, agent: channel
        case GroupBy.AGENT:
            return lambda at, team, channel, tier, agent: agent or NONE
        case GroupBy.TIER:  # in lower case, as the rules and the wallboard read it: a CRM's 'Gold' is 'gold'
            return lambda at, team, channel, tier, agent: (tier or "").lower() or NONE


def _seconds(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds()


class Queues:
    """What rules.yaml says of each team's queue: its first-response target
    (seconds) and its opening hours; given as dicts, or looked up in the rules
    (``lookup``: team -> (target, hours)) the first time a team is counted."""

    def __init__(self, targets: dict[str | None, float] | None = None,
                 hours: dict[str | None, Hours] | None = None,
                 lookup: Callable[[str | None], tuple[float | None, Hours | None]] | None = None) -> None:
        self._targets = dict(targets or {})
        self._hours = dict(hours or {})
        self._lookup = lookup
        self._known: set[str | None] = set()

    def _learn(self, team: str | None) -> None:
        if self._lookup is None or team in self._known:
            return
        self._known.add(team)
        target, hours = self._lookup(team)
        if target is not None:
            self._targets[team] = target
        if hours is not None:
            self._hours[team] = hours

    def target(self, team: str | None) -> float | None:
        self._learn(team)
        return self._targets.get(team)

    def business(self, team: str | None, start: datetime, end: datetime) -> float:
        self._learn(team)
        hours = self._hours.get(team)
        return _seconds(start, end) if hours is None else open_seconds(hours, start, end)


class Counting:
    """Adds each cycle's figures to the rows of its groups. ``now`` stops the
    clock of what is still running (a range that ends in the future); days and
    hours are cut in ``zone``."""

    def __init__(self, group_by: GroupBy, since: datetime, until: datetime, queues: Queues,
                 now: datetime | None = None, zone: tzinfo = UTC) -> None:
        self.group_by = group_by
        self.since = since
        self.until = until
        self.stop = until if now is None else min(until, now)
        self.queues = queues
        self.zone = zone
        self.key = _keys(group_by, zone)
        self.rows: dict[str, Row] = {}
        self.reasons: Counter[str] = Counter()

    def row(self, at: datetime, team: str | None, channel: str, tier: str | None, agent: str | None) -> Row:
        key = self.key(at, team, channel, tier, agent)
        found = self.rows.get(key)
        if found is None:
            found = self.rows[key] = Row(key)
        return found

    def conversations(self, events: Iterable[ConversationEvent]) -> None:
        """Count the cycles of these conversations' events that started in the range."""
        self.cycles(fold(events))

    def cycles(self, found: Iterable[CycleFacts]) -> None:
        """Count these cycles, those that started in the range."""
        for cycle in found:
            if self.since <= cycle.start_at < self.until:
                self.add(cycle)

    def ratings(self, ratings: Iterable[Rating]) -> None:
        for r in ratings:  # a rating is placed at its answer's time (its group: day, team...)
            self.row(r.answered_at, r.team, r.channel, r.tier, r.agent_id).ratings.append(r.rating)

    def report(self) -> Report:
        rows = [self.rows[k].figures() for k in sorted(self.rows)]
        return Report(self.since, self.until, self.group_by, rows, dict(sorted(self.reasons.items())))

    def add(self, cycle: CycleFacts) -> None:
        resolved = cycle.resolved_at
        replied = cycle.replied_at
        owner = cycle.replied_agent if replied is not None else (cycle.resolved_agent if resolved is not None else None)
        row = self.row(cycle.start_at, cycle.team, cycle.channel, cycle.tier, owner)
        if cycle.reopened:
            row.reopened += 1
        else:
            row.opened += 1
        if resolved is not None:
            row.resolved += 1
            row.resolution.append(_seconds(cycle.start_at, resolved))
        if not cycle.merged:  # folded into another: its own clocks are no figure
            self._first_response(cycle, row)
        if cycle.with_bot:
            self._bot(cycle, row)
        if cycle.stays or cycle.transfers:
            self._queues(cycle, owner)

    def _first_response(self, cycle: CycleFacts, row: Row) -> None:
        # a person is asked for: in a queue or assigned, or at a reopening that is not the bot's
        asked, team = cycle.asked_at, cycle.asked_team
        if asked is None:
            return
        target = self.queues.target(team)
        if cycle.replied_at is not None:
            taken = self.queues.business(team, asked, cycle.replied_at)
            row.first_response.append(taken)
            if target is not None:
                if taken <= target:
                    row.sla_met += 1
                else:
                    row.sla_missed += 1
            return
        if target is None:
            return
        # unanswered: its clock stops when it is resolved, at the range's end, or now, whichever comes first
        stop = self.stop if cycle.resolved_at is None else min(self.stop, cycle.resolved_at)
        if self.queues.business(team, asked, stop) > target:
            row.sla_missed += 1

    def _bot(self, cycle: CycleFacts, row: Row) -> None:
        handoffs = cycle.handoffs
        row.handoffs += len(handoffs)
        self.reasons.update(reason or NONE for reason in handoffs)
        if cycle.merged:  # folded into another, never resolved: the bot could not contain it, nor fail to
            return
        row.bot += 1
        # contained: resolved by the bot, with no handoff anywhere in the cycle (a person had it before)
        if cycle.resolved_at is not None and cycle.resolved_prev_status == "bot" and not handoffs:
            row.bot_contained += 1

    def _queues(self, cycle: CycleFacts, owner: str | None) -> None:
        for stay in cycle.stays:
            self.row(stay.queued_at, stay.team, stay.channel, stay.tier, stay.agent_id).wait.append(
                self.queues.business(stay.team, stay.queued_at, stay.assigned_at))
        for moved in cycle.transfers:
            row = self.row(moved.at, moved.team, moved.channel, moved.tier,
                           moved.agent_id if moved.how == "agent" else owner)
            if moved.how == "agent":
                row.transfers_agent += 1
            else:
                row.transfers_team += 1


def report(events: Iterable[ConversationEvent], ratings: Iterable[Rating], since: datetime, until: datetime,
           group_by: GroupBy, queues: Queues, now: datetime | None = None, zone: tzinfo = UTC) -> Report:
    """The figures of the cycles that started in [since, until), by group."""
    counting = Counting(group_by, since, until, queues, now, zone)
    counting.conversations(events)
    counting.ratings(ratings)
    return counting.report()
