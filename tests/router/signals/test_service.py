"""The live signals' memory of where a customer types (router/signals/service.py),
on a real SQLite store and event bus: a visitor with no conversation yet costs
one store read per ``NO_CONVERSATION_MEMORY``, not one per typing frame, and a
conversation's change (created, resolved) is never hidden by the memory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from router import events
from router.bus import EventBus, Subscription
from router.models import ConversationStatus, IdentityRef
from router.signals.service import CUSTOMER_TYPING_EVERY, NO_CONVERSATION_MEMORY, Signals
from router.store.sqlite import SQLiteStore
from tests.conftest import eventually
from tests.router.store.test_contract import T0, inbound, ingest

VISITOR = IdentityRef(kind="webchat", value="u1")


class ReadsCounted(SQLiteStore):
    """The real store, counting the reads the signals make of it."""

    reads = 0

    async def open_conversation_of(self, sender: IdentityRef) -> str | None:
        self.reads += 1
        return await super().open_conversation_of(sender)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def past_the_throttle(self) -> None:
        self.now += CUSTOMER_TYPING_EVERY * 2


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ReadsCounted]:
    async with ReadsCounted(tmp_path / "signals.db") as s:
        yield s


@pytest.fixture
async def running(store: ReadsCounted) -> AsyncIterator[tuple[Signals, EventBus, Clock]]:
    bus, clock = EventBus(), Clock()
    signals = Signals(store, bus, clock)
    task = asyncio.create_task(signals.run())
    try:

        async def subscribed() -> bool | None:
            return bus.subscriber_count > 0 or None

        await eventually(subscribed, "the signals' subscription to the bus")
        yield signals, bus, clock
    finally:
        task.cancel()


def typed(sub: Subscription) -> list[str]:
    got = []
    while not sub.queue.empty():
        event = sub.queue.get_nowait()
        if event is not None and event.type == events.CONVERSATION_TYPING:
            got.append(event.data["conversation_id"])
    return got


async def test_a_visitor_typing_before_any_conversation_reads_the_store_once_a_while(
    store: ReadsCounted, running: tuple[Signals, EventBus, Clock],
) -> None:
    signals, _, clock = running
    for _ in range(5):  # a frame a second, as the widget's throttle lets them through
        await signals.customer_typing("webchat", VISITOR)
        clock.now += NO_CONVERSATION_MEMORY / 10
    assert store.reads == 1
    clock.now += NO_CONVERSATION_MEMORY * 2  # long after: read again (they may have one another way)
    await signals.customer_typing("webchat", VISITOR)
    assert store.reads == 2


async def test_typing_shows_on_the_conversation_their_first_message_opened(
    store: ReadsCounted, running: tuple[Signals, EventBus, Clock],
) -> None:
    signals, bus, _ = running
    async with bus.subscribe() as sub:
        await signals.customer_typing("webchat", VISITOR)  # nothing to show it on yet: "none" remembered
        _, conv = await ingest(store, inbound("m1"), T0)
        bus.publish(events.conversation_created(await store.get_conversation(conv)))
        await signals.customer_typing("webchat", VISITOR)
        assert typed(sub) == [conv]


async def test_typing_after_a_resolve_is_never_shown_on_the_resolved_conversation(
    store: ReadsCounted, running: tuple[Signals, EventBus, Clock],
) -> None:
    signals, bus, clock = running
    async with bus.subscribe() as sub:
        _, first = await ingest(store, inbound("m1"), T0)
        await signals.customer_typing("webchat", VISITOR)
        assert typed(sub) == [first]
        await store.set_conversation_state(first, ConversationStatus.RESOLVED, None, T0)
        bus.publish(events.conversation_updated(await store.get_conversation(first)))
        clock.past_the_throttle()
        await signals.customer_typing("webchat", VISITOR)  # no open conversation now
        assert typed(sub) == []
        _, second = await ingest(store, inbound("m2"), T0)  # they write again: a new one
        bus.publish(events.conversation_created(await store.get_conversation(second)))
        clock.past_the_throttle()
        await signals.customer_typing("webchat", VISITOR)
        assert second != first and typed(sub) == [second]
