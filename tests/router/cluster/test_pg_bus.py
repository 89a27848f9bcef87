"""Events across nodes on a real PostgreSQL: two (or three) ``PgCluster``s
on one database are two nodes. What one publishes reaches the others'
subscribers once and in order; a node whose LISTEN connection is killed
reconnects and reads what it missed from the event log, nothing twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from router.bus import Event, EventBus, Subscription
from router.cluster.pg_bus import PgCluster
from router.events import RULES_RELOADED
from router.store.postgres import PostgresStore
from tests.conftest import HANG, eventually
from tests.postgres_server import Server


@pytest.fixture
async def dsn(pg_database: str) -> AsyncIterator[str]:
    """A database at the current schema (the event log is PostgreSQL migration 4)."""
    async with PostgresStore(pg_database, pool_size=1):
        pass
    yield pg_database


async def next_event(sub: Subscription) -> Event:
    async with asyncio.timeout(HANG):
        event = await sub.queue.get()
    assert event is not None, "the subscription ended"
    return event


async def events_until(sub: Subscription, marker: str) -> list[Event]:
    """What ``sub`` gets up to and including the event of type ``marker``."""
    got = [await next_event(sub)]
    while got[-1].type != marker:
        got.append(await next_event(sub))
    return got


def numbered(n: int, node: str = "a") -> Event:
    return Event("message.created", {"node": node, "n": n})


async def test_what_one_node_publishes_reaches_the_other_once_and_in_order(dsn: str) -> None:
    bus_a, bus_b = EventBus(), EventBus()
    async with PgCluster(dsn, "a", bus_a), PgCluster(dsn, "b", bus_b), \
            bus_a.subscribe() as on_a, bus_b.subscribe() as on_b:
        for n in range(600):  # more than one append batch and one read batch
            bus_a.publish(numbered(n))
        bus_a.publish(Event("end-a"))

        got = await events_until(on_b, "end-a")

        assert [e.data["n"] for e in got[:-1]] == list(range(600))
        assert got[-1].type == "end-a"
        # and B's own events reach A, which never hears its own back
        bus_b.publish(Event("end-b", {"from": "b"}))
        mine = await events_until(on_a, "end-b")
        assert [e.type for e in mine] == ["message.created"] * 600 + ["end-a", "end-b"]
        assert mine[-1].data == {"from": "b"}


async def test_two_nodes_publishing_at_once_are_seen_in_one_order_by_a_third(dsn: str) -> None:
    buses = {name: EventBus() for name in ("a", "b", "c")}
    async with PgCluster(dsn, "a", buses["a"]), PgCluster(dsn, "b", buses["b"]), \
            PgCluster(dsn, "c", buses["c"]), buses["c"].subscribe() as on_c, buses["a"].subscribe() as on_a:

        async def publish(node: str) -> None:
            for n in range(200):
                buses[node].publish(numbered(n, node))
                if n % 20 == 0:
                    await asyncio.sleep(0)  # interleave the two nodes' appends
            buses[node].publish(Event(f"end-{node}"))

        await asyncio.gather(publish("a"), publish("b"))
        seen: list[Event] = []
        while not {"end-a", "end-b"} <= {e.type for e in seen}:
            seen.append(await next_event(on_c))
        from_b_on_a = [e for e in await events_until(on_a, "end-b") if e.data.get("node") == "b"]

    for node in ("a", "b"):
        assert [e.data["n"] for e in seen if e.data.get("node") == node] == list(range(200))
    assert [e.data["n"] for e in from_b_on_a] == list(range(200))


async def test_a_node_local_event_stays_on_its_node(dsn: str) -> None:
    """Each node reloads its own rules files: another's reload is not this one's news."""
    bus_a, bus_b = EventBus(), EventBus()
    async with PgCluster(dsn, "a", bus_a), PgCluster(dsn, "b", bus_b), bus_b.subscribe() as on_b:
        bus_a.publish(Event(RULES_RELOADED, {"version": "v2"}))
        bus_a.publish(Event("end"))
        assert [e.type for e in await events_until(on_b, "end")] == ["end"]


async def test_a_connector_message_reaches_the_other_nodes_handlers_not_their_consoles(dsn: str) -> None:
    bus_a, bus_b = EventBus(), EventBus()
    got: list[dict[str, Any]] = []

    async def handler(data: dict[str, Any]) -> None:
        got.append(data)

    async with PgCluster(dsn, "a", bus_a) as a, PgCluster(dsn, "b", bus_b) as b, bus_b.subscribe() as on_b:
        b.on("webchat:site", handler)
        a.on("webchat:site", handler)  # a node never hears its own broadcast
        a.broadcast("webchat:site", {"visitor": "v1", "n": 1})
        bus_a.publish(Event("end"))
        assert [e.type for e in await events_until(on_b, "end")] == ["end"]
    assert got == [{"visitor": "v1", "n": 1}]


async def _backend_pid(admin: asyncpg.Connection[asyncpg.Record], name: str) -> int | None:
    pid: int | None = await admin.fetchval(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1", name)
    return pid


async def test_a_killed_listen_connection_reconnects_and_catches_up_what_it_missed(
        dsn: str, pg_server: Server) -> None:
    """B's LISTEN connection is terminated, and B cannot connect again until
    A has published (the database refuses connections meanwhile): every
    notification of those events is lost to B, which reads them from the log
    when it is back. No safety poll runs meanwhile (``poll``): the
    reconnection's own catch-up delivers them."""
    database = dsn.rsplit("/", 1)[1]
    admin = await asyncpg.connect(pg_server.dsn("postgres"))
    log_reader = await asyncpg.connect(dsn)  # opened before the database refuses new connections

    async def logged(count: int) -> bool:
        n: int = await log_reader.fetchval("SELECT count(*) FROM events")
        return n >= count

    bus_a, bus_b = EventBus(), EventBus()
    try:
        async with PgCluster(dsn, "a", bus_a), PgCluster(dsn, "b", bus_b, poll=3600), bus_b.subscribe() as on_b:
            for n in range(50):
                bus_a.publish(numbered(n))
            assert [e.data["n"] for e in [await next_event(on_b) for _ in range(50)]] == list(range(50))
            listener = await _backend_pid(admin, "omnirouter events-in b")
            assert listener is not None

            await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", listener)
            for n in range(50, 120):
                bus_a.publish(numbered(n))
            await eventually(lambda: logged(120), "A's events in the log")
            await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')

            missed = [await next_event(on_b) for _ in range(70)]
            assert [e.data["n"] for e in missed] == list(range(50, 120))
            again = await _backend_pid(admin, "omnirouter events-in b")
            assert again is not None and again != listener
            # live again, and nothing came twice: the next event is the next one published
            bus_a.publish(Event("end"))
            assert (await next_event(on_b)).type == "end"
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        await admin.close()
        await log_reader.close()


