"""Whether people answer customers now, else when they will: what a chat's
status line says, so "online" is never read as "someone is there" after
hours. The office is the queue of the team that will answer the customer:
their open conversation's team once it is routed, before that the default
route's queue (the team a new customer reaches, or the bot's handoff team);
its opening hours when rules.yaml gives some, and whether one of the agents
who take that queue's new conversations is online (``Assigner.answerers``):
an agent of another team online is no one to answer this customer."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from router.connector import Availability
from router.models import AgentPresence, Presence
from router.routing.decide import Routing
from router.routing.rules.calendar import Hours
from router.routing.rules.engine import RulesRouting


def answering_team(routing: Routing, team: str | None = None) -> str | None:
    """``team`` (the customer's conversation is routed to it), else the
    default route's queue's (the bot's handoff's when the bot answers first);
    None: no team's queue."""
    if team is not None or not isinstance(routing, RulesRouting):
        return team
    route = routing.ruleset.config.default
    queue = route.queue if route.queue is not None else route.bot.then if route.bot is not None else None
    return queue.team if queue is not None else None


def office_hours(routing: Routing, team: str | None = None) -> Hours | None:
    """The opening hours of ``answering_team``'s queue; None: always open."""
    if not isinstance(routing, RulesRouting):
        return None
    return routing.ruleset.queue_hours(answering_team(routing, team))


def availability(hours: Hours | None, presence: Iterable[AgentPresence], now: datetime) -> Availability:
    """Closed: when it opens. Open: whether anyone is online to answer."""
    if hours is not None and not hours.is_open(now):
        return Availability(people_now=False, opens_at=hours.next_opening(now))
    return Availability(people_now=any(p.presence is Presence.ONLINE for p in presence))
