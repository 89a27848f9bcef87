"""Live signals across nodes on a real PostgreSQL (router.cluster.pg_bus):
someone typing reaches the other nodes' consoles and a connector's handlers
by NOTIFY alone, and is never a row of the event log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from router import events
from router.bus import EventBus
from router.cluster.pg_bus import PgCluster
from router.store.postgres import PostgresStore
from tests.conftest import HANG
from tests.router.cluster.test_pg_bus import events_until, next_event


@pytest.fixture
async def dsn(pg_database: str) -> AsyncIterator[str]:
    async with PostgresStore(pg_database, pool_size=1):
        pass
    yield pg_database


async def test_typing_reaches_the_other_node_and_is_never_stored(dsn: str) -> None:
    bus_a, bus_b = EventBus(), EventBus()
    heard: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def handler(data: dict[str, Any]) -> None:
        heard.put_nowait(data)

    async with PgCluster(dsn, "a", bus_a) as a, PgCluster(dsn, "b", bus_b) as b, bus_b.subscribe() as on_b, \
            bus_a.subscribe() as on_a:
        b.on("webchat:webchat", handler)
        await asyncio.wait_for(b.listening.wait(), HANG)  # a signal is heard by who listens as it goes
        bus_a.publish(events.conversation_typing("cnv_1", "customer"))
        got = await next_event(on_b)
        assert (got.type, got.data) == (events.CONVERSATION_TYPING, {"conversation_id": "cnv_1",
                                                                     "author": "customer"})
        a.signal("webchat:webchat", {"visitor": "v1", "frame": {"type": "typing", "author": "agent"}})
        async with asyncio.timeout(HANG):
            assert await heard.get() == {"visitor": "v1", "frame": {"type": "typing", "author": "agent"}}
        # an event that is stored, after them, still arrives (and marks where the log is)
        bus_a.publish(events.conversation_read("cnv_1", "agt_1", "msg_1", datetime.now(UTC)))
        assert [e.type for e in await events_until(on_b, events.CONVERSATION_READ)] == [events.CONVERSATION_READ]
        # A hears neither its own signal nor its own event back
        assert [e.type for e in [await next_event(on_a), await next_event(on_a)]] == [
            events.CONVERSATION_TYPING, events.CONVERSATION_READ]
        assert on_a.queue.empty()
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM events WHERE topic <> 'event'") == 0
        stored = await conn.fetch("SELECT payload FROM events")
        assert [events.CONVERSATION_TYPING in str(r["payload"]) for r in stored] == [False]
    finally:
        await conn.close()


async def test_a_signal_too_long_for_notify_is_dropped_and_the_rest_go_on(dsn: str) -> None:
    bus_a, bus_b = EventBus(), EventBus()
    heard: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def handler(data: dict[str, Any]) -> None:
        heard.put_nowait(data)

    async with PgCluster(dsn, "a", bus_a) as a, PgCluster(dsn, "b", bus_b) as b:
        b.on("t", handler)
        await asyncio.wait_for(b.listening.wait(), HANG)
        a.signal("t", {"big": "x" * 9000})
        a.signal("t", {"n": 1})
        async with asyncio.timeout(HANG):
            assert await heard.get() == {"n": 1}
