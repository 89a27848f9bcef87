"""The shapes of ``rules.yaml`` and ``teams.yaml`` (pydantic, unknown keys refused).

These models are the single source of the published JSON Schema
(``config/rules.schema.json``), so editors autocomplete what the loader accepts.
"""

from __future__ import annotations

import itertools
import re
from datetime import date, time
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from router.kinds import DEFAULT_CAPACITY, default_capacity

# the names live in router.kinds, for the command line; re-exported here
from router.kinds import RULES_FILE as RULES_FILE  # noqa: PLC0414
from router.kinds import TEAMS_FILE as TEAMS_FILE  # noqa: PLC0414
from router.texts import Language

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
SkillLevel = Annotated[int, Field(ge=1, le=5, description="1 (basic) … 5 (expert)")]
Priority = Annotated[int, Field(ge=0, le=100, description="higher is served first")]
Expression = Annotated[
    str,
    Field(min_length=1, max_length=2000, description="a rule-engine expression over the routing facts (boolean)"),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(value: Any) -> Any:
    """``90``, ``"90s"``, ``"5m"``, ``"1h"`` → seconds."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"{value!r} is no duration (use 90s, 5m, 1h)")
        return float(match.group(1)) * _UNITS[match.group(2) or "s"]
    return value


# at most 100 years: a time that far from now is past what a date holds (99999999999999d passed, then
# failed every routing decision that counts back from now with an OverflowError)
MAX_DURATION = 100 * 365 * 86400.0
Duration = Annotated[float, BeforeValidator(_seconds),
                     Field(ge=0, le=MAX_DURATION, description="seconds, or 90s / 5m / 1h (at most 100 years)")]


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):  # TypeError: a number (timezone: 5) is no name
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Moscow)") from None
    return value


Zone = Annotated[str, BeforeValidator(_zone), Field(description="IANA time zone, e.g. Europe/Moscow")]


# -- teams.yaml ----------------------------------------------------------------------


def _title(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


# a team's name as people read it: one text, or one per language (the id is what files and the API use)
Title = Annotated[str, AfterValidator(_title), Field(max_length=64)]


class TeamConfig(_Strict):
    title: Title | dict[Language, Title] | None = Field(
        None, description="the team's name in the console, one text or {ru: …, en: …}; the id when left out")
    description: str = ""

    @field_validator("title")
    @classmethod
    def _some_title(cls, value: str | dict[Language, str] | None) -> str | dict[Language, str] | None:
        if isinstance(value, dict) and not value:
            raise ValueError("give the title in at least one language (ru, en)")
        return value

    def titles(self, name: str) -> dict[Language, str]:
        """The title in both languages: one given in a single language stands for the other, none is the id."""
        given = self.title
        if given is None:
            return {"ru": name, "en": name}
        if isinstance(given, str):
            return {"ru": given, "en": given}
        return {"ru": given.get("ru") or given["en"], "en": given.get("en") or given["ru"]}


class AgentConfig(_Strict):
    # an account's name, as the console's accounts have it (matched whatever its case)
    username: Name = Field(description="the agent's console account")
    teams: list[Name] = Field(default_factory=list)
    skills: dict[Name, SkillLevel] = Field(default_factory=dict)
    capacity: dict[Name, Annotated[int, Field(ge=0, le=100)]] = Field(
        default_factory=lambda: dict(DEFAULT_CAPACITY),
        description="conversations at once per channel kind; a kind left out has its default (chat 3, email 5, "
                    "another kind chat's)",
    )


class TeamsFile(_Strict):
    skills: list[Name] = Field(default_factory=list, description="every skill name rules and agents may use")
    channel_kinds: dict[str, Name] = Field(
        default_factory=dict, description="channel (connector name) → kind for capacity; unlisted channels are 'chat'"
    )
    teams: dict[Name, TeamConfig] = Field(default_factory=dict)
    agents: list[AgentConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _default_capacities(self) -> Self:
        """Every kind an agent's entry leaves out at its default: ``capacity: {chat: 2}``
        took email to 0, and a kind of the admin's own (``channel_kinds: {webchat: site}``)
        was 0 for every agent, so its conversations were offered to nobody."""
        for agent in self.agents:
            for kind in self.kinds():
                agent.capacity.setdefault(kind, default_capacity(kind))
        return self

    def channel_kind(self, channel: str) -> str:
        return self.channel_kinds.get(channel, "chat")

    def kinds(self) -> list[str]:
        """The channel kinds a capacity may name: chat, every kind a channel is
        given, and those an agent has by default (email: a mailbox's kind)."""
        return sorted({"chat", *DEFAULT_CAPACITY, *self.channel_kinds.values()})


# -- rules.yaml ----------------------------------------------------------------------


class QueueTarget(_Strict):
    team: Name
    priority: Priority = 0
    skills: dict[Name, SkillLevel] = Field(default_factory=dict, description="required skill → minimum level")


class BotTarget(_Strict):
    handoff: Expression = Field(
        "bot_failed or asked_for_human", description="when the bot hands the conversation to people"
    )
    then: QueueTarget = Field(description="the queue the conversation goes to at handoff")


class Route(_Strict):
    """Exactly one target: the bot or a team queue."""

    queue: QueueTarget | None = None
    bot: BotTarget | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.queue is None) == (self.bot is None):
            raise ValueError("give exactly one target: 'queue' or 'bot'")
        return self


class Rule(Route):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    # an empty list would hold for every conversation: a rule that matches all says `when: "true"`
    when: Expression | Annotated[list[Expression], Field(min_length=1)] = Field(
        description="one condition, or a list that must all hold")

    @property
    def conditions(self) -> list[str]:
        return [self.when] if isinstance(self.when, str) else list(self.when)


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


def _days(key: str) -> list[int]:
    """``mon``, ``mon-fri`` → weekday numbers (Monday is 0)."""
    first, _, last = key.partition("-")
    if first not in DAYS or (last and last not in DAYS):
        raise ValueError(f"{key!r} is no day or day range (mon … sun, e.g. mon-fri)")
    a, b = DAYS.index(first), DAYS.index(last or first)
    if b < a:
        raise ValueError(f"{key!r} runs backwards")
    return list(range(a, b + 1))


END_OF_DAY = time.max  # a range's end "24:00": open up to the next midnight


def _time_range(text: str) -> tuple[time, time]:
    match = _RANGE.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is no time range (e.g. 09:00-18:00)")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    try:
        # "-24:00": until midnight, the whole last minute included (``time`` has no 24:00: ``END_OF_DAY``)
        start, end = time(h1, m1), END_OF_DAY if (h2, m2) == (24, 0) else time(h2, m2)
    except ValueError:
        raise ValueError(f"{text!r} has an impossible time") from None
    if end <= start:
        raise ValueError(f"{text!r} ends before it starts (split a night shift over two days)")
    return start, end


class Calendar(_Strict):
    """Opening hours: weekly ranges in a time zone, minus holidays."""

    timezone: Zone
    hours: dict[str, list[str]] = Field(description="day or day range → time ranges: {mon-fri: ['09:00-18:00']}")
    holidays: list[date] = Field(default_factory=list, description="closed all day")

    @field_validator("hours")
    @classmethod
    def _no_overlap(cls, hours: dict[str, list[str]]) -> dict[str, list[str]]:
        week: dict[int, list[tuple[time, time]]] = {}
        for key, ranges in hours.items():
            for day in _days(key):
                for text in ranges:
                    start, end = _time_range(text)
                    clash = next((r for r in week.get(day, []) if start < r[1] and r[0] < end), None)
                    if clash is not None:
                        raise ValueError(f"{key} {text} overlaps {clash[0]:%H:%M}-{clash[1]:%H:%M} on {DAYS[day]}")
                    week.setdefault(day, []).append((start, end))
        return hours

    def week(self) -> dict[int, list[tuple[time, time]]]:
        out: dict[int, list[tuple[time, time]]] = {}
        for key, ranges in self.hours.items():
            for day in _days(key):
                out.setdefault(day, []).extend(_time_range(t) for t in ranges)
        return {d: sorted(r) for d, r in out.items()}


class Step(_Strict):
    """One escalation step, from ``after`` (the conversation's age) on."""

    after: Duration | Literal["sla"] = Field(
        0, description="the conversation's age, or 'sla': when the first-response target is missed",
    )
    agents: Literal["last_agent", "team", "any"] = Field(
        "team", description="last_agent: only the customer's last agent; team: the queue's team (or the step's "
                            "`team`); any: every agent",
    )
    team: Name | None = Field(
        None, description="escalate to another team of teams.yaml: its agents are offered the conversation "
                          "from this step on (e.g. supervisors)",
    )
    skills: Literal["strict", "relaxed", "ignore"] | dict[Name, SkillLevel] = Field(
        "strict", description="strict: every required level; relaxed: each skill at any level; ignore: none; "
                              "or the skills this step asks for instead, skill → minimum level",
    )

    @model_validator(mode="after")
    def _team_with_team_agents(self) -> Self:
        if self.team is not None and self.agents != "team":
            raise ValueError(f"`team: {self.team}` names the team to offer to: use it with `agents: team`")
        return self

    def team_for(self, queue_team: str | None) -> str | None:
        """The team whose agents this step offers to (the step's own, else the queue's)."""
        return self.team or queue_team


# a language code as customers' texts are tagged: ru, en, de...
LanguageCode = Annotated[str, Field(pattern=r"^[a-z]{2}$")]
def _only_opens(text: str) -> str:
    """``{opens}`` is the one word filled in: any other would reach the customer as written."""
    unknown = sorted({m for m in re.findall(r"\{([^{}]*)\}", text) if m != "opens"})
    if unknown:
        raise ValueError(f"unknown placeholder {{{unknown[0]}}}: only {{opens}} (the next opening) is filled in")
    return text


AfterHoursText = Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(_only_opens)]


