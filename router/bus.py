"""In-process event bus: every state change is published once and fanned out
to subscribers (console websockets, metrics). A subscriber that cannot keep up
is cut off rather than allowed to grow memory without bound. With several
nodes, ``router.cluster`` carries each event to the other nodes' buses."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any] = field(default_factory=dict)
    # when this node published it (its bus's clock, monotonic; another node's event: when it
    # arrived here): how long a subscriber took to read it, without the pipeline's time before
    # or another node's clock. No part of the event's value
    published_at: float = field(default=0.0, compare=False, repr=False)

    @cached_property
    def json(self) -> str:
        """Serialised once however many nodes receive it (``router.cluster``): the standard library's
        JSON, whose NaN the database refuses (the event is dropped there, and said once)."""
        return json.dumps({"type": self.type, "data": self.data}, ensure_ascii=False)

    @cached_property
    def frame(self) -> str:
        """The console's websocket frame as text (``frame_bytes``, decoded)."""
        return self.frame_bytes.decode()

    @cached_property
    def frame_bytes(self) -> bytes:
        """The console's websocket frame in UTF-8, serialised once however many consoles receive it; by
        orjson, a tenth of the standard library's time for a ``message.created`` (~1 against ~10 µs, once
        per message), and a NaN, which no browser parses, as null. Bytes: a socket sends them as they are,
        where a text would be decoded here and encoded again by each send."""
        frame = {"type": self.type, "data": self.data}
        try:  # without OPT_NON_STR_KEYS first: it doubles orjson's time, and hardly any event needs it
            return orjson.dumps(frame)
        except orjson.JSONEncodeError:  # a key that is no string, or what orjson cannot write at all
            return self._frame_otherwise(frame)

    def _frame_otherwise(self, frame: dict[str, Any]) -> bytes:
        try:
            return orjson.dumps(frame, option=orjson.OPT_NON_STR_KEYS)
        except orjson.JSONEncodeError:  # what only the standard library writes (an integer over 64 bits)
            return self.json.encode()

    @classmethod
    def parse(cls, text: str) -> Event:
        """An event from its ``json``: one another node published (``router.cluster``)."""
        raw = json.loads(text)
        return cls(raw["type"], raw.get("data", {}))


class Subscription:
    def __init__(self, maxsize: int, types: frozenset[str] | None = None) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize)
        self.overflowed = False
        # None: every event; else only these types reach the queue (a subscriber woken for each
        # message only to skip it cost the event loop a task step per message)
        self.types = types

    def _offer(self, event: Event) -> None:
        if self.overflowed or (self.types is not None and event.type not in self.types):
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self._end()

    def _end(self) -> None:
        """Cut off a full queue: drop one queued event for the end marker, so the consumer wakes
        up and leaves (whatever types it reads: the marker is no event type)."""
        self.overflowed = True
        self.queue.get_nowait()
        self.queue.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            event = await self.queue.get()
            if event is None:
                return
            yield event


class EventBus:
    def __init__(self, subscriber_queue: int = 10_000) -> None:
        self._subscribers: set[Subscription] = set()
        self._maxsize = subscriber_queue
        # set by a cluster of nodes (router.cluster): what is published here
        # also goes to the other nodes, whose subscribers it reaches through
        # their ``publish_local``
        self.forward: Callable[[Event], None] | None = None
        # called with each event, and whether this node published it (False: another node did,
        # ``publish_local``): outbound webhooks queue each event once, on the node that made it
        self.taps: list[Callable[[Event, bool], None]] = []
        self.clock: Callable[[], float] = time.monotonic

    def _stamp(self, event: Event) -> None:
        # set on the frozen event in place: a copy per event costs the hot path microseconds
        object.__setattr__(event, "published_at", self.clock())

    def publish(self, event: Event) -> None:
        self._stamp(event)
        for tap in self.taps:
            tap(event, True)
        self._fan_out(event)
        if self.forward is not None:
            self.forward(event)

    def publish_local(self, event: Event) -> None:
        """To this node's subscribers only (an event another node published)."""
        self._stamp(event)
        for tap in self.taps:
            tap(event, False)
        self._fan_out(event)

    def _fan_out(self, event: Event) -> None:
        for sub in tuple(self._subscribers):
            sub._offer(event)

    @asynccontextmanager
    async def subscribe(self, types: frozenset[str] | None = None) -> AsyncIterator[Subscription]:
        """Every event from now on, or only those of ``types``."""
        sub = Subscription(self._maxsize, types)
        self._subscribers.add(sub)
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)
            if sub.overflowed:
                log.warning("event subscriber fell %d events behind and was cut off", self._maxsize)

    def close(self) -> None:
        """Wake every subscriber with the end marker (shutdown)."""
        for sub in tuple(self._subscribers):
            try:
                sub.queue.put_nowait(None)
            except asyncio.QueueFull:
                sub._end()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
