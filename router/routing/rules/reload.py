"""Hot reload of rules.yaml and teams.yaml: a simple mtime poll.

A changed file is loaded and checked completely before it replaces the
running rules in one assignment (decisions in flight finish with the rules they
started with). An invalid file is refused with its ``file:line`` problems: the
running rules stay active and the problems are kept for the console."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from router import events
from router.bus import EventBus
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


def _stamp(paths: list[Path]) -> tuple[tuple[int, int] | None, ...]:
    stamps: list[tuple[int, int] | None] = []
    for path in paths:
        try:
            st = path.stat()
        except FileNotFoundError:
            stamps.append(None)
            continue
        stamps.append((st.st_mtime_ns, st.st_size))
    return tuple(stamps)


class RulesReloader:
    def __init__(
        self, routing: RulesRouting, bus: EventBus, clock: Callable[[], datetime] = utcnow, interval: float = 1.0
    ) -> None:
        self.routing = routing
        self.bus = bus
        self.clock = clock
        self.interval = interval
        self.path = Path(routing.ruleset.path)
        self.files = [self.path, self.path.parent / TEAMS_FILE]
        self._seen = _stamp(self.files)
        self.status = RulesStatus(str(self.path), routing.ruleset.version, clock(),
                                  warnings=list(routing.ruleset.warnings))

    def _load_if_changed(self) -> RuleSet | ConfigError | None:
        """Blocking (file reads): run off the event loop. None when nothing changed."""
        stamp = _stamp(self.files)
        if stamp == self._seen:
            return None
        self._seen = stamp
        try:
            return load_rules(self.path)
        except ConfigError as exc:
            return exc

    def _apply(self, outcome: RuleSet | ConfigError | None) -> bool:
        """On the event loop: swap in new rules, or keep the running ones and say why."""
        if outcome is None:
            return False
        if isinstance(outcome, ConfigError):
            self.status.problems, self.status.refused_at = outcome.problems, self.clock()
            log.error("rules not reloaded, version %s stays active:\n%s", self.status.version,
                      "\n".join(outcome.problems))
            self.bus.publish(events.rules_refused(self.status.version))
            return False
        if outcome.version == self.routing.ruleset.version and not self.status.problems:
            return False  # touched, not changed
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

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self._apply(await asyncio.to_thread(self._load_if_changed))
