"""A node starting beside a live one (issue 21): its resume routes the
messages stored but not routed, and may read one that the live node stored
and is routing at that moment. Either node may then put it in its
conversation, and only that one tells everyone: one ``message.created``
per message across the nodes, never two (an agent saw it twice)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import asyncpg
import pytest

from router.bus import Event, EventBus, Subscription
from router.core import Router
from router.metrics import Metrics
from router.models import IdentityRef, utcnow
from router.routing.rules import RulesRouting, load_rules
from router.store.postgres import PostgresStore
from tests.conftest import eventually
from tests.router.bot.conftest import say
from tests.router.routing.rules.conftest import write_config

ROUNDS = 5


@pytest.fixture
async def nodes(pg_database: str, tmp_path: Path) -> AsyncIterator[tuple[Router, Router]]:
    rules = load_rules(write_config(tmp_path / "config"))
    async with PostgresStore(pg_database) as a, PostgresStore(pg_database) as b:
        yield Router(a, EventBus(), RulesRouting(rules, utcnow), Metrics()), Router(
            b, EventBus(), RulesRouting(rules, utcnow), Metrics())


def created(subscriptions: list[Subscription]) -> Counter[str]:
    events: list[Event | None] = []
    for sub in subscriptions:
        while not sub.queue.empty():
            events.append(sub.queue.get_nowait())
    return Counter(e.data["message"]["id"] for e in events if e is not None and e.type == "message.created")


async def waiting_for_locks(conn: asyncpg.Connection, n: int) -> bool:
    waiting = await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                  " AND wait_event_type = 'Lock'")
    return bool(waiting >= n)


async def test_a_message_routed_by_a_resuming_node_and_its_own_node_is_announced_once(
    nodes: tuple[Router, Router], pg_database: str,
) -> None:
    """The live node's routing of a new customer's first message is held at
    the customer's row (as a slow database would) until the starting node's
    resume has read the message unrouted and waits too; then both go on."""
    live, starting = nodes
    holder = await asyncpg.connect(pg_database)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(holder.close)
        subscriptions = [await stack.enter_async_context(node.bus.subscribe()) for node in nodes]
        for n in range(ROUNDS):
            customer = await live.store.resolve_identity(IdentityRef(kind="webchat", value=f"v{n}"), None, utcnow())
            hold = holder.transaction()
            await hold.start()
            # what routing a first message locks; the ingest's share lock on it is not held back
            await holder.execute("SELECT 1 FROM customers WHERE id = $1 FOR NO KEY UPDATE", customer.id)
            arriving = asyncio.ensure_future(live.on_message(say(1, "привет", f"v{n}")))
            await eventually(lambda: waiting_for_locks(holder, 1), "the live node's routing held")
            resuming = asyncio.ensure_future(starting.ingest.resume())
            await eventually(lambda: waiting_for_locks(holder, 2), "the resuming node held too")
            await hold.rollback()
            accepted, _ = await asyncio.gather(arriving, resuming)
            assert created(subscriptions) == Counter({accepted.message_id: 1}), f"round {n}"
            conversation = await live.store.get_conversation(str(accepted.conversation_id))
            assert conversation.customer_id == customer.id
            assert [c.id for c in await starting.store.customer_conversations(customer.id)] == [conversation.id]
