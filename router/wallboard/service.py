"""The wallboard's figures, in plain Python over ``WallboardStore`` and the
routing's own picture (teams.yaml and the console's routing profiles, the
queues' first-response targets). Every figure is defined in README.md,
"Live wallboard"; the definitions in short:

- queued: conversations waiting for an agent now (status queued, not snoozed);
- oldest_queued_at: the opening (``created_at``, or the reopening) of the longest waiting one;
  the longest wait is the snapshot's ``at`` minus it (the clock the
  first-response target counts on);
- assigned / bot: conversations with an agent / with the bot now (not snoozed); one with
  the bot counts in the team it would be handed to (the bot rule's ``then``);
- sla_breached: queued or assigned, not snoozed, no agent's reply yet, and
  open longer than their team's ``first_response`` (what the SLA sweep flags);
- valuable_waiting: queued, whose customer's tier or lifetime value makes them
  valuable by ``wallboard.valuable`` (the same facts as the rules');
- agents: online, away, and busy (online and holding at least one assigned
  conversation); load against capacity: the conversations the team's online
  agents hold of a channel kind against the sum of their capacities of it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, Field

from router.accounts.store import AccountStore
from router.agents.profiles import effective_agents
from router.agents.store import AgentAdminStore
from router.models import ConversationStatus, Presence
from router.routing.assignment import Policy
from router.routing.rules.facts import tier_of
from router.routing.rules.schema import AgentConfig
from router.routing.store import AssignmentStore
from router.wallboard.config import ValuableConfig
from router.wallboard.store import OpenCount, QueuedValue, SlaCount, WallboardStore


class BoardStore(WallboardStore, AssignmentStore, AccountStore, AgentAdminStore, Protocol):
    """The wallboard's reads, and the agents' presence, loads, accounts and profiles."""


# -- what the board shows (GET /api/wallboard, the wallboard.updated event) ----------------
class Figures(BaseModel):
    queued: int = Field(0, description="waiting for an agent now (not snoozed)")
    oldest_queued_at: datetime | None = Field(
        None, description="when the longest waiting one opened; the longest wait is `at` minus this")
    assigned: int = Field(0, description="with an agent now")
    bot: int = Field(0, description="with the bot now")
    sla_breached: int = Field(0, description="unanswered by an agent past the team's first-response target")
    valuable_waiting: int = Field(0, description="queued, of customers valuable by wallboard.valuable")

    def add(self, other: Figures) -> None:
        self.queued += other.queued
        self.assigned += other.assigned
        self.bot += other.bot
        self.sla_breached += other.sla_breached
        self.valuable_waiting += other.valuable_waiting
        self.oldest_queued_at = _earliest(self.oldest_queued_at, other.oldest_queued_at)


class ChannelFigures(Figures):
    channel: str


class AgentCounts(BaseModel):
    online: int = Field(0, description="presence online (busy ones included)")
    away: int = Field(0, description="presence away")
    busy: int = Field(0, description="online and holding at least one assigned conversation")


class Load(BaseModel):
    kind: str = Field(description="a channel kind (chat, email...)")
    load: int = Field(description="conversations of this kind the team's online agents hold")
    capacity: int = Field(description="the sum of those agents' capacities of this kind")


class TeamFigures(BaseModel):
    team: str | None = Field(description="null: conversations routed to no team")
    figures: Figures
    agents: AgentCounts
    loads: list[Load]
    channels: list[ChannelFigures]


class BotAlert(BaseModel):
    failing: bool = Field(False, description="the bot's answers fail on this node (router.bot.health): an outage")
    since: datetime | None = Field(None, description="when they began to fail")
    failed: int = Field(0, description="its failed answers in the judged window")
    answered: int = Field(0, description="its answers (failed or not) in the judged window")


class Snapshot(BaseModel):
    at: datetime = Field(description="when the figures were read")
    totals: Figures
    agents: AgentCounts = Field(description="every agent once, whatever their teams")
    teams: list[TeamFigures]
    bot: BotAlert = Field(default_factory=BotAlert, description="whether the bot's answers are failing")


@dataclass(frozen=True, slots=True)
class Computed:
    snapshot: Snapshot
    # when a figure changes without any event: the next unanswered conversation passes its target
    next_breach: datetime | None


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _number(value: Any) -> float:
    """As the rules' ``customer_ltv`` reads an attribute: 0 when it is no number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def is_valuable(tier: Any, lifetime_value: Any, valuable: ValuableConfig) -> bool:
    """The rules' ``customer_tier in tiers or customer_ltv >= min_ltv``, with their coercions."""
    if tier_of(tier) in valuable.tiers:  # both in lower case (ValuableConfig)
        return True
    return valuable.min_ltv is not None and _number(lifetime_value) >= valuable.min_ltv


# the agents' routing, accounts (username -> id), presence and loads
_AgentState = tuple[list[AgentConfig], dict[str, str], dict[str, Presence], dict[str, dict[str, int]]]


@dataclass
class _Team:
    figures: Figures = field(default_factory=Figures)
    channels: dict[str, ChannelFigures] = field(default_factory=dict)

    def channel(self, name: str) -> ChannelFigures:
        return self.channels.setdefault(name, ChannelFigures(channel=name))