class QueuePolicy(_Strict):
    """How a team's queue is served: escalation, SLA, opening hours."""

    steps: list[Step] = Field(
        default_factory=lambda: [Step()], description="the last one whose `after` has passed applies",
    )
    first_response: Duration | None = Field(None, description="SLA: the first agent reply within this time")
    hours: str | None = Field(None, description="a calendar name: outside it nobody is offered the queue")
    after_hours_message: AfterHoursText | dict[LanguageCode, AfterHoursText] | None = Field(
        None,
        description="sent to a customer who writes while closed; {opens} is the next opening, in the customer's"
        " language, with its preposition («в среду в 09:00», 'on Wednesday at 09:00': write «ответим {opens}»)."
        " One text, or one per language ({ru: ..., en: ...}): the customer's language, else the first",
    )

    @field_validator("after_hours_message")
    @classmethod
    def _some_text(cls, value: str | dict[str, str] | None) -> str | dict[str, str] | None:
        if isinstance(value, dict) and not value:
            raise ValueError("give the text in at least one language, e.g. {ru: ..., en: ...}")
        return value

    @model_validator(mode="after")
    def _steps_in_order(self) -> Self:
        if not self.steps:
            raise ValueError("steps: give at least one step")
        for step in self.steps:
            if step.after == "sla":
                if self.first_response is None:
                    raise ValueError("a step after 'sla' needs first_response")
                step.after = self.first_response
        if any(float(b.after) < float(a.after) for a, b in itertools.pairwise(self.steps)):
            raise ValueError("steps must be in order of `after`")
        if float(self.steps[0].after) > 0:
            # "- {after: 2m, team: supervisors}" means the team until then: before, nobody was
            # offered the conversation until the first step's time
            self.steps.insert(0, Step())
        return self

    def step_after(self, step: Step) -> float:
        return float(step.after)  # "sla" was resolved on load


