"""The wallboard kept live for the people watching it on this node.

Cost is the design: nothing runs while nobody watches (not even a bus
subscription), and while someone does, the board is computed at most once
per ``interval``, only after an event that can change a figure, or when time
alone changes one (the next unanswered conversation passes its target), or
after ``refresh`` as a safety net (a snooze that ran out publishes no event;
an attribute a CRM writes does: ``customer.updated``). So the store's work follows the
watchers and the clock, not the message rate: a thousand messages a second
cost one computation a second. With several nodes, each computes for its own
watchers: the other nodes' events reach this node's bus (``router.cluster``),
and no node depends on another being alive to show the board; the price is
one computation per second per node with a watcher, a few indexed reads.

A snapshot that changed goes to every watcher; one that did not goes only to
those who just subscribed, and to everyone once per ``refresh`` (a heartbeat:
a screen that hears nothing for longer shows it is stale). Each socket is
sent to on its own: a slow one holds up nobody else, and one that takes no
frame for ``SEND_TIMEOUT`` is closed (TRY_AGAIN_LATER), so its console
reconnects and subscribes again instead of freezing on an old board."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from router import events
from router.aio import cancel_and_wait
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
    events.CUSTOMER_UPDATED, events.RULES_RELOADED, events.BOT_FAILING, events.BOT_RECOVERED,
})
SEND_TIMEOUT = 5.0
CLOSE_TIMEOUT = 2.0
TRY_AGAIN_LATER = 1013  # WSCloseCode.TRY_AGAIN_LATER: the console reconnects and subscribes again


class Watcher(Protocol):
    """A socket to push the board to (an aiohttp ``WebSocketResponse``)."""

    @property
    def closed(self) -> bool: ...

    async def send_str(self, data: str, compress: int | None = None) -> None: ...

    async def close(self, *, code: int = ..., message: bytes = ...) -> bool: ...


def updated(snapshot: Snapshot, every: float) -> str:
    """The ``wallboard.updated`` frame, as the console's other events: ``{type, data}``, and ``every``:
    the longest, in seconds, between two frames while the socket is well (the screen shows itself
    stale past it)."""
    return json.dumps({"type": UPDATED, "data": snapshot.model_dump(mode="json"), "every": every},
                      ensure_ascii=False)


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
        # a send under way per socket: one slow socket never holds up the others, and it is sent the
        # board again once its send is done if a newer one went to the others meanwhile
        self._sending: dict[Watcher, asyncio.Task[None]] = {}
        self._behind: set[Watcher] = set()
        self._wake = asyncio.Event()
        self._dirty = True
        self._last: str | None = None
        self._sent_all = float("-inf")  # loop time the board last went to every watcher
        self.computations = 0  # how many times the board was read (bench, tests)

    # -- watchers -----------------------------------------------------------------
    def watch(self, ws: Watcher, agent_id: str) -> None:
        self._watchers[ws] = agent_id
        self._new.add(ws)
        self._wake.set()

    def unwatch(self, ws: Watcher) -> None:
        self._watchers.pop(ws, None)
        self._new.discard(ws)
        self._behind.discard(ws)

    @property
    def watching(self) -> int:
        return len(self._watchers)

    # -- the loop ------------------------------------------------------------------
    async def run(self) -> None:
        try:
            await self._run()
        finally:
            for task in list(self._sending.values()):
                task.cancel()

    async def _run(self) -> None:
        while True:
            while not self._watchers:
                self._wake.clear()
                await self._wake.wait()
            # subscribed only while watched: without watchers an event costs the wallboard nothing
            async with self.bus.subscribe(CHANGES | {events.AGENT_UPDATED}) as sub:
                listener = asyncio.create_task(self._listen(sub), name="wallboard-events")
                try:
                    self._dirty, self._last = True, None  # events were missed meanwhile
                    await self._serve(listener)
                finally:
                    await cancel_and_wait(listener)

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
        # an unchanged board too, once per refresh: a screen that hears nothing for longer knows it is stale
        now = asyncio.get_running_loop().time()
        if key != self._last or now - self._sent_all >= self.config.refresh:
            targets, self._sent_all = list(self._watchers), now
        else:
            targets = list(self._new)
        self._last = key
        self._new.clear()
        if targets:
            text = updated(computed.snapshot, self.config.refresh)
            for ws in targets:
                self._dispatch(ws, text)
        return _loop_time_of(computed.next_breach, computed.snapshot.at)

    def _dispatch(self, ws: Watcher, text: str) -> None:
        """Start sending, not waiting for it: the next watcher does not wait for this one."""
        if ws in self._sending:
            self._behind.add(ws)  # still busy with an older board: sent the newest when done
            return
        task = asyncio.create_task(self._send(ws, text), name="wallboard-send")
        self._sending[ws] = task
        task.add_done_callback(lambda _: self._sent(ws))

    def _sent(self, ws: Watcher) -> None:
        self._sending.pop(ws, None)
        if ws in self._behind and ws in self._watchers:
            self._behind.discard(ws)
            self._new.add(ws)  # the board as it is now, on the next round
            self._wake.set()

    async def _send(self, ws: Watcher, text: str) -> None:
        if ws.closed:
            self.unwatch(ws)
            return
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                await ws.send_str(text)
        except ConnectionResetError:
            self.unwatch(ws)  # gone: the reader side notices and ends
        except TimeoutError:
            # stuck: unwatched and closed, so the wall screen does not freeze on an old board
            # unnoticed; the console reconnects and subscribes again
            self.unwatch(ws)
            log.info("wallboard: a watcher took over %ss to take a frame; closing its socket", SEND_TIMEOUT)
            with contextlib.suppress(TimeoutError, ConnectionResetError):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await ws.close(code=TRY_AGAIN_LATER, message=b"too slow")


def _loop_time_of(when: datetime | None, now: datetime) -> float | None:
    if when is None:
        return None
    return asyncio.get_running_loop().time() + max(0.0, (when - now).total_seconds())
