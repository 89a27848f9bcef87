"""The shapes of ``rules.yaml`` and ``teams.yaml`` (pydantic, unknown keys refused).

These models are the single source of the published JSON Schema
(``config/rules.schema.json``), so editors autocomplete what the loader accepts.
"""

from __future__ import annotations

from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RULES_FILE = "rules.yaml"
TEAMS_FILE = "teams.yaml"

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
SkillLevel = Annotated[int, Field(ge=1, le=5, description="1 (basic) … 5 (expert)")]
Priority = Annotated[int, Field(ge=0, le=100, description="higher is served first")]
Expression = Annotated[
    str,
    Field(min_length=1, max_length=2000, description="a rule-engine expression over the routing facts (boolean)"),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- teams.yaml ----------------------------------------------------------------------


class TeamConfig(_Strict):
    description: str = ""


class AgentConfig(_Strict):
    username: Annotated[str, Field(min_length=1, max_length=64, description="the agent's console account")]
    teams: list[Name] = Field(default_factory=list)
    skills: dict[Name, SkillLevel] = Field(default_factory=dict)
    capacity: dict[Name, Annotated[int, Field(ge=0, le=100)]] = Field(
        default_factory=lambda: {"chat": 3, "email": 5},
        description="conversations at once per channel kind",
    )


class TeamsFile(_Strict):
    skills: list[Name] = Field(default_factory=list, description="every skill name rules and agents may use")
    channel_kinds: dict[str, Name] = Field(
        default_factory=dict, description="channel (connector name) → kind for capacity; unlisted channels are 'chat'"
    )
    teams: dict[Name, TeamConfig] = Field(default_factory=dict)
    agents: list[AgentConfig] = Field(default_factory=list)

    def channel_kind(self, channel: str) -> str:
        return self.channel_kinds.get(channel, "chat")


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
    when: Expression | list[Expression] = Field(description="one condition, or a list that must all hold")

    @property
    def conditions(self) -> list[str]:
        return [self.when] if isinstance(self.when, str) else list(self.when)


class RulesFile(_Strict):
    timezone: str = Field("UTC", description="the zone of the 'now' fact (IANA name, e.g. Europe/Moscow)")
    human_request: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=lambda: ["human", "operator", "agent", "person", "оператор", "человек"],
        description="words in a message that mean the customer asked for a human (asked_for_human)",
    )
    rules: list[Rule] = Field(default_factory=list, description="tried in order: the first match wins")
    default: Route = Field(description="where a conversation goes when no rule matches")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Moscow)") from None
        return value