async def test_the_log_forgets_what_every_node_has_had_time_to_read(dsn: str) -> None:
    bus_a, bus_b = EventBus(), EventBus()
    reader = await asyncpg.connect(dsn)
    try:
        async with PgCluster(dsn, "a", bus_a, keep=timedelta(seconds=0.5), prune_every=0.1), \
                PgCluster(dsn, "b", bus_b), bus_b.subscribe() as on_b:
            for n in range(20):
                bus_a.publish(numbered(n))
            assert [e.data["n"] for e in [await next_event(on_b) for _ in range(20)]] == list(range(20))

            async def emptied() -> bool:
                n: int = await reader.fetchval("SELECT count(*) FROM events")
                return n == 0

            await eventually(emptied, "the old events pruned")
            bus_a.publish(Event("after"))  # and the log goes on
            assert (await next_event(on_b)).type == "after"
    finally:
        await reader.close()


async def test_an_event_with_a_nul_in_a_customers_text_reaches_the_other_node_with_those_after_it(dsn: str) -> None:
    # the log is jsonb, which refuses an escaped NUL: the append failed, was kept and retried for
    # ever, so no event of this node reached another again
    bus_a, bus_b = EventBus(), EventBus()
    async with PgCluster(dsn, "a", bus_a), PgCluster(dsn, "b", bus_b), bus_b.subscribe() as on_b:
        bus_a.publish(Event("message.created", {"text": "a\x00b", "path": "C:\\u0000dir"}))
        bus_a.publish(Event("end-a"))
        got = await events_until(on_b, "end-a")
        assert [e.data for e in got] == [{"text": "a\ufffdb", "path": "C:\\u0000dir"}, {}]
