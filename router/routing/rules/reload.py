"""Hot reload of rules.yaml, teams.yaml and csat.yaml: a simple poll of their stat and bytes
(``router.hotreload`` watches them with bot.yaml).

A changed file is loaded and checked completely before it replaces the
running rules in one assignment (decisions in flight finish with the rules they
started with). An invalid file is refused with its ``file:line`` problems: the
running rules stay active and the problems are kept for the console. The
survey's config (csat.yaml) names teams.yaml's teams, so the three are loaded
together and swapped together: a teams.yaml without a team csat.yaml names,
or a csat.yaml naming an unknown team, is refused and nothing changes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from router import events
from router.bus import EventBus
from router.csat.config import CSAT_FILE, CsatConfig, load_csat_config
from router.hotreload import INTERVAL, stamp, watch
from router.models import utcnow
from router.routing.rules.engine import RuleSet, RulesRouting, load_rules
from router.routing.rules.schema import TEAMS_FILE
from router.yamlconf import ConfigError

log = logging.getLogger(__name__)


@dataclass
class RulesStatus:
    path: str
    version: str
    loaded_at: datetime
    # the problems of the last attempt, when it was refused
    problems: list[str] = field(default_factory=list)
    refused_at: datetime | None = None
    # ``file:line: warning: ...`` of the running rules (they loaded, but look wrong)
    warnings: list[str] = field(default_factory=list)


class SurveyConfigured(Protocol):
    """What runs the surveys (``router.csat.service.Surveys``): its config is swapped on a reload."""

    config: CsatConfig


@dataclass(frozen=True)
class _Loaded:
    ruleset: RuleSet
    csat: CsatConfig


class RulesReloader:
    def __init__(
        self, routing: RulesRouting, bus: EventBus, clock: Callable[[], datetime] = utcnow, interval: float = INTERVAL,
        surveys: SurveyConfigured | None = None,
    ) -> None:
        self.routing = routing
        self.bus = bus
        self.clock = clock
        self.interval = interval
        self.surveys = surveys
        self.path = Path(routing.ruleset.path)
        self.files = [self.path, self.path.parent / TEAMS_FILE, self.path.parent / CSAT_FILE]
        self._seen = stamp(self.files)
        self.status = RulesStatus(str(self.path), routing.ruleset.version, clock(),
                                  warnings=list(routing.ruleset.warnings))

    def _load_if_changed(self) -> _Loaded | ConfigError | None:
        """Blocking (file reads): run off the event loop. None when nothing changed."""
        seen = stamp(self.files)
        if seen == self._seen:
            return None
        self._seen = seen
        try:
            ruleset = load_rules(self.path)
            return _Loaded(ruleset, load_csat_config(self.path.parent, ruleset.teams.teams.keys()))
        except ConfigError as exc:
            return exc

    def _apply(self, loaded: _Loaded | ConfigError | None) -> bool:
        """On the event loop: swap in new rules, or keep the running ones and say why."""
        if loaded is None:
            return False
        if isinstance(loaded, ConfigError):
            self.status.problems, self.status.refused_at = loaded.problems, self.clock()
            log.error("rules not reloaded, version %s stays active:\n%s", self.status.version,
                      "\n".join(loaded.problems))
            self.bus.publish(events.rules_refused(self.status.version))
            return False
        outcome = loaded.ruleset
        surveys_changed = self.surveys is not None and loaded.csat != self.surveys.config
        if self.surveys is not None and surveys_changed:
            self.surveys.config = loaded.csat  # the next resolve asks as the new file says
            log.info("satisfaction survey config reloaded from %s", self.path.parent / CSAT_FILE)
        if (outcome.version == self.routing.ruleset.version and outcome.teams == self.routing.ruleset.teams
                and not self.status.problems):
            return surveys_changed  # the rules touched, not changed (the version hashes rules.yaml alone)
        self.routing.ruleset = outcome  # one assignment: the next decision uses all of the new file
        self.status = RulesStatus(outcome.path, outcome.version, self.clock(), warnings=list(outcome.warnings))
        for warning in outcome.warnings:
            log.warning("%s", warning)
        log.info("rules reloaded from %s: %d rule(s), version %s", outcome.path, len(outcome.rules), outcome.version)
        self.bus.publish(events.rules_reloaded(outcome.version))
        return True

    def check(self) -> bool:
        """Reload now if a file changed since the last look; True when new rules are active."""
        return self._apply(self._load_if_changed())

    async def reload(self) -> bool:
        """``check`` with the files read off the event loop."""
        return self._apply(await asyncio.to_thread(self._load_if_changed))

    async def run(self) -> None:
        await watch([self], self.interval)
