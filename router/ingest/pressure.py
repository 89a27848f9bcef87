"""How far behind the pipeline is, and who may come in (admission control).

Above saturation, a pipeline that takes every message it is offered only
grows its queue: each message stored waits longer for its turn at the
store's writer and for the agents' screens (117 s measured at 5x). Here the
pipeline measures its lag, and while it is over ``bound`` the entry points
push back instead of queueing: webhooks answer 503 with Retry-After (the
platform delivers again), pollers and the site chat wait before they take
more (the widget keeps the message pending until its ack).

The lag is the larger of two figures, both in seconds:

- the age of the oldest message in the pipeline (taken in and not yet
  through: stored, routed, published to the consoles);
- the wait a newcomer can expect: the messages in the pipeline over the
  rate at which it gets them through (Little's law), so that a crowd let in
  at once cannot overshoot the bound by its size; counted ``HEADROOM``
  times, as it is an average and the slowest messages (a new conversation:
  several store calls, each behind the queue) take about twice as long. The rate is counted over
  the time the pipeline was busy (had a message in it) in the last
  ``WINDOW`` s: its capacity, not the offered rate, so a burst at light load
  is no false alarm. Until it was ever measured, ``FIRST_RATE``.

One per node: each node bounds what it takes in itself.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

# seconds over which the rate of messages leaving the pipeline is counted
WINDOW = 2.0
# fewer messages than this left in the window, or over less busy time than MIN_BUSY
# seconds: the last rate measured stands (the store commits in groups: twenty messages
# leaving within a millisecond say nothing of the rate)
MIN_SAMPLES = 20
MIN_BUSY = 0.5
# messages a second the pipeline is taken to get through before it was ever measured
FIRST_RATE = 100.0
# the expected wait counted this many times: the tail of the waits over their average
# (bench.load --overload measured p99 about twice p50 in the pipeline)
HEADROOM = 2.0
# a waiter checks again this often even if nothing left the pipeline meanwhile
RECHECK = 0.25
# a sender with at most this patience (a webhook: the platform delivers again) queues apart
# from the patient ones (site chat, pollers) and the two queues take turns at each freed
# place: in one queue, a webhook behind hundreds of patient senders would never get in
HURRIED = 5.0


class Pressure:
    """The pipeline's lag against its bound, and the admission it controls."""

    def __init__(self, bound: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.bound = bound
        self._clock = clock
        self._in_flight: OrderedDict[int, float] = OrderedDict()
        self._seq = 0
        # (when, busy seconds until then) of each message that left, over the last WINDOW
        self._left: deque[tuple[float, float]] = deque()
        self._busy = 0.0  # seconds with a message in the pipeline, until _busy_since
        self._busy_since = 0.0
        self._rate = FIRST_RATE
        # senders waiting for room, first come first served in each queue (the hurried, the
        # patient); one that gave up stays in its queue, skipped, until it reaches the front
        # (removing it from the middle costs a scan each time: quadratic with thousands)
        self._hurried: deque[asyncio.Future[None]] = deque()
        self._patient: deque[asyncio.Future[None]] = deque()
        self._waiting = 0  # those still waiting, in either queue
        self._hurried_turn = True
        # waiters woken but not yet in the pipeline: counted as in it, so that
        # one message leaving lets one in, not the whole crowd
        self._reserved = 0
        self._checking = False

    # -- the gauge ----------------------------------------------------------------
    def enter(self) -> int:
        """One message taken into the pipeline; the key its ``leave`` takes."""
        now = self._clock()
        if not self._in_flight:
            self._busy_since = now
        self._seq += 1
        self._in_flight[self._seq] = now
        return self._seq

    def leave(self, key: int) -> None:
        """That message is through: stored, routed and published (or failed)."""
        now = self._clock()
        self._left.append((now, self._busy_until(now)))
        del self._in_flight[key]
        if not self._in_flight:
            self._busy += now - self._busy_since
        self._wake()

    def _busy_until(self, now: float) -> float:
        return self._busy + (now - self._busy_since if self._in_flight else 0.0)

    def rate(self) -> float:
        """Messages a second the pipeline gets through while busy (the last measured, or ``FIRST_RATE``)."""
        now = self._clock()
        while self._left and self._left[0][0] < now - WINDOW:
            self._left.popleft()
        if len(self._left) >= MIN_SAMPLES and (busy := self._left[-1][1] - self._left[0][1]) >= MIN_BUSY:
            self._rate = (len(self._left) - 1) / busy
        return self._rate

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def waiting(self) -> int:
        return self._waiting

    def lag(self) -> float:
        oldest = self._clock() - next(iter(self._in_flight.values())) if self._in_flight else 0.0
        return max(oldest, HEADROOM * (len(self._in_flight) + self._reserved) / self.rate())

    def over(self) -> bool:
        return self.lag() >= self.bound

    def retry_after(self) -> int:
        """Whole seconds a refused sender is asked to wait: about what the backlog takes to clear."""
        return max(1, math.ceil(self.lag()))

    # -- admission ----------------------------------------------------------------------
    async def room(self, patience: float | None) -> bool:
        """Wait until the pipeline is under its bound, at most ``patience``
        seconds (None: as long as it takes); whether it is. Returns without
        suspending when there is room, so a caller that hands its message in
        at once (``enter``) is counted before anyone else is let in. Waiters
        are let in first come, first served, as messages leave; those of at
        most ``HURRIED`` patience take turns with the others."""
        if not self.over():
            return True
        if patience is not None and patience <= 0:
            return False
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        hurried = patience is not None and patience <= HURRIED
        (self._hurried if hurried else self._patient).append(waiter)
        self._waiting += 1
        self._keep_checking(loop)
        try:
            await asyncio.wait_for(waiter, patience)
        except TimeoutError:
            return False
        finally:
            if waiter.done() and not waiter.cancelled():
                self._reserved -= 1  # in now (or gone): counted by ``enter`` from here on
            else:  # gave up: left in its queue, skipped when it reaches the front
                self._waiting -= 1
                if not self._waiting:
                    self._hurried.clear()
                    self._patient.clear()
        return True

    def _wake(self) -> None:
        """Let waiters in while there is room; each one let in counts as in the
        pipeline at once, so a message leaving lets in about one, not the crowd."""
        while self._waiting and not self.over():
            waiter = self._next()
            if waiter is None:  # the ones counted gave up and have not yet taken themselves off the count
                return
            waiter.set_result(None)
            self._waiting -= 1
            self._reserved += 1

    def _next(self) -> asyncio.Future[None] | None:
        """The next waiter to let in, if any is still waiting: the two queues
        take turns while both hold someone. A waiter whose task was cancelled
        is done at once, but is taken off ``_waiting`` only when its task next
        runs: in between, everyone counted may have gone."""
        for queue in (self._hurried, self._patient):
            while queue and queue[0].done():
                queue.popleft()
        if not self._hurried and not self._patient:
            return None
        if not self._patient or (self._hurried and self._hurried_turn):
            self._hurried_turn = False
            return self._hurried.popleft()
        self._hurried_turn = True
        return self._patient.popleft()

    def _keep_checking(self, loop: asyncio.AbstractEventLoop) -> None:
        """While anyone waits, look again now and then: the lag also falls with
        time alone (the measured rate catching up), not only as messages leave."""
        if self._checking:
            return
        self._checking = True

        def check() -> None:
            self._wake()
            if self._waiting:
                loop.call_later(RECHECK, check)
            else:
                self._checking = False

        loop.call_later(RECHECK, check)
