"""Is the bot answering? An alert for supervisors when its answers fail.

Every turn the bot's backend is asked (the embedded matcher, Rasa, any
``Bot``) ends in an answer or a failure: an error, a timeout, a malformed or
empty answer (``HandoffReason.BOT_FAILED``); the customer then got no answer
of the bot, only the handoff to people. One failure is no news (it is in the
reports as the handoff's reason); a run of them is an outage that sends
every customer of the bot to the queues, which supervisors must hear of.

The alert is an edge with hysteresis, never one per message: the bot is
*failing* once ``min_failures`` of the answers of the last ``window``
seconds failed and they are at least ``min_share`` of those answers; it
has *recovered* once ``recover_after`` answers in a row succeeded, or no
answer failed for a whole ``window`` (an outage with no traffic after it).
Each change publishes one event (``bot.failing``, ``bot.recovered``) and
logs one line; in between, nothing more however many messages fail.
Each node judges the turns it runs (the event names the node)."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from router import events
from router.bus import EventBus

log = logging.getLogger(__name__)

WINDOW = 300.0  # seconds of answers judged
MIN_FAILURES = 3
MIN_SHARE = 0.5
RECOVER_AFTER = 3
MAX_KEPT = 10_000  # answers kept within the window: a flood keeps the newest


@dataclass(frozen=True, slots=True)
class BotHealthState:
    """What the alert says now: failing or not, since when, and the window's counts."""

    failing: bool
    since: datetime | None
    failed: int
    answered: int


class BotHealth:
    """Counts the bot's answers of this node and raises the alert on its edges."""

    def __init__(self, bus: EventBus, node: str = "", window: float = WINDOW, min_failures: int = MIN_FAILURES,
                 min_share: float = MIN_SHARE, recover_after: int = RECOVER_AFTER,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.bus = bus
        self.node = node
        self.window = window
        self.min_failures = min_failures
        self.min_share = min_share
        self.recover_after = recover_after
        self._clock = clock
        self._wall = wall
        self._outcomes: deque[tuple[float, bool]] = deque(maxlen=MAX_KEPT)  # (when, failed)
        self._failing_since: datetime | None = None
        self._good_run = 0

    @property
    def state(self) -> BotHealthState:
        self._forget(self._clock())
        failed = sum(1 for _, bad in self._outcomes if bad)
        return BotHealthState(self._failing_since is not None, self._failing_since, failed, len(self._outcomes))

    def answered(self) -> None:
        """The bot's backend answered a turn."""
        self._record(failed=False)

    def failed(self) -> None:
        """The bot's backend failed a turn (an error, a timeout, nothing usable)."""
        self._record(failed=True)

    def check(self) -> None:
        """Judge again without a turn: a window with no failure left in it recovers."""
        self._forget(self._clock())
        if self._failing_since is not None and not any(bad for _, bad in self._outcomes):
            self._recover()

    def _record(self, failed: bool) -> None:
        now = self._clock()
        self._forget(now)
        self._outcomes.append((now, failed))
        self._good_run = 0 if failed else self._good_run + 1
        if self._failing_since is None:
            bad = sum(1 for _, b in self._outcomes if b)
            if bad >= self.min_failures and bad >= self.min_share * len(self._outcomes):
                self._fail(bad, len(self._outcomes))
        elif self._good_run >= self.recover_after or not any(b for _, b in self._outcomes):
            self._recover()

    def _forget(self, now: float) -> None:
        while self._outcomes and now - self._outcomes[0][0] > self.window:
            self._outcomes.popleft()

    def _fail(self, failed: int, answered: int) -> None:
        self._failing_since = self._wall()
        log.warning("the bot is failing: %d of its last %d answers failed (within %g s); customers go to people",
                    failed, answered, self.window)
        self.bus.publish(events.bot_failing(self.node, failed, answered, self.window, self._failing_since))

    def _recover(self) -> None:
        since, self._failing_since = self._failing_since, None
        log.warning("the bot answers again (it was failing since %s)", since.isoformat() if since else "?")
        self.bus.publish(events.bot_recovered(self.node, since))


__all__ = ["BotHealth", "BotHealthState"]
