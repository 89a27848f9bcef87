"""``config/csat.yaml``: whether, when and how customers are asked to rate a
conversation after an agent resolves it, per team. Without the file nobody
is asked; the shipped one asks. The teams it names are teams.yaml's: an
unknown one (a typo would silently ask, or not ask, a whole team) is refused
with its ``file:line``, at start, by ``omnirouter config check`` and on a
reload (the running config stays)."""

from __future__ import annotations

import difflib
from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from router.routing.rules.engine import load_teams
from router.routing.rules.schema import TEAMS_FILE, Duration
from router.texts import Language, Localized, ru_en
from router.yamlconf import ConfigError, present, read_yaml, validate

CSAT_FILE = "csat.yaml"

Label = Annotated[str, Field(min_length=1, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _no_true(value: object) -> object:
    """``comment_prompt: true`` would otherwise fail with pydantic's internals."""
    if value is True:
        raise ValueError("comment_prompt takes the prompt's texts ({ru: \"…\", en: \"…\"}), null (no comment "
                         "asked) or, in a team, false")
    return value


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("give a duration over 0 (e.g. 10m, 24h)")
    return value


class TeamSurvey(_Strict):
    """One team's own choices; what it leaves out is the file's."""

    enabled: bool | None = Field(None, description="ask this team's customers")
    after_hours: bool | None = Field(None, description="ask also while the team's queue is closed (rules.yaml hours)")
    question: Localized | None = None
    # false: this team asks for no comment, whatever the file says
    comment_prompt: Localized | Literal[False] | None = None

    _check_prompt = field_validator("comment_prompt", mode="before")(_no_true)


class SurveyPolicy(_Strict):
    """What applies to one conversation (the file's, overridden by its team's)."""

    enabled: bool
    after_hours: bool
    question: Localized
    comment_prompt: Localized | None


def _five(value: dict[Language, list[str]]) -> dict[Language, list[str]]:
    for language, labels in value.items():
        if len(labels) != 5:
            raise ValueError(f"{language}: give exactly 5 labels, for 1 to 5")
    # a language left out keeps its default labels
    return {**_LABELS, **value}


_LABELS: dict[Language, list[str]] = {
    "ru": ["1 — плохо", "2 — так себе", "3 — нормально", "4 — хорошо", "5 — отлично"],
    "en": ["1 — poor", "2 — fair", "3 — good", "4 — very good", "5 — excellent"],
}


class CsatConfig(_Strict):
    enabled: bool = Field(False, description="ask after every resolve by an agent (teams may say otherwise)")
    after_hours: bool = Field(True, description="ask also while the team's queue is closed (rules.yaml hours)")
    answer_window: Duration = Field(24 * 3600, description="how long after the question a typed number is a rating")
    comment_window: Duration = Field(600, description="how long after the rating the next message is its comment")
    question: Localized = Field(default_factory=lambda: ru_en(
        "Пожалуйста, оцените, как мы вам помогли: от 1 (плохо) до 5 (отлично).",
        "Please rate how we helped you: from 1 (poor) to 5 (excellent).",
    ))
    # added to the question where the channel has no buttons (VK, WhatsApp, SMS, email)
    number_hint: Localized = Field(default_factory=lambda: ru_en(
        "Ответьте цифрой от 1 до 5.", "Reply with a number from 1 to 5.",
    ))
    # after the rating; null: no comment is asked for (the thanks comes at once)
    comment_prompt: Localized | None = Field(default_factory=lambda: ru_en(
        "Спасибо за оценку! Если хотите, напишите одним сообщением, что нам стоит улучшить.",
        "Thank you for your rating! If you like, tell us in one message what we could do better.",
    ))
    thanks: Localized = Field(default_factory=lambda: ru_en(
        "Спасибо за отзыв!", "Thank you for your feedback!",
    ))
    # a button pressed again, or under a survey that is over: nothing more is asked
    already: Localized = Field(default_factory=lambda: ru_en(
        "Спасибо, ваша оценка уже учтена.", "Thank you, your rating has already been recorded.",
    ))
    # a number outside 1-5, asked again once
    reask: Localized = Field(default_factory=lambda: ru_en(
        "Пожалуйста, ответьте цифрой от 1 до 5.", "Please reply with a number from 1 to 5.",
    ))
    # the buttons' labels, from 1 to 5 (read aloud by screen readers, shown on Telegram's buttons)
    labels: Annotated[dict[Language, list[Label]], Field(min_length=1)] = Field(default_factory=lambda: dict(_LABELS))
    teams: dict[str, TeamSurvey] = Field(default_factory=dict, description="per team (teams.yaml names)")

    _check_labels = field_validator("labels")(_five)
    _check_prompt = field_validator("comment_prompt", mode="before")(_no_true)
    _check_windows = field_validator("answer_window", "comment_window")(_positive)

    @property
    def asks_anyone(self) -> bool:
        """Is anybody asked (the file's switch or a team's)? Without it typed answers are not looked for."""
        return self.enabled or any(t.enabled for t in self.teams.values())

    def policy(self, team: str | None) -> SurveyPolicy:
        own = self.teams.get(team or "") or TeamSurvey()
        return SurveyPolicy(
            enabled=self.enabled if own.enabled is None else own.enabled,
            after_hours=self.after_hours if own.after_hours is None else own.after_hours,
            question=own.question or self.question,
            comment_prompt=None if own.comment_prompt is False else own.comment_prompt or self.comment_prompt,
        )


def load_csat_config(config_dir: Path | None, teams: Collection[str] | None = None) -> CsatConfig:
    """``config_dir/csat.yaml`` (``ConfigError`` with file:line), or nobody is
    asked. ``teams``: the names of teams.yaml (read from ``config_dir`` when
    not given); a team of the file's that is not one of them is a problem."""
    path = config_dir / CSAT_FILE if config_dir is not None else None
    if path is None or not present(path):
        return CsatConfig()
    data, node = read_yaml(path)
    config = validate(CsatConfig, data, node, str(path))
    if not config.teams:
        return config
    if teams is None:
        assert config_dir is not None
        teams = _teams_of(config_dir)
    if problems := [f"{path}:{_key_line(node, name)}: teams.{name}: {_unknown(name, teams)}"
                    for name in config.teams if name not in teams]:
        raise ConfigError(problems)
    return config


def _key_line(node: yaml.Node | None, team: str) -> int:
    """The line of ``teams: {<team>: …}``'s key (its value may start on the next)."""
    for key, value in node.value if isinstance(node, yaml.MappingNode) else ():
        if key.value == "teams" and isinstance(value, yaml.MappingNode):
            for name, _ in value.value:
                if name.value == team:
                    return int(name.start_mark.line) + 1
    return 1


def _teams_of(config_dir: Path) -> Collection[str]:
    return load_teams(config_dir / TEAMS_FILE).teams.keys()


def _unknown(name: str, teams: Collection[str]) -> str:
    close = difflib.get_close_matches(name, list(teams), n=1)
    known = f"did you mean {close[0]!r}?" if close else (
        f"teams: {', '.join(sorted(teams))}" if teams else "teams.yaml has none")
    return f"unknown team {name!r} ({known})"
