"""Compile ``rules.yaml`` once (type-checked), then decide in microseconds.

First matching rule wins; a rule's conditions are evaluated in order and stop
at the first false one, so the trace shows exactly what was looked at.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import rule_engine
import yaml

from router.hotreload import file_stamp
from router.human_request import HumanRequest
from router.models import (
    BotOutcome,
    ConditionTrace,
    ConversationStatus,
    ConversationView,
    Customer,
    CustomerHistory,
    Message,
    RouteDecision,
    RouteTrace,
    RuleTrace,
    utcnow,
)
from router.routing.rules.ast_text import calendars_named
from router.routing.rules.calendar import Hours
from router.routing.rules.facts import gather, printable
from router.routing.rules.opening import after_hours_text
from router.routing.rules.patterns import prepared
from router.routing.rules.schema import TEAMS_FILE, QueuePolicy, QueueTarget, Route, Rule, RulesFile, Step, TeamsFile
from router.routing.rules.typecheck import UNTYPED, Finding, conjunction_warnings
from router.routing.rules.typecheck import check as check_expression
from router.yamlconf import ConfigError, parse_yaml, present, problem_at, read_text, validate

log = logging.getLogger(__name__)

DEFAULT_QUEUE = QueuePolicy()


# The same expressions compiled without types, for evaluation: the typed
# compile already proved every fact is used with its type, and the facts are
# built by gather() to those types, so re-checking each value's type on every
# evaluation (rule-engine does, for typed symbols) only costs time (about half).
_EVAL_CONTEXT = UNTYPED


class ExpressionError(ValueError):
    """An expression that does not parse, names an unknown fact, or is not a yes/no question
    (every part of it: see typecheck.py)."""


def compile_expression(source: str) -> rule_engine.Rule:
    """The typed rule, or ``ExpressionError`` with the first error found."""
    rule, findings = check_expression(source)
    if rule is None:
        raise ExpressionError(next(f.message for f in findings if f.severity == "error"))
    return rule


@dataclass(frozen=True, slots=True)
class Condition:
    source: str
    compiled: rule_engine.Rule  # typed: checked when the file loaded
    fast: rule_engine.Rule | None = None  # untyped twin, for evaluation

    @classmethod
    def of(cls, source: str) -> Condition:
        return cls.compiled_from(source, compile_expression(source))

    @classmethod
    def compiled_from(cls, source: str, typed: rule_engine.Rule) -> Condition:
        return cls(source, typed, prepared(rule_engine.Rule(source, context=_EVAL_CONTEXT)))

    def evaluate(self, facts: dict[str, Any]) -> ConditionTrace:
        try:
            value = bool((self.fast or self.compiled).evaluate(facts))
            return ConditionTrace.model_construct(expression=self.source, value=value, error=None)
        except rule_engine.errors.EngineError as exc:
            # a fact of the wrong shape at run time (an attribute missing from
            # this customer): the condition is false, and the trace says why
            return ConditionTrace(expression=self.source, value=False, error=exc.message)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    name: str
    conditions: tuple[Condition, ...]
    route: Route
    handoff: Condition | None

    def trace(self, facts: dict[str, Any]) -> RuleTrace:
        # model_construct: these are built from our own checked values, on the hot path
        results: list[ConditionTrace] = []
        matched = True
        for condition in self.conditions:
            if not matched:
                results.append(ConditionTrace.model_construct(expression=condition.source, value=None, error=None))
                continue
            outcome = condition.evaluate(facts)
            results.append(outcome)
            matched = bool(outcome.value)
        return RuleTrace.model_construct(rule=self.name, matched=matched, conditions=results)


def describe(route: Route) -> str:
    if route.bot is not None:
        return f"bot (handoff when {route.bot.handoff}: team {route.bot.then.team})"
    assert route.queue is not None
    skills = ", ".join(f"{k}≥{v}" for k, v in route.queue.skills.items())
    return f"team {route.queue.team} priority {route.queue.priority}" + (f" skills {skills}" if skills else "")


def to_decision(route: Route, reason: str, trace: RouteTrace, channel_kind: str) -> RouteDecision:
    queue: QueueTarget = route.bot.then if route.bot is not None else route.queue  # type: ignore[assignment]
    status = ConversationStatus.BOT if route.bot is not None else ConversationStatus.QUEUED
    return RouteDecision(
        status=status, team=queue.team, priority=queue.priority, reason=reason,
        rules_version=trace.rules_version, trace=trace, skills=dict(queue.skills), channel_kind=channel_kind,
    )


@dataclass
class RuleSet:
    """A loaded, checked rules file and the teams it refers to."""

    path: str
    version: str
    config: RulesFile
    teams: TeamsFile
    rules: list[CompiledRule] = field(default_factory=list)
    default_handoff: Condition | None = None
    # ``file:line: warning: ...``: what loads but is likely wrong (a condition always true)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.zone = ZoneInfo(self.config.timezone)
        self.human_request = HumanRequest(self.config.human_request)
        self.hours = {name: Hours(cal) for name, cal in self.config.calendars.items()}

    def queue(self, team: str | None) -> QueuePolicy:
        """How ``team``'s queue is served (the defaults when rules.yaml says nothing)."""
        return self.config.queues.get(team or "", DEFAULT_QUEUE)

    def queue_hours(self, team: str | None) -> Hours | None:
        name = self.queue(team).hours
        return self.hours[name] if name is not None else None

    def facts(
        self, message: Message, customer: Customer, history: CustomerHistory, now: datetime,
        human_request: HumanRequest | None = None,
    ) -> dict[str, Any]:
        """``human_request``: the service's whole vocabulary (with bot.yaml's
        phrases); this file's own by default (``rules explain``)."""
        return gather(
            message, customer, history, now, zone=self.zone,
            channel_kind=self.teams.channel_kind(message.channel),
            human_request=human_request or self.human_request,
            calendars={name: hours.is_open(now) for name, hours in self.hours.items()},
        )

    def after_hours_notice(self, team: str | None, now: datetime, language: str) -> str | None:
        """The message for a customer who writes while the queue is closed, in
        their ``language`` where the queue has it (a default that says when it
        opens where rules.yaml gives none); None while it is open."""
        hours, policy = self.queue_hours(team), self.queue(team)
        if hours is None or hours.is_open(now):
            return None
        return after_hours_text(policy.after_hours_message, hours.next_opening(now), hours.zone.key, now, language)

    def evaluate(self, facts: dict[str, Any], now: datetime) -> RouteDecision:
        traces: list[RuleTrace] = []
        for rule in self.rules:
            trace = rule.trace(facts)
            traces.append(trace)
            if trace.matched:
                return self._decision(rule.route, rule.name, traces, facts, now)
        return self._decision(self.config.default, None, traces, facts, now)

    def _decision(
        self, route: Route, name: str | None, traces: list[RuleTrace], facts: dict[str, Any], now: datetime,
        prefix: str = "",
    ) -> RouteDecision:
        step = prefix + describe(route)
        reason = f"rule {name!r}: {step}" if name is not None else f"no rule matched, default: {step}"
        trace = RouteTrace(
            rules_version=self.version, rules=traces, matched_rule=name, step=step,
            facts=printable(facts), decided_at=now,
        )
        return to_decision(route, reason, trace, str(facts["channel_kind"]))


    def sends_to_bot(self) -> bool:
        return self.config.default.bot is not None or any(r.route.bot is not None for r in self.rules)

    def bot_route(self, rule_name: str | None) -> tuple[str | None, Route, Condition | None]:
        """The bot route a conversation was sent by (its rule, or the default),
        as the current file has it; a rule since removed falls back to the default."""
        for rule in self.rules:
            if rule.name == rule_name and rule.route.bot is not None:
                return rule.name, rule.route, rule.handoff
        return None, self.config.default, self.default_handoff

    def handoff(
        self, facts: dict[str, Any], rule_name: str | None, now: datetime, *, gave_up: bool = False,
        back_to: QueueTarget | None = None,
    ) -> RouteDecision | None:
        """Whether a conversation with the bot goes to people now, and where.
        ``gave_up``: the bot itself stepped aside, so people take it even when
        the rule's condition does not say so (a customer is never left
        silent). ``back_to``: the queue of a conversation an agent handed back
        to the bot, which goes back there when the bot steps aside."""
        if back_to is not None:
            if not (gave_up or facts["asked_for_human"]):
                return None
            return self._decision(Route(queue=back_to), rule_name, [], facts, now, prefix="bot handoff, back to ")
        name, route, condition = self.bot_route(rule_name)
        if route.bot is None or condition is None:
            # the route is no bot route any more (the file changed): people take it
            queue = route.queue
        else:
            outcome = condition.evaluate(facts)
            traces = [RuleTrace(rule=f"{name or 'default'}: bot handoff", matched=bool(outcome.value),
                                conditions=[outcome])]
            if not outcome.value and not gave_up:
                return None
            prefix = "bot handoff, " if outcome.value else "the bot gave up, "
            return self._decision(Route(queue=route.bot.then), name, traces, facts, now, prefix=prefix)
        assert queue is not None
        return self._decision(Route(queue=queue), name, [], facts, now, prefix="bot route gone, ")


