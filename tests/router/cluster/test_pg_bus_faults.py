"""The event log between nodes when something goes wrong: a database gone
silent at shutdown, an event the database refuses, a row no node can read,
and who prunes the log. On a real PostgreSQL, each ``PgCluster`` a node."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

import router.cluster.pg_bus
from router.bus import Event, EventBus
from router.cluster.node import NODE_ENV
from router.cluster.pg_bus import PRUNE_SINGLETON, PgCluster
from router.config import Settings
from router.server.app import DATABASE_URL, create_app
from router.server.cluster import leading
from router.store.errors import StoreUnavailable
from router.store.postgres import PostgresStore
from tests.conftest import eventually
from tests.router.cluster.helpers import Link, fast
from tests.router.cluster.test_pg_bus import events_until, next_event, numbered

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def dsn(pg_database: str) -> AsyncIterator[str]:
    """A database at the current schema (the event log is PostgreSQL migration 4)."""
    async with PostgresStore(pg_database, pool_size=1):
        pass
    yield pg_database


async def count_events(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        n: int = await conn.fetchval("SELECT count(*) FROM events")
        return n
    finally:
        await conn.close()


async def test_a_silent_database_neither_holds_the_exit_nor_leaks_a_connection(
    dsn: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The database stops answering (no error, no answer) and the node
    stops: what it still had to append is given up after a bounded wait,
    both connections are cut, and nothing is raised into the shutdown."""
    monkeypatch.setattr(router.cluster.pg_bus, "DRAIN_TIMEOUT", 0.2)
    monkeypatch.setattr(router.cluster.pg_bus, "CLOSE_TIMEOUT", 0.2)
    url = urlsplit(dsn)
    link = Link(url.hostname or "127.0.0.1", url.port or 5432)
    through = urlunsplit(url._replace(netloc=f"{url.username}@127.0.0.1:{await link.start()}"))
    bus = EventBus()
    try:
        async with PgCluster(through, "a", bus) as cluster:
            bus.publish(numbered(1))

            async def appended() -> bool:
                return await count_events(dsn) == 1

            await eventually(appended, "the first event in the log")

            async def listening() -> bool:  # its own connection, opened by the reader's task: later on a busy machine
                return cluster._listener is not None and not cluster._listener.is_closed()

            await eventually(listening, "the node's LISTEN connection")
            connections = [cluster._writer, cluster._listener]
            link.hold()  # the database goes silent
            bus.publish(numbered(2))
        assert all(c is not None and c.is_closed() for c in connections)
    finally:
        await link.close()


async def test_an_event_the_database_refuses_is_dropped_and_the_rest_go_on(
    dsn: str, caplog: pytest.LogCaptureFixture,
) -> None:
    """A NaN, which ``jsonb`` cannot hold (JSON has no such number; a NUL,
    the other, is stored as U+FFFD), in the middle of a batch: that event is
    dropped with one error (no words of it logged), every other one reaches
    the other node, in order."""
    bus_a, bus_b = EventBus(), EventBus()
    async with PgCluster(dsn, "a", bus_a), PgCluster(dsn, "b", bus_b), bus_b.subscribe() as on_b:
        for n in range(10):
            bus_a.publish(numbered(n))
        bus_a.publish(Event("message.created", {"text": "secret words", "score": float("nan")}))
        for n in range(10, 20):
            bus_a.publish(numbered(n))
        bus_a.publish(Event("end"))

        got = await events_until(on_b, "end")
        assert [e.data.get("n") for e in got[:-1]] == list(range(20))
        bus_a.publish(Event("later"))  # and the log goes on
        assert (await next_event(on_b)).type == "later"
    refused = [r for r in caplog.records if "refused an event" in r.getMessage()]
    assert len(refused) == 1 and refused[0].levelno == logging.ERROR
    assert "secret" not in caplog.text


async def test_a_row_no_node_can_read_is_said_and_the_node_hears_on(
    dsn: str, caplog: pytest.LogCaptureFixture,
) -> None:
    """A row in the log this version cannot parse (another node's, say a
    newer one's in a rolling upgrade) is a fault of ours: logged, and the
    node goes on listening, not silently deaf from then on."""
    bus_b = EventBus()
    async with PgCluster(dsn, "b", bus_b, poll=0.1), bus_b.subscribe() as on_b:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("INSERT INTO events (node, topic, payload) VALUES ('a', 'event', '[1, 2]')")
            await conn.execute("SELECT pg_notify('omnirouter_events', 'x')")
            async with PgCluster(dsn, "a", EventBus()) as a:
                a.bus.publish(Event("after"))
                assert (await next_event(on_b)).type == "after"
        finally:
            await conn.close()
    assert "listening for events failed" in caplog.text


async def test_one_node_prunes_the_log_and_another_takes_over(dsn: str) -> None:
    """Every node pruning the same rows would be N DELETEs waiting on the
    appenders' lock: the node that leads ``events-prune`` does it, and when
    it stops, another one."""
    nodes = {}
    leaderships = {name: fast(dsn, name) for name in ("a", "b")}
    for leadership in leaderships.values():
        await leadership.__aenter__()
    try:
        for name in ("a", "b"):
            nodes[name] = PgCluster(dsn, name, EventBus(), keep=timedelta(seconds=0.2), prune_every=0.05,
                                    leadership=leaderships[name])
            await nodes[name].__aenter__()

        async def pruner() -> str | None:
            busy = [name for name, cluster in nodes.items() if cluster.prunes >= 3]
            return busy[0] if busy else None

        first = await eventually(pruner, "a node to prune the log")
        other = "b" if first == "a" else "a"
        assert nodes[other].prunes == 0
        assert PRUNE_SINGLETON in leaderships[first].leading()

        await nodes.pop(first).__aexit__(None, None, None)

        async def took_over() -> bool:
            return nodes[other].prunes > 0

        await eventually(took_over, "the other node to prune")
    finally:
        for cluster in nodes.values():
            await cluster.__aexit__(None, None, None)
        for leadership in leaderships.values():
            await leadership.__aexit__(None, None, None)


async def test_the_service_prunes_the_log_under_its_leadership(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, tmp_path: Path, dsn: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two whole nodes on one database: one leads the pruning."""
    monkeypatch.setenv(DATABASE_URL, dsn)
    settings.store.backend = "postgres"
    apps = []
    for name in ("a", "b"):
        monkeypatch.setenv(NODE_ENV, name)
        apps.append((await aiohttp_client(create_app(settings, base_dir=tmp_path))).app)

    async def one_prunes() -> bool:
        return sum(PRUNE_SINGLETON in (leading(app) or []) for app in apps) == 1

    await eventually(one_prunes, "one node to lead the pruning of the event log")


async def test_a_node_that_cannot_join_says_why_and_leaves_no_connection(pg_database: str) -> None:
    """The database answers but the event log cannot be read (here: not
    migrated yet): the store's error, and the connection opened for it closed."""
    with pytest.raises(StoreUnavailable, match="could not join the cluster's event log"):
        async with PgCluster(pg_database, "a", EventBus()):
            pass
    conn = await asyncpg.connect(pg_database)
    try:

        async def gone() -> bool:
            left: int = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'omnirouter events-%'")
            return left == 0

        await eventually(gone, "the node's connection to end")
    finally:
        await conn.close()
