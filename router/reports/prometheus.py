"""The report's figures for Prometheus, as counters and histograms that
grow as things happen (``omnirouter_first_response_seconds``...), counted by
the same rules as the reports (``figures``): at each scrape of ``/metrics``
the node reads the event log from where it got to.

Each node follows the whole log (it is the cluster's), from its own start:
every node reports the cluster's figures, so aggregate across nodes with
``max without (node) (rate(...))``, never ``sum``."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram

from router.appkeys import ASSIGNER, METRICS, STORE
from router.reports.cycles import fold
from router.reports.events import ConversationEvent, Kind
from router.reports.figures import NONE, Cycle, Queues, cycles
from router.reports.schema import HANDOFF_CODES
from router.reports.service import CHUNK, batched, queues_of
from router.reports.store import ReportStore
from router.routing.rules.engine import RuleSet

log = logging.getLogger(__name__)

# from ten seconds to a day: first responses, waits and resolutions all fall in it
BUCKETS = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0)
BATCH = 1000


class ReportMetrics:
    def __init__(self, registry: CollectorRegistry, store: ReportStore,
                 ruleset: Callable[[], RuleSet | None]) -> None:
        self.store = store
        self.ruleset = ruleset
        self.cursor: str | None = None
        self.lock = asyncio.Lock()  # two scrapes at once read the log once
        self.opened = Counter("omnirouter_conversations_opened", "Conversations opened, by where routing sent them",
                              ["team", "channel", "route"], registry=registry)
        self.reopened = Counter("omnirouter_conversations_reopened", "Resolved conversations opened again",
                                ["team", "channel"], registry=registry)
        self.resolved = Counter("omnirouter_conversations_resolved",
                                "Conversations resolved; by=bot: the bot kept it to the end (contained)",
                                ["team", "channel", "by"], registry=registry)
        self.handoffs = Counter("omnirouter_bot_handoffs", "The bot handed a conversation to a person, and why",
                                ["team", "reason"], registry=registry)
        self.transfers = Counter("omnirouter_transfers", "Conversations transferred to another team or agent",
                                 ["team", "to"], registry=registry)
        self.sla = Counter("omnirouter_first_response_sla", "First responses within their queue's target, or not",
                           ["team", "result"], registry=registry)
        self.first_response = Histogram(
            "omnirouter_first_response_seconds", "From a person being asked for to an agent's first reply "
            "(business time in a queue with opening hours)", ["team", "channel"], buckets=BUCKETS, registry=registry)
        self.resolution = Histogram("omnirouter_resolution_seconds", "From (re)opening to resolving, wall-clock",
                                    ["team", "channel"], buckets=BUCKETS, registry=registry)
        self.wait = Histogram("omnirouter_queue_wait_seconds", "Each wait in a queue until an agent took it or an "
                              "offer stuck (a lapsed one does not end it), by the customer's tier", ["team", "tier"],
                              buckets=BUCKETS, registry=registry)

    async def catch_up(self) -> None:
        """Count what the log gained since the last call (the first call only marks where it is)."""
        async with self.lock:
            if self.cursor is None:
                self.cursor = await self.store.event_cursor()
                return
            while True:
                found, self.cursor = await self.store.events_after(self.cursor, BATCH)
                if found:
                    await self._count(found)
                if len(found) < BATCH:
                    return

    async def _count(self, new: list[ConversationEvent]) -> None:
        fresh = {e.seq for e in new}
        # the whole history of each conversation touched, one read per batch (not one per conversation)
        every = [e for chunk in batched(sorted({e.conversation_id for e in new}), CHUNK)
                 for e in await self.store.events_of_many(chunk)]
        queues = queues_of(self.ruleset(), every)
        for cycle in cycles(every):
            for event in cycle.events:
                if event.seq in fresh:
                    self._event(cycle, event, queues)

    def _event(self, cycle: Cycle, event: ConversationEvent, queues: Queues) -> None:
        team = event.team or NONE
        match event.kind:
            case Kind.OPENED:
                self.opened.labels(team, event.channel, event.status).inc()
            case Kind.REOPENED:
                self.reopened.labels(team, event.channel).inc()
            case Kind.RESOLVED:
                self.resolved.labels(team, event.channel, "bot" if event.prev_status == "bot" else "agent").inc()
                self.resolution.labels(team, event.channel).observe((event.at - cycle.start.at).total_seconds())
            case Kind.HANDOFF:
                # a code of a bounded set (the log's), never text: the label's values stay few
                self.handoffs.labels(team, event.reason if event.reason in HANDOFF_CODES else NONE).inc()
            case Kind.TRANSFERRED:
                self.transfers.labels(team, event.how or NONE).inc()
            case Kind.FIRST_REPLY:
                self._first_reply(cycle, event, queues)
        self._stays(cycle, event, queues)

    def _first_reply(self, cycle: Cycle, event: ConversationEvent, queues: Queues) -> None:
        reopened = cycle.start.kind is Kind.REOPENED and cycle.start.status != "bot"
        asked = cycle.start if reopened else cycle.first(Kind.QUEUED, Kind.ASSIGNED)
        if asked is None:
            return
        taken = queues.business(asked.team, asked.at, event.at)
        self.first_response.labels(asked.team or NONE, event.channel).observe(taken)
        target = queues.target(asked.team)
        if target is not None:
            self.sla.labels(asked.team or NONE, "met" if taken <= target else "missed").inc()

    def _stays(self, cycle: Cycle, event: ConversationEvent, queues: Queues) -> None:
        """Each stay in a queue that ``event`` ended, by the reports' fold (``router.reports.cycles``): a
        take ends its stay at once, an offer only when the next event shows it stuck (not given back
        unopened), so a lapsed offer never cuts a customer's wait in two."""
        if event.kind not in (Kind.QUEUED, Kind.ASSIGNED) and not any(
                e.kind is Kind.ASSIGNED for e in cycle.events if e.seq < event.seq):
            return  # no offer nor assignment before it: it ends no stay (most events, few reads)
        before = fold([e for e in cycle.events if e.seq < event.seq])
        after = fold([e for e in cycle.events if e.seq <= event.seq])
        ended = after[0].stays[len(before[0].stays) if before else 0:] if after else ()
        for stay in ended:
            self.wait.labels(stay.team or NONE, (stay.tier or "").lower() or NONE).observe(
                queues.business(stay.team, stay.queued_at, stay.assigned_at))


# one per app, made at its first scrape (the store is open by then): kept beside the app rather than in its
# state, which is frozen once the app runs
_BY_APP: weakref.WeakKeyDictionary[web.Application, ReportMetrics] = weakref.WeakKeyDictionary()


def report_metrics(app: web.Application) -> ReportMetrics:
    if (found := _BY_APP.get(app)) is None:
        found = _BY_APP[app] = ReportMetrics(app[METRICS].registry, app[STORE],
                                             lambda: app[ASSIGNER].policy.ruleset)
    return found
