"""Singletons once per cluster: two nodes' leaderships on one real
PostgreSQL server. One leads, the other waits; when the leader's session
ends (its node died, its connection was killed) or it stops, the other
leads; never both at once. The ceilings are hang detectors."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from router.cluster.contract import AlwaysLead
from router.cluster.postgres_leadership import PgLeadership
from tests.conftest import eventually
from tests.router.cluster.helpers import Jobs, Link, admin, fast, kill_session, session_of


@contextlib.asynccontextmanager
async def running(coro: Coroutine[Any, Any, None]) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(coro)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def refused_twice(dsn: str, node: str) -> None:
    """Until ``node`` has tried for its lock twice more and so heard the first
    answer (its session's last query, finished at two different times)."""
    seen: set[object] = set()
    async with admin(dsn) as conn:
        async def tried() -> bool:
            row = await conn.fetchrow(
                "SELECT state_change FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle'"
                " AND query LIKE '%pg_try_advisory_lock%'", f"omnirouter {node} leadership")
            if row is not None:
                seen.add(row["state_change"])
            return len(seen) >= 2
        await eventually(tried, f"{node} to try for the lock")


async def test_one_node_leads_and_the_other_waits(pg_database: str) -> None:
    jobs = Jobs()
    async with fast(pg_database, "a") as a, fast(pg_database, "b") as b, \
            running(a.run("telegram:bot", jobs.job("a"))):
        await eventually(lambda: _true(jobs.running == {"a"}), "a to lead")
        async with running(b.run("telegram:bot", jobs.job("b"))):
            await refused_twice(pg_database, "b")
            assert jobs.running == {"a"} and b.leading() == [] and a.leading() == ["telegram:bot"]
            # another singleton is free: b leads it while a leads the first
            async with running(b.run("vk:community", jobs.job("b-vk"))):
                await eventually(lambda: _true("b-vk" in jobs.running), "b to lead the other singleton")
                assert b.leading() == ["vk:community"]


async def test_the_other_node_leads_when_the_leaders_session_is_killed(pg_database: str) -> None:
    jobs = Jobs()
    async with fast(pg_database, "a") as a, fast(pg_database, "b") as b, \
            running(a.run("email:support", jobs.job("a"))), admin(pg_database) as conn:
        await eventually(lambda: _true(jobs.running == {"a"}), "a to lead")
        async with running(b.run("email:support", jobs.job("b"))):
            await refused_twice(pg_database, "b")
            await kill_session(conn, "a")
            await eventually(lambda: _true(jobs.running == {"b"}), "b to take over")
            # a reconnects and waits: it is refused while b leads
            await eventually(lambda: session_of(conn, "a"), "a to connect again")
            await refused_twice(pg_database, "a")
            assert jobs.running == {"b"} and a.leading() == []
        # b stops (its task cancelled): a leads again
        await eventually(lambda: _true(jobs.running == {"a"}), "a to lead again")
    assert jobs.most_at_once == 1 and jobs.starts == ["a", "b", "a"]


async def test_a_leader_whose_link_goes_silent_stops_before_anyone_takes_over(pg_database: str) -> None:
    """No error, no answer: the leader stops its job after the heartbeat's
    timeout, while the server still holds its lock; the standby leads only
    once the server lets the silent session go (its keepalive gave up)."""
    jobs = Jobs()
    url = urlsplit(pg_database)
    link = Link(url.hostname or "127.0.0.1", url.port or 5432)
    through = urlunsplit(url._replace(netloc=f"{url.username}@127.0.0.1:{await link.start()}"))
    try:
        # the server's idle timeout far off: this is the keepalive's case, the frozen leader's is below
        async with PgLeadership(through, "a", tick=0.1, takeover_grace=0.3, heartbeat_timeout=1.0,
                                idle_timeout=600) as a, \
                fast(pg_database, "b") as b, running(a.run("vk:community", jobs.job("a"))):
            await eventually(lambda: _true(jobs.running == {"a"}), "a to lead")
            async with running(b.run("vk:community", jobs.job("b"))):
                await refused_twice(pg_database, "b")
                link.hold()
                await eventually(lambda: _true(jobs.running == set()), "a to stop its job")
                await refused_twice(pg_database, "b")  # the server still holds a's lock: b waits
                assert b.leading() == []
                link.cut()
                await eventually(lambda: _true(jobs.running == {"b"}), "b to take over")
    finally:
        await link.close()
    assert jobs.most_at_once == 1 and jobs.starts == ["a", "b"]


async def test_a_frozen_leaders_singletons_are_taken_over_while_it_stays_frozen(pg_database: str) -> None:
    """A leader that stops querying while its connection stays up (a node under
    SIGSTOP, whose kernel still answers the server's keepalives; here a link
    that holds its traffic and is never cut): the server ends its session after
    ``idle_timeout`` without a query, and the standby leads."""
    jobs = Jobs()
    url = urlsplit(pg_database)
    link = Link(url.hostname or "127.0.0.1", url.port or 5432)
    through = urlunsplit(url._replace(netloc=f"{url.username}@127.0.0.1:{await link.start()}"))
    try:
        async with PgLeadership(through, "a", tick=0.1, takeover_grace=0.3, idle_timeout=1.0) as a, \
                fast(pg_database, "b") as b, running(a.run("assigner", jobs.job("a"))):
            await eventually(lambda: _true(jobs.running == {"a"}), "a to lead")
            async with running(b.run("assigner", jobs.job("b"))):
                await refused_twice(pg_database, "b")
                link.hold()
                await eventually(lambda: _true(b.leading() == ["assigner"] and "b" in jobs.running),
                                 "b to take over while a's link is held")
    finally:
        await link.close()


async def test_the_other_node_leads_when_the_leader_closes(pg_database: str) -> None:
    jobs = Jobs()
    async with fast(pg_database, "b") as b:
        async with fast(pg_database, "a") as a, running(a.run("assigner", jobs.job("a"))):
            await eventually(lambda: _true(jobs.running == {"a"}), "a to lead")
            task = asyncio.create_task(b.run("assigner", jobs.job("b")))
            await refused_twice(pg_database, "b")
        # a's node shut down: its singletons stopped, then its connection closed
        await eventually(lambda: _true(jobs.running == {"b"}), "b to take over")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert jobs.most_at_once == 1


async def test_a_job_that_ends_lets_go_of_its_lead(pg_database: str) -> None:
    """A job that fails says so to its caller, and the lock goes with it."""
    jobs = Jobs()

    async def broken() -> None:
        raise RuntimeError("the poller's bug")

    async with fast(pg_database, "a") as a, fast(pg_database, "b") as b:
        with pytest.raises(RuntimeError, match="the poller's bug"):
            await a.run("sweeper", broken)
        assert a.leading() == []
        async with running(b.run("sweeper", jobs.job("b"))):
            await eventually(lambda: _true(jobs.running == {"b"}), "b to lead what a let go")


async def test_one_name_once_per_node(pg_database: str) -> None:
    jobs = Jobs()
    async with fast(pg_database, "a") as a, running(a.run("telegram:bot", jobs.job("a"))):
        await eventually(lambda: _true(jobs.running == {"a"}), "a to lead")
        with pytest.raises(ValueError, match="already runs on this node"):
            await a.run("telegram:bot", jobs.job("a2"))


async def test_one_node_always_leads() -> None:
    """The SQLite store's: one node, the job runs at once."""
    jobs = Jobs()
    async with running(AlwaysLead().run("telegram:bot", jobs.job("only"))):
        await eventually(lambda: _true(jobs.running == {"only"}), "the job to run")


async def test_a_node_that_cannot_reach_the_database_leads_nothing() -> None:
    jobs = Jobs()
    # a port nobody listens on: the connection fails, and is tried again every tick
    async with PgLeadership("postgresql://postgres@127.0.0.1:1/none", "lost", tick=0.05) as lost, \
            running(lost.run("telegram:bot", jobs.job("lost"))):
        await eventually(lambda: _true(lost._failing is not None), "the connection to fail")
        assert jobs.running == set() and lost.leading() == []


async def _true(value: bool) -> bool:
    return value