def _off_is_zero(value: Any) -> Any:
    """``off`` (YAML reads it as false) or ``"off"``: no reopening, as ``0``."""
    if value is False or (isinstance(value, str) and value.strip().lower() in ("off", "no", "never")):
        return 0
    return value


Window = Annotated[Duration, BeforeValidator(_off_is_zero)]
# the window a resolved conversation is reopened within when its customer writes again: the
# next-day "it still does not work" is the same case (Zendesk keeps a solved ticket open to a
# reply for 4 days by default, Chatwoot reopens always); a week later it is a new one
DEFAULT_REOPEN_WITHIN = 24 * 3600.0


class Reopen(_Strict):
    within: Window = Field(
        DEFAULT_REOPEN_WITHIN,
        description="a customer writing within this long after a resolve reopens that conversation (back to the "
                    "agent who handled it if free, else its team's queue); later, a new conversation by the rules. "
                    "0 or off: always a new one",
    )
    teams: dict[Name, Window] = Field(
        default_factory=dict, description="per team (the resolved conversation's): its own window instead of `within`",
    )

    def window(self, team: str | None) -> float:
        """Seconds after a resolve within which ``team``'s conversation is reopened (0: never)."""
        return self.teams.get(team or "", self.within)


class RulesFile(_Strict):
    timezone: Zone = Field("UTC", description="the zone of the 'now' fact (IANA name, e.g. Europe/Moscow)")
    human_request: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list,
        description="phrases added to the built-in vocabulary of asking for a person (asked_for_human), "
                    "which the bot reads too; any word form, order, typos",
    )
    calendars: dict[Name, Calendar] = Field(default_factory=dict, description="opening hours, for `open['name']`")
    queues: dict[Name, QueuePolicy] = Field(default_factory=dict, description="per team: escalation, SLA, hours")
    rules: list[Rule] = Field(default_factory=list, description="tried in order: the first match wins")
    default: Route = Field(description="where a conversation goes when no rule matches")
    reopen: Reopen = Field(default_factory=Reopen, description="a customer writing after a resolve: reopen or new")
