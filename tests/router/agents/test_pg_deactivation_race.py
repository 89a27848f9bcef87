"""A take (or an admin's assignment) racing a deactivation, on two nodes of a
real PostgreSQL: the one is the real step (``_deactivate``, ``_set_state``)
run on a connection of its own and held open after its writes until the
other waits for it, so the window is hit every time. Whichever commits
first, no conversation stays assigned to a deactivated agent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from router.agents.postgres import _deactivate
from router.conversations.postgres import _set_state
from router.conversations.states import AgentDeactivated
from router.models import ConversationStatus, Role
from router.store.postgres import PostgresStore
from tests.conftest import eventually
from tests.router.routing.test_assignment import Clock, queue
from tests.router.store.test_pg_merge_races import held_open

QUEUED = {ConversationStatus.QUEUED}


@pytest.fixture
async def nodes(pg_database: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    """Two nodes on one database."""
    async with PostgresStore(pg_database) as one, PostgresStore(pg_database) as two:
        yield one, two


async def _waits_or_done(node: PostgresStore, task: asyncio.Task[object]) -> bool:
    """Until ``task`` waits for a lock, or is done without waiting (then the assertions say what it did)."""
    async def probe() -> bool:
        if task.done():
            return True
        async with node._pg.pool.acquire() as conn:
            return bool(await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"))

    return await eventually(probe, "the take to wait for the deactivation's lock")


async def test_a_take_waiting_for_a_deactivation_is_refused(nodes: tuple[PostgresStore, PostgresStore]) -> None:
    store, second = nodes
    clock = Clock()
    await store.create_agent("admin", "Admin", Role.ADMIN, "h")
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "h")
    conv = await queue(store, clock)
    async with held_open(second) as other:
        await _deactivate(other, ann.id, clock())
        taking = asyncio.create_task(store.set_conversation_state(
            conv, ConversationStatus.ASSIGNED, ann.id, clock(), expected=QUEUED))
        await _waits_or_done(store, taking)  # type: ignore[arg-type]
    with pytest.raises(AgentDeactivated):
        await taking
    view = await store.get_conversation(conv)
    assert (view.status, view.agent_id) == (ConversationStatus.QUEUED, None)


async def test_a_deactivation_waiting_for_a_take_requeues_it(nodes: tuple[PostgresStore, PostgresStore]) -> None:
    store, second = nodes
    clock = Clock()
    await store.create_agent("admin", "Admin", Role.ADMIN, "h")
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "h")
    conv = await queue(store, clock)
    async with held_open(second) as other:
        await _set_state(other, conv, ConversationStatus.ASSIGNED, ann.id, clock(), QUEUED)
        deactivating = asyncio.create_task(store.deactivate_agent(ann.id, clock()))
        await _waits_or_done(store, deactivating)  # type: ignore[arg-type]
    done = await deactivating
    assert [c.id for c in done.requeued] == [conv]
    view = await store.get_conversation(conv)
    assert (view.status, view.agent_id) == (ConversationStatus.QUEUED, None)
