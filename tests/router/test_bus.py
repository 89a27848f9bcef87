"""The event bus's ends: closing wakes every subscriber, those that read a few
event types too, even when their queue is full."""

from __future__ import annotations

import asyncio

from router.bus import Event, EventBus


async def drain(bus: EventBus, types: frozenset[str] | None) -> list[str]:
    async with bus.subscribe(types) as sub:
        for _ in range(3):
            bus.publish(Event("a"))
        bus.close()
        async with asyncio.timeout(30):
            return [event.type async for event in sub]


async def test_closing_ends_a_full_subscriber_of_every_type() -> None:
    assert len(await drain(EventBus(subscriber_queue=3), None)) < 3


async def test_closing_ends_a_full_subscriber_of_a_few_types() -> None:
    assert len(await drain(EventBus(subscriber_queue=3), frozenset({"a"}))) < 3


async def test_closing_ends_a_subscriber_with_room_after_what_it_had() -> None:
    assert await drain(EventBus(subscriber_queue=10), frozenset({"a"})) == ["a", "a", "a"]
