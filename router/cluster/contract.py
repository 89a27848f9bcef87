"""The cluster's protocols, and their one-node implementations.

Connectors see these through ``router.connector`` (a leadership to run
their poller under, a pace to send at); nothing here imports the store, so
a connector importing them imports no more of the core."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from aiolimiter import AsyncLimiter

Job = Callable[[], Coroutine[Any, Any, None]]

# send-pace buckets kept in memory: the least recently used go first (a bucket
# forgotten only lets its key send a burst again, as a restart would)
MAX_PACE_KEYS = 10_000


class Leadership(Protocol):
    """Who runs a singleton: a job that must run once per cluster (a
    platform's long poll, which two pollers would break; a sweep that would
    announce everything twice)."""

    async def run(self, name: str, job: Job) -> None:
        """Run ``job`` while this node leads ``name``, and only then: wait to
        lead, run it, and when the lead is lost (the node's database
        connection ended) cancel it and wait to lead again. Returns what the
        job returns, raises what it raises; cancel it to stop."""
        ...


class AlwaysLead:
    """One node (the SQLite store): it always leads, so the job just runs."""

    async def run(self, name: str, job: Job) -> None:
        await job()


class SendPace(Protocol):
    """A platform's send limits (one bot's messages a second), kept where
    every node that sends for the same account counts them."""

    # True: counted for the whole cluster; False: in this process only (a
    # client that paces itself in the process, as vk-api does, needs no more then)
    shared: bool

    async def slot(self, key: str, rate: float, burst: float, max_wait: float) -> None:
        """Wait for ``key``'s next send slot: ``rate`` a second on average, at
        most ``burst`` at once. ``TimeoutError`` at once, and no slot taken,
        when it would come later than ``max_wait`` seconds from now."""
        ...


class LocalPace:
    """Send pace in this process's memory (one node): a leaky bucket per key."""

    shared = False

    def __init__(self, max_keys: int = MAX_PACE_KEYS) -> None:
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, AsyncLimiter] = OrderedDict()

    def _bucket(self, key: str, rate: float, burst: float) -> AsyncLimiter:
        bucket = self._buckets.pop(key, None) or AsyncLimiter(burst, burst / rate)
        self._buckets[key] = bucket
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return bucket

    async def slot(self, key: str, rate: float, burst: float, max_wait: float) -> None:
        async with asyncio.timeout(max_wait):
            await self._bucket(key, rate, burst).acquire()
