"""A store fault as an episode: one log line when writes start failing, one
when they work again, whatever the number of failures in between (a disk full
at 50 messages a second would otherwise write thousands of tracebacks).
Backend-agnostic: a backend reports each write's outcome."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

# an episode of failing writes ends only after this long without a failure,
# whatever succeeded meanwhile: a full disk lets a tiny write (/healthz's probe)
# into the WAL's slack while a message's does not, and "healthy" must mean
# "a message can be stored"
SETTLE = 5.0  # seconds


class Episode:
    """Something that fails for a while, logged once as it starts and once as it ends."""

    def __init__(self, what: str, logger: logging.Logger = log,
                 clock: Callable[[], float] = time.monotonic, settle: float = SETTLE) -> None:
        self.what = what
        self.settle = settle
        self._log = logger
        self._clock = clock
        self.reason: str | None = None  # None: not failing
        self.failures = 0
        self.started_at = 0.0
        self.last_failure_at: float | None = None

    @property
    def failing(self) -> bool:
        return self.reason is not None

    def failed(self, reason: str) -> None:
        now = self._clock()
        self.last_failure_at = now
        if self.reason is None:
            self.started_at, self.failures = now, 0
            self._log.error("%s: %s", self.what, reason)
        self.reason = reason
        self.failures += 1

    def succeeded(self) -> None:
        """A write went through. The episode ends only once no write has
        failed for ``settle`` seconds: under a full disk small writes slip
        through between failing ones, and that is still one outage."""
        if self.reason is None or self.last_failure_at is None:
            return
        if self._clock() - self.last_failure_at < self.settle:
            return
        self._log.warning("%s: cleared after %.0f s and %d failure(s); it was: %s",
                          self.what, self._clock() - self.started_at, self.failures, self.reason)
        self.reason = None