# the facts of a customer's earlier contacts: a handoff reads them from the routing's trace, which
# read them when the conversation opened (empty here, a handoff condition on them never held)
HISTORY_FACTS = ("customer_new", "customer_returning", "contacts_7d", "contacts_30d")


def _language(message: Message, facts: dict[str, Any]) -> str:
    return str(facts["language"])


class RulesRouting:
    """The ``Routing`` of the pipeline when ``config/rules.yaml`` exists."""

    def __init__(self, ruleset: RuleSet, clock: Callable[[], datetime] = utcnow,
                 extra_human_request: Iterable[str] = ()) -> None:
        self.ruleset = ruleset
        self.clock = clock
        # bot.yaml's phrases of asking for a person: the rules read the same vocabulary as the bot
        self.extra_human_request = tuple(extra_human_request)
        self._vocabulary: tuple[RuleSet, tuple[str, ...], HumanRequest] | None = None

    @property
    def human_request(self) -> HumanRequest:
        """The current file's vocabulary with bot.yaml's phrases (rebuilt when the file is reloaded)."""
        ruleset, extra = self.ruleset, self.extra_human_request
        if self._vocabulary is None or self._vocabulary[0] is not ruleset or self._vocabulary[1] is not extra:
            self._vocabulary = (ruleset, extra, ruleset.human_request.extended(extra))
        return self._vocabulary[2]

    def decide(self, message: Message, customer: Customer, history: CustomerHistory | None = None) -> RouteDecision:
        now = self.clock()
        history = history or CustomerHistory()
        facts = self.ruleset.facts(message, customer, history, now, self.human_request)
        decision = self.ruleset.evaluate(facts, now)
        notice = None
        if decision.status is ConversationStatus.QUEUED:
            notice = self.ruleset.after_hours_notice(decision.team, now, _language(message, facts))
        # the customer's last agent is offered the conversation first, if free
        return decision.model_copy(update={"preferred_agent_id": history.last_agent_id, "notice": notice,
                                           "handoff": decision.status is ConversationStatus.QUEUED})

    def reopen_within(self, team: str | None) -> timedelta:
        return timedelta(seconds=self.ruleset.config.reopen.window(team))

    def reopened(self, message: Message, customer: Customer, conversation: ConversationView) -> RouteDecision:
        # the reopened conversation's own team (not the one the rules would pick for a new one) decides
        # whether the customer hears when it opens; open, they hear what a new queued conversation would
        ruleset, now = self.ruleset, self.clock()
        facts = ruleset.facts(message, customer, CustomerHistory(), now, self.human_request)
        notice = ruleset.after_hours_notice(conversation.team, now, _language(message, facts))
        return RouteDecision(status=ConversationStatus.QUEUED, team=conversation.team, priority=conversation.priority,
                             reason="reopened by its customer", notice=notice, handoff=True)

    def handoff(
        self, message: Message, customer: Customer, conversation: ConversationView, trace: RouteTrace | None,
        outcome: BotOutcome | None = None,
    ) -> RouteDecision | None:
        """For a message in a conversation with the bot: the queue it goes to
        now, or None while the bot keeps it. ``outcome``: the bot stepped aside."""
        ruleset, now = self.ruleset, self.clock()
        facts = ruleset.facts(message, customer, CustomerHistory(), now, self.human_request)
        if trace is not None:  # the customer's earlier contacts as the conversation's routing read them
            facts.update({k: trace.facts[k] for k in HISTORY_FACTS if k in trace.facts})
        facts["conversation_age"] = max(0.0, (now - conversation.created_at).total_seconds())
        if outcome is not None:
            facts["bot_failed"] = outcome.failed
            facts["bot_reason"] = outcome.reason
            facts["asked_for_human"] = facts["asked_for_human"] or not outcome.failed
        back_to = None
        if trace is not None and trace.facts.get("handed_back_by") and conversation.team is not None:
            back_to = QueueTarget.model_validate({"team": conversation.team, "priority": conversation.priority,
                                                  "skills": conversation.skills})
        decision = ruleset.handoff(facts, trace.matched_rule if trace else None, now,
                                   gave_up=outcome is not None, back_to=back_to)
        if decision is None:
            return None
        notice = ruleset.after_hours_notice(decision.team, now, _language(message, facts))
        update: dict[str, Any] = {"notice": notice, "handoff": True}
        if outcome is not None and decision.trace is not None:
            # what the bot understood, for the agent who takes over ("why is this here?")
            decision.trace.facts["bot"] = outcome.model_dump()
            update["reason"] = f"{decision.reason} ({outcome.reason}: {outcome.detail})"
        return decision.model_copy(update=update)


