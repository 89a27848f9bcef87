"""The wallboard kept live (router/wallboard/live.py) on a real SQLite store
and bus: pushed when an event changes a figure, again when time alone does
(an unanswered conversation passing its target), only what changed, a burst
of events read as one computation, and nothing at all while nobody watches."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSCloseCode

from router import events
from router.bus import EventBus
from router.identity.types import CustomerUpsert
from router.routing.assignment import Policy
from router.routing.rules.schema import QueuePolicy, TeamConfig, TeamsFile
from router.store.sqlite import SQLiteStore
from router.wallboard import live as live_module
from router.wallboard.config import ValuableConfig, WallboardConfig
from router.wallboard.live import UPDATED, LiveWallboard
from router.wallboard.service import Wallboard
from tests.conftest import HANG, eventually
from tests.router.store.test_contract import T0, inbound, ingest

TARGET = 600.0


@dataclass(frozen=True)
class _Targets(Policy):
    def queue(self, team: str | None) -> QueuePolicy:
        return QueuePolicy(first_response=TARGET)


class Screen:
    """A supervisor's socket: what it was sent."""

    def __init__(self) -> None:
        self.closed = False
        self.close_code: int | None = None
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def send_str(self, data: str, compress: int | None = None) -> None:
        frame = json.loads(data)
        assert frame["type"] == UPDATED
        await self.frames.put(frame["data"])

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        self.closed, self.close_code = True, code
        return True

    async def next(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.frames.get(), HANG)


class StuckScreen(Screen):
    """A wall screen whose network stopped taking frames: a send never ends."""

    def __init__(self) -> None:
        super().__init__()
        self.sends = 0
        self.stuck = asyncio.Event()  # never set: the send waits until cancelled

    async def send_str(self, data: str, compress: int | None = None) -> None:
        self.sends += 1
        await self.stuck.wait()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Rig:
    store: SQLiteStore
    bus: EventBus
    clock: Clock
    live: LiveWallboard


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    bus, clock = EventBus(subscriber_queue=50), Clock(T0)
    # refresh at its longest: a figure that arrives within the hang ceiling came by event or by the breach timer
    config = WallboardConfig(interval=0.1, refresh=300.0)
    async with SQLiteStore(tmp_path / "board.db") as store:
        board = Wallboard(store, lambda: _Targets(TeamsFile(teams={"support": TeamConfig()})),
                          config.valuable, clock)
        live = LiveWallboard(board, bus, config, lambda agent: agent.get("role") != "agent")
        task = asyncio.create_task(live.run())
        yield Rig(store, bus, clock, live)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_watcher_gets_the_board_at_once_then_each_change(rig: Rig) -> None:
    screen = Screen()
    rig.live.watch(screen, "sue")
    assert (await screen.next())["totals"]["queued"] == 0
    _, conv = await ingest(rig.store, inbound("m1"), T0)
    rig.bus.publish(events.conversation_created(await rig.store.get_conversation(conv)))
    assert (await screen.next())["totals"]["queued"] == 1


async def test_time_alone_brings_a_breach(rig: Rig) -> None:
    # opened just before the target runs out: not breached on the first read
    await ingest(rig.store, inbound("m1"), T0 - timedelta(seconds=TARGET - 1))
    screen = Screen()
    rig.live.watch(screen, "sue")
    first = await screen.next()
    assert (first["totals"]["queued"], first["totals"]["sla_breached"]) == (1, 0)
    rig.clock.now = T0 + timedelta(seconds=30)  # no event: only the board's own timer can read it again
    assert (await screen.next())["totals"]["sla_breached"] == 1


async def test_a_burst_of_events_is_one_computation_and_an_unchanged_board_is_not_sent(rig: Rig) -> None:
    screen = Screen()
    rig.live.watch(screen, "sue")
    await screen.next()
    _, conv = await ingest(rig.store, inbound("m1"), T0)
    view = await rig.store.get_conversation(conv)
    before = rig.live.computations
    rig.bus.publish(events.message_created((await rig.store.list_messages(conv, 1))[0], view))
    for _ in range(39):  # within the queue the bus keeps for it
        rig.bus.publish(events.conversation_updated(view))
    assert (await screen.next())["totals"]["queued"] == 1
    # the 40 events were read at most twice (one computation may have begun amid them)
    assert rig.live.computations - before <= 2
    # a change that changes no figure: computed, not sent
    rig.bus.publish(events.conversation_updated(view))
    await eventually(lambda: _computed_past(rig, before + 1), "the board read again")
    _, second = await ingest(rig.store, inbound("m2", sender="u2"), T0)
    rig.bus.publish(events.conversation_created(await rig.store.get_conversation(second)))
    assert (await screen.next())["totals"]["queued"] == 2  # the next frame sent is the next change


async def _computed_past(rig: Rig, count: int) -> bool | None:
    return True if rig.live.computations > count else None


async def test_nothing_is_read_while_nobody_watches(rig: Rig) -> None:
    for n in range(5):
        _, conv = await ingest(rig.store, inbound(f"m{n}", sender=f"u{n}"), T0)
        rig.bus.publish(events.conversation_created(await rig.store.get_conversation(conv)))
    await asyncio.sleep(0)
    assert rig.live.computations == 0 and rig.bus.subscriber_count == 0
    screen = Screen()
    rig.live.watch(screen, "sue")
    assert (await screen.next())["totals"]["queued"] == 5
    rig.live.unwatch(screen)
    await eventually(lambda: _unsubscribed(rig), "the bus left when the last watcher went")


