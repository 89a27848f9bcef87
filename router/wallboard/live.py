"""The wallboard kept live for the people watching it on this node.

Cost is the design: nothing runs while nobody watches (not even a bus
subscription), and while someone does, the board is computed at most once
per ``interval``, only after an event that can change a figure, or when time
alone changes one (the next unanswered conversation passes its target), or
after ``refresh`` as a safety net (a snooze that ran out, an attribute a CRM
changed: neither publishes an event). So the store's work follows the
watchers and the clock, not the message rate: a thousand messages a second
cost one computation a second. With several nodes, each computes for its own
watchers: the other nodes' events reach this node's bus (``router.cluster``),
and no node depends on another being alive to show the board; the price is
one computation per second per node with a watcher, a few indexed reads.

A snapshot that changed goes to every watcher; one that did not goes only to
those who just subscribed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from router import events
from router.bus import Event, EventBus, Subscription
from router.store.errors import StoreError
from router.wallboard.config import WallboardConfig
from router.wallboard.service import Snapshot, Wallboard

log = logging.getLogger(__name__)

UPDATED = "wallboard.updated"
# what can change a figure
CHANGES = frozenset({
    events.MESSAGE_CREATED, events.CONVERSATION_CREATED, events.CONVERSATION_UPDATED, events.CONVERSATION_ASSIGNED,
    events.AGENT_PRESENCE, events.AGENT_UPDATED, events.CUSTOMER_MERGED, events.CUSTOMER_UNMERGED,
    events.RULES_RELOADED,
})
SEND_TIMEOUT = 5.0


class Watcher(Protocol):
    """A socket to push the board to (an aiohttp ``WebSocketResponse``)."""

    @property
    def closed(self) -> bool: ...

    async def send_str(self, data: str, compress: int | None = None) -> None: ...


def updated(snapshot: Snapshot) -> str:
    """The ``wallboard.updated`` frame, as the console's other events: ``{type, data}``."""
    return json.dumps({"type": UPDATED, "data": snapshot.model_dump(mode="json")}, ensure_ascii=False)


def _key(snapshot: Snapshot) -> str:
    """What a watcher sees change: everything but the time it was read."""
    return snapshot.model_dump_json(exclude={"at"})


class LiveWallboard:
    """Pushes ``wallboard.updated`` to this node's watchers. ``still_may``
    tells from an ``agent.updated`` event's agent whether they may still
    watch (a supervisor made an agent stops receiving it at once)."""

    def __init__(self, board: Wallboard, bus: EventBus, config: WallboardConfig,
                 still_may: Callable[[dict[str, object]], bool]) -> None:
        self.board = board
        self.bus = bus
        self.config = config
        self.still_may = still_may
        self._watchers: dict[Watcher, str] = {}  # socket -> the agent watching
        self._new: set[Watcher] = set()  # subscribed, not sent anything yet
        self._wake = asyncio.Event()
        self._dirty = True
        self._last: str | None = None
        self.computations = 0  # how many times the board was read (bench, tests)

    # -- watchers -----------------------------------------------------------------
    def watch(self, ws: Watcher, agent_id: str) -> None:
        self._watchers[ws] = agent_id
        self._new.add(ws)
        self._wake.set()

    def unwatch(self, ws: Watcher) -> None:
        self._watchers.pop(ws, None)
        self._new.discard(ws)

    @property
    def watching(self) -> int:
        return len(self._watchers)

    # -- the loop ------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            while not self._watchers:
                self._wake.clear()
                await self._wake.wait()
            # subscribed only while watched: without watchers an event costs the wallboard nothing
            async with self.bus.subscribe() as sub:
                listener = asyncio.create_task(self._listen(sub), name="wallboard-events")
                try:
                    self._dirty, self._last = True, None  # events were missed meanwhile
                    await self._serve(listener)
                finally:
                    listener.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await listener

    async def _listen(self, sub: Subscription) -> None:
        async for event in sub:
            if event.type == events.AGENT_UPDATED:
                self._drop_unpermitted(event)
            if event.type in CHANGES:
                self._dirty = True
                self._wake.set()
        # cut off (fell behind) or the bus closed: ``_serve`` returns, and ``run`` listens anew
        self._wake.set()

    def _drop_unpermitted(self, event: Event) -> None:
        agent = event.data.get("agent")
        if isinstance(agent, dict) and not self.still_may(agent):
            for ws in [ws for ws, who in self._watchers.items() if who == agent.get("id")]:
                self.unwatch(ws)

    async def _serve(self, listener: asyncio.Task[None]) -> None:
        """Until nobody watches (or the events stop coming): compute when something changed, at most once
        per interval."""
        loop = asyncio.get_running_loop()
        due: float | None = None  # loop time the next breach happens at
        last_read = loop.time()
        while self._watchers and not listener.done():
            self._wake.clear()
            if self._dirty or self._new or (due is not None and loop.time() >= due):
                self._dirty = False
                due = await self._push()
                last_read = loop.time()
                await asyncio.sleep(self.config.interval)  # the ceiling: once per interval
                continue
            deadline = last_read + self.config.refresh if due is None else min(due, last_read + self.config.refresh)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, deadline - loop.time()))
            if loop.time() >= last_read + self.config.refresh:
                self._dirty = True

    async def _push(self) -> float | None:
        """Read the board and send it; the loop time the next breach is due, if any."""
        try:
            computed = await self.board.compute()
        except StoreError as exc:
            log.warning("wallboard: the store did not answer (%s); trying again", exc)
            self._dirty = True
            return None
        self.computations += 1
        key = _key(computed.snapshot)
        targets = list(self._watchers) if key != self._last else list(self._new)
        self._last = key
        self._new.clear()
        if targets:
            text = updated(computed.snapshot)
            await asyncio.gather(*(self._send(ws, text) for ws in targets))
        return _loop_time_of(computed.next_breach, computed.snapshot.at)

    async def _send(self, ws: Watcher, text: str) -> None:
        if ws.closed:
            self.unwatch(ws)
            return
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                await ws.send_str(text)
        except (ConnectionResetError, TimeoutError):
            self.unwatch(ws)  # gone or stuck: its reconnect subscribes again


def _loop_time_of(when: datetime | None, now: datetime) -> float | None:
    if when is None:
        return None
    return asyncio.get_running_loop().time() + max(0.0, (when - now).total_seconds())