# -- loading -----------------------------------------------------------------------


def rules_version(text: str) -> str:
    """A short content hash: the same file always has the same version."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def load_teams(path: Path) -> TeamsFile:
    if not present(path):
        return TeamsFile()
    text = read_text(path)
    data, node = parse_yaml(text, str(path))
    teams = validate(TeamsFile, data, node, str(path))
    problems = list(_team_problems(teams, node, str(path)))
    if problems:
        raise ConfigError(problems)
    return teams


def _team_problems(teams: TeamsFile, node: yaml.Node | None, filename: str) -> list[str]:
    problems: list[str] = []
    known_skills = set(teams.skills)
    kinds = set(teams.kinds())
    seen: set[str] = set()
    for i, agent in enumerate(teams.agents):
        if agent.username in seen:
            where = ("agents", i, "username")
            problems.append(problem_at(filename, node, where, f"agent {agent.username!r} is listed twice"))
        seen.add(agent.username)
        for j, team in enumerate(agent.teams):
            if team not in teams.teams:
                problems.append(problem_at(filename, node, ("agents", i, "teams", j), f"unknown team {team!r}"))
        for skill in agent.skills:
            if skill not in known_skills:
                problems.append(problem_at(filename, node, ("agents", i, "skills", skill), f"unknown skill {skill!r}"))
        for kind in agent.capacity:
            if kind not in kinds:
                # a typo (chats) would leave the agent's real capacity at its default, or at none
                problems.append(problem_at(filename, node, ("agents", i, "capacity", kind),
                                           f"unknown channel kind {kind!r} (kinds: {', '.join(sorted(kinds))}; "
                                           "channel_kinds gives a channel another)"))
    return problems


def load_rules(path: Path, teams_path: Path | None = None) -> RuleSet:
    """Load and check ``rules.yaml`` (and the ``teams.yaml`` beside it);
    ``ConfigError`` with every ``file:line: message`` problem found."""
    teams_path = teams_path or path.parent / TEAMS_FILE
    teams = load_teams(teams_path)
    text = read_text(path)
    data, node = parse_yaml(text, str(path))
    config = validate(RulesFile, data, node, str(path))
    checker = _Checker(str(path), node, teams, teams_path, set(config.calendars))
    compiled = [checker.rule(i, rule) for i, rule in enumerate(config.rules)]
    default_handoff = checker.route(("default",), config.default)
    checker.queues(config)
    checker.reopen(config)
    if checker.problems:
        raise ConfigError(checker.problems)
    return RuleSet(str(path), rules_version(text), config, teams, compiled, default_handoff, checker.warnings)


class _Checker:
    """The checks pydantic cannot make alone: expressions, teams, skills."""

    def __init__(self, filename: str, node: yaml.Node | None, teams: TeamsFile, teams_path: Path,
                 calendars: set[str]) -> None:
        self.filename = filename
        self.calendars = calendars
        self.node = node
        self.teams = teams
        self.teams_path = teams_path
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.names: set[str] = set()

    def _problem(self, loc: tuple[int | str, ...], message: str) -> None:
        self.problems.append(problem_at(self.filename, self.node, loc, message))

    def _findings(self, loc: tuple[int | str, ...], findings: list[Finding]) -> None:
        for finding in findings:
            if finding.severity == "error":
                self._problem(loc, finding.message)
            else:
                self.warnings.append(problem_at(self.filename, self.node, loc, finding.message, warning=True))

    def condition(self, loc: tuple[int | str, ...], source: str) -> Condition | None:
        typed, findings = check_expression(source)
        self._findings(loc, findings)
        if typed is None:
            return None
        for name in calendars_named(typed.statement.expression):
            if name not in self.calendars:
                self._problem(loc, f"open[{name!r}]: unknown calendar {name!r} ({self._calendars_hint(name)}); "
                              "it would never be open")
        return Condition.compiled_from(source, typed)

    def _calendars_hint(self, name: str) -> str:
        close = difflib.get_close_matches(name, list(self.calendars), n=1)
        if close:
            return f"did you mean {close[0]!r}?"
        return f"calendars: {', '.join(sorted(self.calendars))}" if self.calendars else "this file defines no calendars"

    def rule(self, index: int, rule: Rule) -> CompiledRule:
        loc: tuple[int | str, ...] = ("rules", index)
        if rule.name in self.names:
            self._problem((*loc, "name"), f"two rules are named {rule.name!r}: names identify rules in traces")
        self.names.add(rule.name)
        when = [((*loc, "when"), rule.when)] if isinstance(rule.when, str) else [
            ((*loc, "when", j), source) for j, source in enumerate(rule.when)
        ]
        warned = len(self.warnings)
        conditions = tuple(c for c in (self.condition(where, src) for where, src in when) if c is not None)
        if len(conditions) == len(when) > 1 and len(self.warnings) == warned:
            # a list means "all of these": they may exclude each other between items
            self._findings((*loc, "when"), conjunction_warnings(rule.conditions))
        handoff = self.route(loc, rule)
        return CompiledRule(rule.name, conditions, rule, handoff)

    def route(self, loc: tuple[int | str, ...], route: Route) -> Condition | None:
        if route.bot is not None:
            self.queue((*loc, "bot", "then"), route.bot.then)
            return self.condition((*loc, "bot", "handoff"), route.bot.handoff)
        assert route.queue is not None
        self.queue((*loc, "queue"), route.queue)
        return None

    def queues(self, config: RulesFile) -> None:
        for team, policy in config.queues.items():
            if team not in self.teams.teams:
                self._problem(("queues", team), f"unknown team {team!r}")
            if policy.hours is not None and policy.hours not in config.calendars:
                self._problem(("queues", team, "hours"), f"unknown calendar {policy.hours!r}")
            for i, step in enumerate(policy.steps):
                self.step(("queues", team, "steps", i), step)

    def reopen(self, config: RulesFile) -> None:
        for team in config.reopen.teams:
            if team not in self.teams.teams:
                self._problem(("reopen", "teams", team), f"unknown team {team!r}")

    def step(self, loc: tuple[int | str, ...], step: Step) -> None:
        if step.team is not None and step.team not in self.teams.teams:
            close = difflib.get_close_matches(step.team, list(self.teams.teams), n=1)
            known = f"did you mean {close[0]!r}?" if close else (
                f"teams: {', '.join(sorted(self.teams.teams))}" if self.teams.teams else f"{self.teams_path} has none")
            self._problem((*loc, "team"), f"unknown team {step.team!r} ({known})")
        for skill in step.skills if isinstance(step.skills, dict) else {}:
            if skill not in self.teams.skills:
                self._problem((*loc, "skills", skill), f"unknown skill {skill!r}")

    def queue(self, loc: tuple[int | str, ...], queue: QueueTarget) -> None:
        if queue.team not in self.teams.teams:
            where = "" if isinstance(file_stamp(self.teams_path, content=False), tuple) else (
                f" ({self.teams_path} does not exist)")
            self._problem((*loc, "team"), f"unknown team {queue.team!r}{where}")
        for skill in queue.skills:
            if skill not in self.teams.skills:
                self._problem((*loc, "skills", skill), f"unknown skill {skill!r}")


__all__ = ["ExpressionError", "RuleSet", "RulesRouting", "compile_expression", "load_rules"]
