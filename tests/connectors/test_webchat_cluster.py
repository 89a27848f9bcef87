"""The site chat on two nodes: a visitor's tab is open on one node, the
reply is sent by the other's outbox. The nodes share the core and its store
(here the real router over SQLite, the one store both nodes write) and are
linked as a cluster is, by the event log on a real PostgreSQL
(``router.cluster.pg_bus``); each node's chat is its own connector on its
own HTTP server. The whole service on two nodes is
tests/router/cluster/test_two_nodes.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from connectors.webchat import WebChatConnector, WebChatOptions
from router.bus import Event, EventBus
from router.cluster.pg_bus import PgCluster
from router.config import OutboxConfig, RoutingConfig
from router.core import Router
from router.metrics import Metrics
from router.models import Agent, Delivery, Message, Role
from router.outbox.service import OutboxWorker
from router.routing.decide import DefaultTeamRouting
from router.store.postgres import PostgresStore
from router.store.sqlite import SQLiteStore
from tests.conftest import HANG, eventually
from tests.connectors.webchat_helpers import barrier, hello, new_visitor, receive, reload_history, say, tab, visitor_ref

Client = TestClient[web.Request, web.Application]


@dataclass
class Node:
    chat: WebChatConnector
    client: Client
    bus: EventBus
    outbox: OutboxWorker


@dataclass
class Cluster:
    store: SQLiteStore
    router: Router
    agent: Agent
    a: Node
    b: Node

    async def reply(self, visitor_id: str, text: str) -> Message:
        """An agent's reply to the visitor's conversation, queued in the outbox."""
        customer = await self.store.find_identity(visitor_ref(visitor_id))
        assert customer is not None
        conversation_id = (await self.store.customer_messages(customer.id, 10))[-1].conversation_id
        assert conversation_id is not None
        return await self.router.conversations.reply(conversation_id, self.agent, text)

    async def delivery(self, message: Message) -> Delivery:
        assert message.conversation_id is not None
        stored = await self.store.list_messages(message.conversation_id, 50)
        return next(m.delivery for m in stored if m.id == message.id)

    async def settled(self) -> None:
        """Each node has handled what the other published before now (a
        node handles the log in order, each message to the end)."""
        for source, target in ((self.a, self.b), (self.b, self.a)):
            async with target.bus.subscribe() as sub:
                source.bus.publish(Event("test.marker"))
                async with asyncio.timeout(HANG):
                    while (event := await sub.queue.get()) is not None and event.type != "test.marker":
                        pass


@pytest.fixture
async def cluster(tmp_path: Path, pg_database: str,
                  aiohttp_client: Callable[..., Awaitable[Client]]) -> AsyncIterator[Cluster]:
    async with PostgresStore(pg_database, pool_size=1):
        pass  # the event log's schema
    async with SQLiteStore(tmp_path / "shared.db") as store:
        router = Router(store, EventBus(), DefaultTeamRouting(RoutingConfig()), Metrics())
        nodes: list[Node] = []
        async with PgCluster(pg_database, "a", EventBus()) as link_a, PgCluster(pg_database, "b", EventBus()) as link_b:
            for link in (link_a, link_b):
                chat = WebChatConnector("webchat", WebChatOptions(), router)
                chat.peers = link
                app = web.Application()
                chat.setup_routes(app)
                outbox = OutboxWorker(store, link.bus, {"webchat": chat}, OutboxConfig(), Metrics(), asyncio.Event())
                nodes.append(Node(chat, await aiohttp_client(app), link.bus, outbox))
            router.connect({"webchat": nodes[0].chat})
            agent = await store.create_agent("ann", "Ann", Role.AGENT, "x")
            yield Cluster(store, router, agent, *nodes)


async def test_a_reply_sent_on_one_node_reaches_the_tab_open_on_the_other_and_is_marked_sent(
        cluster: Cluster) -> None:
    async with tab(cluster.b.client) as ws:
        visitor_id = (await hello(ws))["visitor_id"]
        await say(ws, "Где мой заказ?")
        reply = await cluster.reply(visitor_id, "Уже в пути")

        await cluster.a.outbox.run_once()  # node A sends it, and has no tab of the visitor's

        frame = await receive(ws)
        assert (frame["type"], frame["id"], frame["author"], frame["text"]) == ("message", reply.id, "agent",
                                                                                "Уже в пути")
        await eventually(lambda: _is(cluster, reply, Delivery.SENT), "the reply marked sent by node B")
        await cluster.settled()
        await barrier(ws)  # and only once
    assert await cluster.store.pending_outbox(10) == []


async def test_with_no_tab_on_any_node_it_waits_unsent_until_the_visitor_returns(cluster: Cluster) -> None:
    visitor_id, _ = await new_visitor(cluster.b.client, "call me back")
    reply = await cluster.reply(visitor_id, "Tomorrow at 10")

    await cluster.a.outbox.run_once()
    await cluster.settled()  # node B heard of it too, and had no tab either

    assert await cluster.delivery(reply) is Delivery.PENDING
    assert await cluster.store.pending_outbox(10) == []  # waiting, not retried, never dead
    history = await reload_history(cluster.a.client, visitor_id)  # back, on the other node
    assert [(m["author"], m["text"]) for m in history] == [("customer", "call me back"), ("agent", "Tomorrow at 10")]
    await eventually(lambda: _is(cluster, reply, Delivery.SENT), "the reply marked sent by the welcome")


async def test_tabs_of_one_visitor_on_both_nodes_both_get_the_reply_and_each_others_messages(
        cluster: Cluster) -> None:
    async with tab(cluster.a.client) as on_a, tab(cluster.b.client) as on_b:
        visitor_id = (await hello(on_a))["visitor_id"]
        await hello(on_b, visitor_id)
        ack = await say(on_b, "from the tab on B")
        echo = await receive(on_a)
        assert (echo["type"], echo["id"], echo["text"]) == ("message", ack["id"], "from the tab on B")

        reply = await cluster.reply(visitor_id, "to both")
        await cluster.a.outbox.run_once()

        for ws in (on_a, on_b):
            frame = await receive(ws)
            assert (frame["id"], frame["text"]) == (reply.id, "to both")
        assert await cluster.delivery(reply) is Delivery.SENT
        await cluster.settled()
        for ws in (on_a, on_b):
            await barrier(ws)


async def _is(cluster: Cluster, message: Message, delivery: Delivery) -> bool:
    return await cluster.delivery(message) is delivery
