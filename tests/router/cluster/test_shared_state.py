"""State two nodes share through the database: a platform account's send
pace (one bot's limit is the cluster's, not each node's) and the console's
login throttle (N nodes do not allow N times the guesses). Each node is a
PostgresStore of its own (its own pool) on one real PostgreSQL database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from router.cluster.postgres_pace import PgPace
from router.cluster.postgres_throttle import PgLoginAttempts
from router.store.pg_engine import PgConn
from router.store.postgres import PostgresStore

# a slot every 100 s: a test's calls all come long before the next one is due,
# so the slots they took are spaced by the pace alone, whatever the machine's speed
RATE = 0.01
INTERVAL = 1 / RATE
ATTEMPTS, LOCKOUT = 5, 60.0


@pytest.fixture
async def nodes(pg_database: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    async with PostgresStore(pg_database) as a, PostgresStore(pg_database) as b:
        yield a, b


async def test_two_nodes_share_one_send_pace(nodes: tuple[PostgresStore, PostgresStore]) -> None:
    paces = [PgPace(node.engine) for node in nodes]
    # ten sends at once, five from each node: ten slots, one pace apart, in the order granted
    waits = await asyncio.gather(*(paces[i % 2].reserve("telegram:bot", RATE, 1, 20 * INTERVAL) for i in range(10)))
    assert sorted(round(w / INTERVAL) for w in waits) == list(range(10))
    # another account's pace is its own
    assert await paces[1].reserve("telegram:other", RATE, 1, 0) == 0


async def test_a_burst_then_the_pace(nodes: tuple[PostgresStore, PostgresStore]) -> None:
    a, b = (PgPace(node.engine) for node in nodes)
    assert [await p.reserve("twilio:sender", RATE, 3, 0) for p in (a, b, a)] == [0, 0, 0]
    assert round(await b.reserve("twilio:sender", RATE, 3, 2 * INTERVAL) / INTERVAL) == 1


async def test_a_slot_too_far_away_is_refused_and_not_taken(nodes: tuple[PostgresStore, PostgresStore]) -> None:
    a, b = (PgPace(node.engine) for node in nodes)
    await a.reserve("vk:community", RATE, 1, 0)
    with pytest.raises(TimeoutError):
        await b.reserve("vk:community", RATE, 1, INTERVAL / 2)
    with pytest.raises(TimeoutError):  # a slot at once is no slot at all here
        await a.slot("vk:community", RATE, 1, INTERVAL / 2)
    # the refusals took nothing: the next slot is still the second one
    assert round(await b.reserve("vk:community", RATE, 1, 10 * INTERVAL) / INTERVAL) == 1


async def test_idle_buckets_are_swept(nodes: tuple[PostgresStore, PostgresStore]) -> None:
    a = PgPace(nodes[0].engine)
    await a.reserve("telegram:bot:chat:1", 1000.0, 1, 0)  # due a millisecond later
    await nodes[0].engine().write(_age_buckets)
    await a.sweep()
    assert await nodes[1].engine().read(_count, "send_pace") == 0


async def test_two_nodes_share_one_login_throttle(nodes: tuple[PostgresStore, PostgresStore]) -> None:
    a, b = (PgLoginAttempts(node.engine, ATTEMPTS, LOCKOUT) for node in nodes)
    key = ("admin", "203.0.113.7")
    for i in range(ATTEMPTS):  # the guesses spread over both nodes
        assert await (a, b)[i % 2].attempt(key) is None
    for node in (a, b):  # locked on both
        wait = await node.attempt(key)
        assert wait is not None and 0 < wait <= LOCKOUT
    assert await a.attempt(("admin", "198.51.100.1")) is None  # another address is not locked
    assert await b.attempt(("ann", "203.0.113.7")) is None  # nor another account


async def test_parallel_guesses_on_two_nodes_cannot_slip_past(nodes: tuple[PostgresStore, PostgresStore]) -> None:
    """Forty guesses at once, half on each node: exactly the allowed number
    are counted and go on to the password check, the rest are refused."""
    a, b = (PgLoginAttempts(node.engine, ATTEMPTS, LOCKOUT) for node in nodes)
    key = ("admin", "203.0.113.7")
    answers = await asyncio.gather(*((a, b)[i % 2].attempt(key) for i in range(40)))
    assert sum(answer is None for answer in answers) == ATTEMPTS


async def test_a_success_on_one_node_clears_the_failures_for_all(nodes: tuple[PostgresStore, PostgresStore]) -> None:
    a, b = (PgLoginAttempts(node.engine, ATTEMPTS, LOCKOUT) for node in nodes)
    key = ("admin", "203.0.113.7")
    for _ in range(ATTEMPTS - 1):
        assert await a.attempt(key) is None
    await b.succeeded(key)
    for _ in range(ATTEMPTS - 1):  # a clean slate: as many again before a lock-out
        assert await a.attempt(key) is None
    await a.sweep()  # recent failures are kept
    assert await b.attempt(key) is None
    assert await a.attempt(key) is not None


async def _age_buckets(conn: PgConn) -> None:
    await conn.execute("UPDATE send_pace SET tat = tat - interval '1 hour'")


async def _count(conn: PgConn, table: str) -> int:
    count: int = await conn.fetchval(f"SELECT count(*) FROM {table}")
    return count