async def _unsubscribed(rig: Rig) -> bool | None:
    return True if rig.bus.subscriber_count == 0 else None


async def test_an_account_that_loses_the_right_stops_receiving(rig: Rig) -> None:
    screen, other = Screen(), Screen()
    rig.live.watch(screen, "agt_sue")
    rig.live.watch(other, "agt_tom")
    await screen.next()
    await other.next()
    rig.bus.publish(events.Event(events.AGENT_UPDATED, {"agent": {"id": "agt_sue", "role": "agent"}}))
    await eventually(lambda: _watching(rig, 1), "sue's watch dropped")
    _, conv = await ingest(rig.store, inbound("m1"), T0)
    rig.bus.publish(events.conversation_created(await rig.store.get_conversation(conv)))
    assert (await other.next())["totals"]["queued"] == 1
    assert screen.frames.empty()


async def _watching(rig: Rig, count: int) -> bool | None:
    return True if rig.live.watching == count else None


async def test_a_board_cut_off_by_the_bus_listens_anew(rig: Rig) -> None:
    screen = Screen()
    rig.live.watch(screen, "sue")
    await screen.next()
    _, conv = await ingest(rig.store, inbound("m1"), T0)
    view = await rig.store.get_conversation(conv)
    for _ in range(100):  # more than its queue holds, at once: the bus cuts it off
        rig.bus.publish(events.conversation_updated(view))
    assert (await screen.next())["totals"]["queued"] == 1
    await eventually(lambda: _subscribed(rig), "subscribed again")
    _, second = await ingest(rig.store, inbound("m2", sender="u2"), T0)
    rig.bus.publish(events.conversation_created(await rig.store.get_conversation(second)))
    assert (await screen.next())["totals"]["queued"] == 2


async def _subscribed(rig: Rig) -> bool | None:
    return True if rig.bus.subscriber_count == 1 else None


async def test_an_event_from_another_node_counts_too(rig: Rig) -> None:
    # the cluster hands another node's events to this node's bus by publish_local (router.cluster)
    screen = Screen()
    rig.live.watch(screen, "sue")
    await screen.next()
    _, conv = await ingest(rig.store, inbound("m1"), T0)
    rig.bus.publish_local(events.conversation_created(await rig.store.get_conversation(conv)))
    assert (await screen.next())["totals"]["queued"] == 1


async def test_a_stuck_screen_holds_up_no_other_watcher(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    # the stuck send is given longer than the hang ceiling: the healthy screen's frames cannot be waiting on it
    monkeypatch.setattr(live_module, "SEND_TIMEOUT", HANG * 4)
    stuck, screen = StuckScreen(), Screen()
    rig.live.watch(stuck, "agt_tom")
    rig.live.watch(screen, "agt_sue")
    assert (await screen.next())["totals"]["queued"] == 0
    for n in (1, 2):
        _, conv = await ingest(rig.store, inbound(f"m{n}", sender=f"u{n}"), T0)
        rig.bus.publish(events.conversation_created(await rig.store.get_conversation(conv)))
        while (await screen.next())["totals"]["queued"] != n:
            pass
    assert stuck.sends == 1  # the first send still under way: no second one piled on it


async def test_a_stuck_screen_is_closed_so_its_console_reconnects(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_module, "SEND_TIMEOUT", 0.2)
    stuck = StuckScreen()
    rig.live.watch(stuck, "agt_tom")
    await eventually(lambda: _closed(stuck), "the stuck screen closed")
    assert stuck.close_code == WSCloseCode.TRY_AGAIN_LATER  # the console reconnects and subscribes again
    assert rig.live.watching == 0


async def _closed(screen: Screen) -> bool | None:
    return True if screen.closed else None


async def test_an_unchanged_board_is_sent_again_once_per_refresh(tmp_path: Path) -> None:
    """The heartbeat a screen tells its staleness by: with no event at all, frames keep coming."""
    bus = EventBus(subscriber_queue=50)
    config = WallboardConfig(interval=0.1, refresh=1.0)
    async with SQLiteStore(tmp_path / "board.db") as store:
        board = Wallboard(store, lambda: _Targets(TeamsFile()), config.valuable, Clock(T0))
        live = LiveWallboard(board, bus, config, lambda agent: True)
        task = asyncio.create_task(live.run())
        try:
            screen = Screen()
            live.watch(screen, "sue")
            first, second = await screen.next(), await screen.next()
            assert first == second  # nothing changed, and it came again
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_a_crm_write_changes_the_valuable_count_at_once(tmp_path: Path) -> None:
    """A customer.updated event (PUT /api/customers/by/...) is read at once, not at the next refresh."""
    bus = EventBus(subscriber_queue=50)
    config = WallboardConfig(interval=0.1, refresh=300.0, valuable=ValuableConfig(tiers=["gold"]))
    async with SQLiteStore(tmp_path / "board.db") as store:
        board = Wallboard(store, lambda: _Targets(TeamsFile()), config.valuable, Clock(T0))
        live = LiveWallboard(board, bus, config, lambda agent: True)
        task = asyncio.create_task(live.run())
        try:
            _, conv = await ingest(store, inbound("m1"), T0)
            screen = Screen()
            live.watch(screen, "sue")
            assert (await screen.next())["totals"]["valuable_waiting"] == 0
            customer = (await store.get_conversation(conv)).customer_id
            await store.upsert_customer(CustomerUpsert(source="crm", customer_id=customer,
                                                       attributes=(("tier", "gold"),)), T0)
            bus.publish(events.customer_updated(customer, created=False))
            assert (await screen.next())["totals"]["valuable_waiting"] == 1
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
