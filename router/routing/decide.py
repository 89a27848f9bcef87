"""The routing step of the pipeline: ``config/rules.yaml`` when it exists
(router.routing.rules), else every new conversation queues to the configured default
team."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from router.config import RoutingConfig
from router.hotreload import INTERVAL, file_stamp
from router.models import (
    BotOutcome,
    ConversationStatus,
    ConversationView,
    Customer,
    CustomerHistory,
    Message,
    RouteDecision,
    RouteTrace,
)
from router.routing.assignment import Policy
from router.routing.rules import RULES_FILE, TEAMS_FILE, RulesRouting, TeamsFile, load_rules
from router.routing.rules.engine import load_teams
from router.routing.rules.schema import Reopen
from router.yamlconf import ConfigError, present

log = logging.getLogger(__name__)


class Routing(Protocol):
    def decide(self, message: Message, customer: Customer, history: CustomerHistory | None = None) -> RouteDecision:
        """Where a new conversation goes; ``history``: the customer's earlier contacts."""
        ...

    def reopen_within(self, team: str | None) -> timedelta:
        """How long after a resolve a customer's message reopens a conversation of
        ``team`` instead of opening a new one (zero: never); rules.yaml's ``reopen``."""
        ...

    def reopened(self, message: Message, customer: Customer, conversation: ConversationView) -> RouteDecision:
        """What the customer is told of ``conversation``, reopened by ``message``
        (back to its own team's queue), or waiting in that queue when ``message``
        came on another channel: its ``notice`` when that team is closed now, its
        ``handoff`` when a new queued conversation would be told one."""
        ...

    def handoff(
        self, message: Message, customer: Customer, conversation: ConversationView, trace: RouteTrace | None,
        outcome: BotOutcome | None = None,
    ) -> RouteDecision | None:
        """For a customer message in a conversation with the bot: the queue it
        goes to now, or None while the bot keeps it. With ``outcome`` (the bot
        stepped aside) there is always a queue: nobody is left silent."""
        ...


class DefaultTeamRouting:
    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        # rules.yaml's section and its default (a window of 24 h), which a rules file would set
        self.reopen = Reopen()

    def decide(self, message: Message, customer: Customer, history: CustomerHistory | None = None) -> RouteDecision:
        return RouteDecision(
            status=ConversationStatus.QUEUED,
            team=self.config.default_team,
            priority=self.config.default_priority,
            reason=f"no rules configured: default team {self.config.default_team!r}",
            preferred_agent_id=history.last_agent_id if history else None,
        )

    def reopen_within(self, team: str | None) -> timedelta:
        return timedelta(seconds=self.reopen.window(team))

    def reopened(self, message: Message, customer: Customer, conversation: ConversationView) -> RouteDecision:
        # no rules, no hours and no automatic handoff text: as a new conversation, nothing is said
        return RouteDecision(status=ConversationStatus.QUEUED, team=conversation.team, priority=conversation.priority,
                             reason="reopened by its customer")

    def handoff(
        self, message: Message, customer: Customer, conversation: ConversationView, trace: RouteTrace | None,
        outcome: BotOutcome | None = None,
    ) -> RouteDecision | None:
        # only an agent's hand-back gives the bot a conversation here: back to its team when the bot steps aside
        if outcome is None:
            return None
        team = conversation.team or self.config.default_team
        return RouteDecision(
            status=ConversationStatus.QUEUED, team=team, priority=conversation.priority,
            reason=f"bot handoff ({outcome.reason}: {outcome.detail}): team {team!r}", skills=conversation.skills,
            channel_kind=conversation.channel_kind, handoff=True,
        )


def default_team_problem(config: RoutingConfig, config_dir: Path | None) -> str | None:
    """Without rules.yaml every conversation queues to ``routing.default_team``:
    one teams.yaml does not have is a queue nobody is ever offered."""
    if config_dir is None or present(config_dir / RULES_FILE) or not present(config_dir / TEAMS_FILE):
        return None
    teams = load_teams(config_dir / TEAMS_FILE).teams
    if not teams or config.default_team in teams:
        return None
    return (f"{config_dir / 'omnirouter.yaml'}: routing.default_team: {config.default_team!r} is no team of "
            f"{config_dir / TEAMS_FILE} ({', '.join(teams)}), and without {RULES_FILE} every conversation "
            f"queues to it")


def make_routing(config: RoutingConfig, config_dir: Path | None) -> Routing:
    """Rules from ``config_dir/rules.yaml`` when the service was given a config
    folder that has one; ``ConfigError`` (file:line) if that file is invalid."""
    path = config_dir / RULES_FILE if config_dir is not None else None
    if path is None or not present(path):
        if (problem := default_team_problem(config, config_dir)) is not None:
            raise ConfigError([problem])
        return DefaultTeamRouting(config)
    ruleset = load_rules(path)
    for warning in ruleset.warnings:
        log.warning("%s", warning)
    log.info("routing by %s: %d rule(s), version %s", path, len(ruleset.rules), ruleset.version)
    return RulesRouting(ruleset)


def assignment_policy(routing: Routing, config_dir: Path | None) -> Callable[[], Policy]:
    """What assignment follows, read afresh each round (a reloaded rules file
    applies at once): the teams the rules were checked against and their queue
    policies; else ``config_dir/teams.yaml``; else no agents (taken by hand)."""
    if isinstance(routing, RulesRouting):
        rules_routing = routing
        return lambda: Policy(rules_routing.ruleset.teams, rules_routing.ruleset)
    if config_dir is None:
        nobody = Policy(TeamsFile())
        return lambda: nobody
    return TeamsWatch(config_dir)


class TeamsWatch:
    """Without rules.yaml: teams.yaml as it is now, read again when it changes.
    A round asks each time, on the event loop: a stat each time (an edit
    that changes it applies at the next round), the file's bytes at most once
    per ``INTERVAL`` (an edit that kept the stat: ``router.hotreload``). An
    edit it refuses keeps the running teams and is logged with its lines; a
    rules.yaml made while the service runs is said to be read at the next start."""

    def __init__(self, config_dir: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.path, self.rules = config_dir / TEAMS_FILE, config_dir / RULES_FILE
        self._clock = clock
        self._stat, self._stamp, self._looked = file_stamp(self.path, content=False), file_stamp(self.path), clock()
        self._policy = Policy(load_teams(self.path))
        self._told_of_rules = _there(self.rules)

    def _changed(self) -> bool:
        stat, now = file_stamp(self.path, content=False), self._clock()
        if stat == self._stat and now - self._looked < INTERVAL:
            return False
        self._stat, self._looked = stat, now
        stamp = file_stamp(self.path)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        return True

    def __call__(self) -> Policy:
        if self._changed():
            try:
                self._policy = Policy(load_teams(self.path))
                log.info("teams reloaded from %s: %d team(s), %d agent(s)", self.path,
                         len(self._policy.teams.teams), len(self._policy.teams.agents))
            except ConfigError as exc:
                log.error("%s was not reloaded; the running teams stay:\n%s", self.path, "\n".join(exc.problems))
        if not self._told_of_rules and _there(self.rules):
            self._told_of_rules = True
            log.warning("%s appeared while the service runs without rules: it is read at the next start "
                        "(restart omnirouter)", self.rules)
        return self._policy


def _there(path: Path) -> bool:
    """Whether ``path`` exists; False when that cannot be told (a folder that may not be searched)."""
    return isinstance(file_stamp(path, content=False), tuple)
