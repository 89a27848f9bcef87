"""The site chat's live signals on two nodes (as tests/connectors/
test_webchat_cluster.py builds them: one store, two chats linked by a real
PostgreSQL): the visitor's tab is on node B, the agent's console on node A.
The agent typing and "Seen" reach the tab, the visitor typing reaches A's
consoles; none of it is a row of the event log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from connectors.webchat import WebChatConnector, WebChatOptions
from router import events
from router.bus import EventBus
from router.cluster.pg_bus import PgCluster
from router.config import RoutingConfig
from router.core import Router
from router.metrics import Metrics
from router.models import Agent, Role
from router.routing.decide import DefaultTeamRouting
from router.signals.service import Signals
from router.store.postgres import PostgresStore
from router.store.sqlite import SQLiteStore
from tests.conftest import HANG
from tests.connectors.webchat_helpers import hello, receive, say, tab, visitor_ref

Client = TestClient[web.Request, web.Application]


@dataclass
class Node:
    signals: Signals
    client: Client
    bus: EventBus


@dataclass
class TwoNodes:
    store: SQLiteStore
    agent: Agent
    a: Node
    b: Node
    dsn: str

    async def conversation_of(self, visitor_id: str) -> str:
        found = await self.store.open_conversation_of(visitor_ref(visitor_id))
        assert found is not None
        return found


@pytest.fixture
async def nodes(tmp_path: Path, pg_database: str,
                aiohttp_client: Callable[..., Awaitable[Client]]) -> AsyncIterator[TwoNodes]:
    async with PostgresStore(pg_database, pool_size=1):
        pass  # the event log's schema
    async with SQLiteStore(tmp_path / "shared.db") as store:
        router = Router(store, EventBus(), DefaultTeamRouting(RoutingConfig()), Metrics())
        built: list[Node] = []
        async with PgCluster(pg_database, "a", EventBus()) as link_a, PgCluster(pg_database, "b", EventBus()) as link_b:
            for link in (link_a, link_b):
                chat = WebChatConnector("webchat", WebChatOptions(), router)
                chat.peers = link
                signals = Signals(store, link.bus)
                signals.connect({"webchat": chat})
                chat.signals = signals
                app = web.Application()
                chat.setup_routes(app)
                built.append(Node(signals, await aiohttp_client(app), link.bus))
                # a signal is heard by the nodes listening as it goes: both are, before the test
                await asyncio.wait_for(link.listening.wait(), HANG)
            agent = await store.create_agent("ann", "Ann", Role.AGENT, "x")
            yield TwoNodes(store, agent, *built, pg_database)


async def test_the_agent_on_one_node_types_and_reads_to_a_tab_on_the_other(nodes: TwoNodes) -> None:
    async with tab(nodes.b.client) as ws:
        visitor_id = (await hello(ws))["visitor_id"]
        ack = await say(ws, "Где мой заказ?")
        conv = await nodes.conversation_of(visitor_id)

        assert await nodes.a.signals.agent_typing(conv, nodes.agent)
        assert await receive(ws) == {"type": "typing", "author": "agent"}
        await nodes.a.signals.mark_read(conv, nodes.agent, None)
        assert await receive(ws) == {"type": "seen", "id": ack["id"]}
    conn = await asyncpg.connect(nodes.dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM events WHERE topic LIKE 'webchat-signals:%'") == 0
    finally:
        await conn.close()


async def test_the_visitor_typing_on_one_node_reaches_the_consoles_of_the_other(nodes: TwoNodes) -> None:
    async with nodes.a.bus.subscribe() as console_on_a, tab(nodes.b.client) as ws:
        visitor_id = (await hello(ws))["visitor_id"]
        await say(ws, "Алло")
        conv = await nodes.conversation_of(visitor_id)
        await ws.send_json({"type": "typing"})
        async with asyncio.timeout(HANG):
            while (event := await console_on_a.queue.get()) is not None:
                if event.type == events.CONVERSATION_TYPING:
                    break
        assert event is not None and event.data == {"conversation_id": conv, "author": "customer"}
