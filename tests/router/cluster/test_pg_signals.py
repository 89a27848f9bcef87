"""Live signals across nodes on a real PostgreSQL (router.cluster.pg_bus):
someone typing reaches the other nodes' consoles and a connector's handlers
by NOTIFY alone, and is never a row of the event log."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from router import events
from router.bus import EventBus
from router.cluster.pg_bus import SIGNALS_WAITING, PgCluster
from router.store.postgres import PostgresStore
from tests.conftest import HANG, eventually
from tests.router.cluster.helpers import Link
from tests.router.cluster.test_pg_bus import events_until, next_event, numbered


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


class Routes:
    """Where each of node ``a``'s connections goes, by its role (``_connect``'s
    application_name): the real database, or a link that fails as a test wants."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.via: dict[str, str] = {}  # "omnirouter <role> a" -> another DSN
        real = asyncpg.connect

        async def connect(dsn: str, **kwargs: Any) -> Any:
            name = kwargs.get("server_settings", {}).get("application_name", "")
            return await real(self.via.get(name, dsn), **kwargs)

        monkeypatch.setattr(asyncpg, "connect", connect)


def _through(dsn: str, port: int) -> str:
    url = urlsplit(dsn)
    return urlunsplit(url._replace(netloc=f"{url.username}@127.0.0.1:{port}"))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens there any more: a connection is refused at once


async def test_typing_goes_on_while_the_event_log_writer_is_stuck(dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Signals never wait on the event log's connection or lock: with the
    writer's link silent, a customer typing still reaches the other node,
    and the stuck event arrives once the link flows again."""
    routes = Routes(monkeypatch)
    url = urlsplit(dsn)
    link = Link(url.hostname or "127.0.0.1", url.port or 5432)
    routes.via["omnirouter events-out a"] = _through(dsn, await link.start())
    bus_a, bus_b = EventBus(), EventBus()
    try:
        async with PgCluster(dsn, "a", bus_a), PgCluster(dsn, "b", bus_b) as b, bus_b.subscribe() as on_b:
            await asyncio.wait_for(b.listening.wait(), HANG)
            link.hold()  # the writer's link goes silent: the append below waits on it
            bus_a.publish(numbered(1))
            bus_a.publish(events.conversation_typing("cnv_1", "customer"))
            got = await next_event(on_b)
            assert got.type == events.CONVERSATION_TYPING
            link.flowing.set()
            assert [e.data for e in await events_until(on_b, "message.created")] == [{"node": "a", "n": 1}]
    finally:
        await link.close()


async def test_events_flow_while_signals_flood_a_connection_that_is_down(
    dsn: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The signals' connection refused: events reach the other node all the
    while a flood of typing fails; once the database takes signals again they
    flow, and a flood keeps the newest signals waiting (the oldest dropped)."""
    routes = Routes(monkeypatch)
    routes.via["omnirouter signals-out a"] = _through(dsn, _closed_port())
    bus_a, bus_b = EventBus(), EventBus()
    heard: asyncio.Queue[int] = asyncio.Queue()
    probes: asyncio.Queue[int] = asyncio.Queue()

    async def handler(data: dict[str, Any]) -> None:
        heard.put_nowait(data["n"])

    async def probed(data: dict[str, Any]) -> None:
        probes.put_nowait(data["n"])

    async with PgCluster(dsn, "a", bus_a) as a, PgCluster(dsn, "b", bus_b) as b, bus_b.subscribe() as on_b:
        b.on("t", handler)
        b.on("probe", probed)
        await asyncio.wait_for(b.listening.wait(), HANG)
        flood = SIGNALS_WAITING * 3
        for n in range(flood):
            a.signal("t", {"n": n})
            if n % 100 == 0:
                bus_a.publish(numbered(n))
                await asyncio.sleep(0)  # the loops run between: the signals' one fails meanwhile
        got = [await next_event(on_b) for _ in range(flood // 100)]
        assert [e.data["n"] for e in got] == list(range(0, flood, 100))
        assert heard.empty() and a.signals_dropped > 0

        del routes.via["omnirouter signals-out a"]  # the database takes signals again

        async def through() -> bool:
            a.signal("probe", {"n": 1})
            return not probes.empty()

        await eventually(through, "a signal through the signals' connection again")
        while not heard.empty():  # what was still waiting from the first flood
            heard.get_nowait()
        for n in range(flood):  # all at once: the queue keeps the newest
            a.signal("t", {"n": n})
        last = [await asyncio.wait_for(heard.get(), HANG)]
        while last[-1] != flood - 1:
            last.append(await asyncio.wait_for(heard.get(), HANG))
        assert last == list(range(flood - SIGNALS_WAITING, flood))
