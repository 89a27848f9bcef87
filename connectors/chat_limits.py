"""Flood limits of the site chat: a moving window of hits per key, the
sockets open per key, and the key a client's address is counted by."""

from __future__ import annotations

import ipaddress
import re
import time
from collections import deque
from collections.abc import Callable

import limits


class MovingWindow:
    """At most ``rate.amount`` hits per key in any ``rate`` window (limits'
    moving window), kept in memory.

    Not limits' own memory storages: on every hit they schedule a sweep over
    every key, the asyncio one with a thread hop per key and the thread one
    with a new timer thread every 10 ms. With 1,000 visitors at 2,000 msg/s
    (bench.load) that kept three worker threads at ~4 % of a core each, and
    the event loop at 74 % of a core against 55 % with this.
    Here a key's hits expire when the key is hit, and idle keys are dropped
    once per window."""

    def __init__(self, rate: limits.RateLimitItem, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.window = float(rate.get_expiry())
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._swept = clock()

    def hit(self, key: str) -> bool:
        """Count a hit, or refuse it (False) when the window is full."""
        now = self._clock()
        if now - self._swept >= self.window:
            self._sweep(now)
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque(maxlen=self.rate.amount)
        elif len(hits) == hits.maxlen and now - hits[0] < self.window:
            return False
        hits.append(now)
        return True

    def give_back(self, key: str) -> None:
        """Uncount ``key``'s latest hit: what it let in, the service refused (its store
        down, its pipeline full). The widget sends such a message again and again until it
        is taken, and each try counting got a visitor who had sent one message refused
        as too fast once the outage ended."""
        hits = self._hits.get(key)
        if hits:
            hits.pop()

    def full(self, key: str) -> bool:
        """Whether a hit now would be refused (nothing is counted)."""
        hits = self._hits.get(key)
        return hits is not None and len(hits) == hits.maxlen and self._clock() - hits[0] < self.window

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may hit again (0 when it may now)."""
        hits = self._hits.get(key)
        if not hits or len(hits) < self.rate.amount:
            return 0.0
        return max(0.0, self.window - (self._clock() - hits[0]))

    def _sweep(self, now: float) -> None:
        self._hits = {k: hits for k, hits in self._hits.items() if now - hits[-1] < self.window}
        self._swept = now


class SocketRate:
    """At most ``rate.amount`` frames in each ``rate`` window counted from its first frame: one
    socket's frames. Two numbers, not a moving window's times: every open socket has one, and
    the widget stays far below it, so a window a little loose at its edges costs nothing."""

    __slots__ = ("_amount", "_clock", "_count", "_started", "_window")

    def __init__(self, rate: limits.RateLimitItem, clock: Callable[[], float] = time.monotonic) -> None:
        self._amount = rate.amount
        self._window = float(rate.get_expiry())
        self._clock = clock
        self._started = clock()
        self._count = 0

    def hit(self) -> bool:
        """Count a frame, or refuse it (False) when this window has had its share."""
        now = self._clock()
        if now - self._started >= self._window:
            self._started, self._count = now, 0
        self._count += 1
        return self._count <= self._amount


class OpenCount:
    """At most ``limit`` at once per key: the sockets a client address holds open. Not a rate:
    an open socket holds one of the process's file descriptors for as long as it lasts, so
    what counts is how many are open now, however slowly they came."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}

    def take(self, key: str) -> bool:
        """Count one more open for ``key``, or refuse it (False) when ``key`` is at its limit."""
        count = self._open.get(key, 0)
        if count >= self.limit:
            return False
        self._open[key] = count + 1
        return True

    def release(self, key: str) -> None:
        """One of ``key``'s has closed; a key with none open is forgotten."""
        count = self._open.get(key, 0) - 1
        if count > 0:
            self._open[key] = count
        else:
            self._open.pop(key, None)


def address_key(remote: str | None) -> str:
    """What per-address limits count by: an IPv4 address, or an IPv6 /64
    (one subscriber's network: its addresses cost nothing to change)."""
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:
        return remote or "unknown"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else address)


class ByteBudget:
    """At most ``budget`` bytes per key in any ``window`` seconds, kept in
    memory like the message limits: a visitor's (or an address's) uploads
    cannot fill the disk. An upload is let in while the key is under its
    budget and charged when it is kept, so a key ends at most one file over."""

    def __init__(self, budget: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        self.window = window
        self._clock = clock
        self._spent: dict[str, deque[tuple[float, int]]] = {}
        self._swept = clock()

    def _recent(self, key: str, now: float) -> deque[tuple[float, int]] | None:
        spent = self._spent.get(key)
        while spent and now - spent[0][0] >= self.window:
            spent.popleft()
        return spent

    def used(self, key: str) -> int:
        spent = self._recent(key, self._clock())
        return sum(size for _, size in spent) if spent else 0

    def full(self, key: str) -> bool:
        return self.used(key) >= self.budget

    def retry_after(self, key: str) -> float:
        """Seconds until the oldest charge of ``key`` leaves the window."""
        now = self._clock()
        spent = self._recent(key, now)
        return max(0.0, self.window - (now - spent[0][0])) if spent else 0.0

    def refund(self, key: str, size: int) -> None:
        """Uncharge the latest charge of ``size`` to ``key``: a file the service did not keep after all."""
        spent = self._spent.get(key)
        for index in range(len(spent) - 1, -1, -1) if spent else ():
            if spent is not None and spent[index][1] == size:
                del spent[index]
                return

    def charge(self, key: str, size: int) -> None:
        now = self._clock()
        if now - self._swept >= self.window:
            self._spent = {k: s for k, s in self._spent.items() if s and now - s[-1][0] < self.window}
            self._swept = now
        self._spent.setdefault(key, deque()).append((now, size))


def rate(value: str) -> str:
    """A rate ``limits`` reads, as an options field checks it: '20/minute', '5 per 10 seconds'.
    A zero is refused: limits takes '0/minute' (nothing ever passes: every chat refused) and
    '20 per 0 seconds' (read as per second) without a word."""
    try:
        limits.parse(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a rate like '20/minute' or '5 per 10 seconds'") from None
    if 0 in map(int, re.findall(r"\d+", value)):
        raise ValueError(f"{value!r}: a rate lets at least 1 through in a time of at least 1 unit")
    return value
