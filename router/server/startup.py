"""Where a start's seconds go (imports, config, store, other), logged with
the listening line and read by bench/startup.py."""

from __future__ import annotations

import time

from aiohttp import web

# the order they are reported in
PHASES = ("imports", "config", "store", "other")


class StartupTimes:
    def __init__(self, started: float | None = None) -> None:
        # time.perf_counter() when the command began
        self.started = time.perf_counter() if started is None else started
        self._last = self.started
        self.phases: dict[str, float] = {}

    def mark(self, phase: str) -> None:
        """The time since the previous mark was spent on ``phase``."""
        now = time.perf_counter()
        self.phases[phase] = self.phases.get(phase, 0.0) + now - self._last
        self._last = now

    def summary(self) -> str:
        total = self._last - self.started
        order = [*PHASES, *(phase for phase in self.phases if phase not in PHASES)]
        parts = ", ".join(f"{phase} {self.phases[phase]:.2f}" for phase in order if phase in self.phases)
        return f"{total:.2f} s ({parts})"


STARTUP = web.AppKey("startup", StartupTimes)