class _Board:
    """The figures as they are gathered, by team then channel."""

    def __init__(self, teams: Iterable[str]) -> None:
        self.teams: dict[str | None, _Team] = {team: _Team() for team in teams}

    def channel(self, team: str | None, channel: str) -> ChannelFigures:
        return self.teams.setdefault(team, _Team()).channel(channel)

    def add_open(self, row: OpenCount) -> None:
        figures = self.channel(row.team, row.channel)
        if row.status is ConversationStatus.QUEUED:
            figures.queued += row.count
            figures.oldest_queued_at = _earliest(figures.oldest_queued_at, row.oldest)
        elif row.status is ConversationStatus.ASSIGNED:
            figures.assigned += row.count
        elif row.status is ConversationStatus.BOT:
            figures.bot += row.count


def sla_cutoffs(policy: Policy, rows: Iterable[OpenCount], now: datetime) -> dict[str | None, timedelta]:
    """The first-response target of each team that has queued or assigned conversations now and a target."""
    found: dict[str | None, timedelta] = {}
    for row in rows:
        if row.status in (ConversationStatus.QUEUED, ConversationStatus.ASSIGNED) and row.team not in found:
            target = policy.queue(row.team).first_response
            if target is not None:
                found[row.team] = timedelta(seconds=target)
    return found


def agent_figures(configs: list[AgentConfig], accounts: dict[str, str], presence: dict[str, Presence],
                  loads: dict[str, dict[str, int]], team: str | None) -> tuple[AgentCounts, list[Load]]:
    """The agents of ``team`` (every agent when None), by their presence; the online ones' load and capacity."""
    counts = AgentCounts()
    load: dict[str, int] = {}
    capacity: dict[str, int] = {}
    for config in configs:
        agent_id = accounts.get(config.username)
        if agent_id is None or (team is not None and team not in config.teams):
            continue
        state = presence.get(agent_id, Presence.OFFLINE)
        held = loads.get(agent_id, {})
        if state is Presence.AWAY:
            counts.away += 1
        if state is not Presence.ONLINE:
            continue
        counts.online += 1
        counts.busy += any(n > 0 for n in held.values())
        for kind, n in held.items():
            load[kind] = load.get(kind, 0) + n
        for kind, n in config.capacity.items():
            capacity[kind] = capacity.get(kind, 0) + n
    kinds = sorted(k for k in {*load, *capacity} if load.get(k, 0) or capacity.get(k, 0))
    return counts, [Load(kind=k, load=load.get(k, 0), capacity=capacity.get(k, 0)) for k in kinds]


class Wallboard:
    """Computes the board from the store. ``policy``: the routing's current
    picture (teams.yaml, the queues' targets), read at each computation, so a
    reloaded rules file counts at once."""

    def __init__(self, store: BoardStore, policy: Callable[[], Policy], valuable: ValuableConfig,
                 clock: Callable[[], datetime], bot: Callable[[], BotAlert] = BotAlert) -> None:
        self.store = store
        self.bot = bot  # the bot's health now (router.bot.health), read at each computation
        self.policy = policy
        self.valuable = valuable
        self.clock = clock

    async def snapshot(self) -> Snapshot:
        return (await self.compute()).snapshot

    async def compute(self, now: datetime | None = None) -> Computed:
        now = now or self.clock()
        policy = self.policy()
        opened = await self.store.open_counts()
        targets = sla_cutoffs(policy, opened, now)
        sla = await self.store.sla_counts({team: now - target for team, target in targets.items()})
        values = await self.store.queued_values() if self.valuable.tiers or self.valuable.min_ltv is not None else []
        board = _Board(policy.teams.teams)
        for row in opened:
            board.add_open(row)
        next_breach = self._add_sla(board, sla, targets)
        self._add_values(board, values)
        state = await self._agent_state(policy)
        teams = self._teams(board, policy, state)
        totals = Figures()
        for team in teams:
            totals.add(team.figures)
        every, _ = agent_figures(*state, None)
        return Computed(Snapshot(at=now, totals=totals, agents=every, teams=teams, bot=self.bot()), next_breach)

    @staticmethod
    def _add_sla(board: _Board, rows: list[SlaCount], targets: dict[str | None, timedelta]) -> datetime | None:
        next_breach: datetime | None = None
        for row in rows:
            board.channel(row.team, row.channel).sla_breached += row.breached
            if row.next_due is not None:
                next_breach = _earliest(next_breach, row.next_due + targets[row.team])
        return next_breach

    def _add_values(self, board: _Board, rows: list[QueuedValue]) -> None:
        for row in rows:
            if is_valuable(row.tier, row.lifetime_value, self.valuable):
                board.channel(row.team, row.channel).valuable_waiting += row.count

    @staticmethod
    def _teams(board: _Board, policy: Policy, state: _AgentState) -> list[TeamFigures]:
        found: list[TeamFigures] = []
        # teams.yaml's order, then teams only conversations name, then no team
        known = list(policy.teams.teams)
        order = sorted(board.teams, key=lambda t: (t is None, known.index(t) if t in known else len(known), t or ""))
        for team in order:
            gathered = board.teams[team]
            figures = Figures()
            for channel in gathered.channels.values():
                figures.add(channel)
            counts, team_loads = agent_figures(*state, team) if team is not None else (AgentCounts(), [])
            found.append(TeamFigures(team=team, figures=figures, agents=counts, loads=team_loads,
                                     channels=sorted(gathered.channels.values(), key=lambda c: c.channel)))
        return found

    async def _agent_state(self, policy: Policy) -> _AgentState:
        listed = await self.store.list_agents()
        configs = effective_agents(policy.teams, listed, await self.store.agent_profiles())
        accounts = {a.username: a.id for a in listed if a.active}
        presence = {p.agent_id: p.presence for p in await self.store.list_presence()}
        return configs, accounts, presence, await self.store.agent_loads()
