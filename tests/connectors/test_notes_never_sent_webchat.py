"""Invariant 8 on the site chat: a private note reaches no tab of the
visitor's, live or on a reload, on the node that holds the tab or through
another node's relay; the reply written after it does (so the pipe works)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from router.bus import Event
from router.config import Settings
from router.models import Role
from router.notes.service import Notes
from router.server.app import STORE
from tests.conftest import HANG, AppClient, eventually
from tests.connectors import test_webchat_cluster
from tests.connectors.test_webchat_cluster import Cluster
from tests.connectors.twilio_helpers import console
from tests.connectors.webchat_helpers import (
    Client,
    Frame,
    barrier,
    hello,
    receive,
    reload_history,
    say,
    tab,
    visitor_ref,
)
from tests.connectors.webchat_helpers import webchat_settings as with_chat

NOTE = "PRIVATE-NOTE-5c1e: the courier lost it, offer a refund"
MARKER = "PRIVATE-NOTE-5c1e"
REPLY = "Checking with the courier now."

cluster = test_webchat_cluster.cluster  # the two nodes' fixture


@pytest.fixture
async def chat(make_client: AppClient, settings: Settings) -> Client:
    return await make_client(with_chat(settings))


async def conversation_of(store: Any, visitor_id: str) -> str:
    customer = await store.find_identity(visitor_ref(visitor_id))
    assert customer is not None
    return str((await store.customer_conversations(customer.id))[0].id)


def words(frames: list[Frame]) -> str:
    return repr(frames)


async def test_a_note_reaches_no_open_tab_and_no_reloaded_history(chat: Client) -> None:
    http: aiohttp.ClientSession = await console(chat)
    try:
        async with tab(chat) as ws:
            visitor_id = (await hello(ws))["visitor_id"]
            await say(ws, "Где мой заказ?")
            conversation_id = await conversation_of(chat.app[STORE], visitor_id)
            async with http.post(f"/api/conversations/{conversation_id}/notes", json={"text": NOTE}) as resp:
                assert resp.status == 201
            async with http.post(f"/api/conversations/{conversation_id}/messages", json={"text": REPLY}) as resp:
                assert resp.status == 201
            frames = []
            while not any(f.get("text") == REPLY for f in frames):
                frames.append(await receive(ws))
            await barrier(ws)  # every frame sent to the tab before now was read
            assert MARKER not in words(frames)
        # the page reloaded: the welcome's history, and a second reload after the reply was marked sent
        for _ in range(2):
            history = await reload_history(chat, visitor_id)
            assert [(m["author"], m["text"]) for m in history] == [("customer", "Где мой заказ?"), ("agent", REPLY)]
            assert MARKER not in words(history)
    finally:
        await http.close()


async def test_a_note_crosses_nodes_to_the_consoles_but_never_to_the_tab_on_the_other_node(cluster: Cluster) -> None:
    bob = await cluster.store.create_agent("bob", "Bob", Role.AGENT, "x")
    async with tab(cluster.b.client) as ws, cluster.b.bus.subscribe() as on_b:
        visitor_id = (await hello(ws))["visitor_id"]
        await say(ws, "Где мой заказ?")
        conversation_id = await conversation_of(cluster.store, visitor_id)
        # written on node A: its consoles' events travel to node B's bus (Bob may be logged in there)
        note = await Notes(cluster.store, cluster.a.bus, cluster.router.clock).write(
            conversation_id, cluster.agent, f"@bob {NOTE}")
        seen: list[Event] = []
        async with asyncio.timeout(HANG):
            while not any(e.type == "note.mentioned" for e in seen):
                event = await on_b.queue.get()
                assert event is not None
                seen.append(event)
        mentioned = next(e for e in seen if e.type == "note.mentioned")
        assert mentioned.data["to_agent"] == bob.id and mentioned.data["mention"]["note"]["id"] == note.id

        reply = await cluster.reply(visitor_id, REPLY)
        await cluster.a.outbox.run_once()  # node A sends; the tab is on node B, reached by the relay
        frame = await receive(ws)
        assert (frame["id"], frame["text"]) == (reply.id, REPLY)
        await cluster.settled()
        await barrier(ws)  # nothing else came: no note, relayed or not
    history = await reload_history(cluster.a.client, visitor_id)
    assert MARKER not in words(history)
    assert await eventually(lambda: _empty(cluster), "the outbox to be empty") is True


async def _empty(nodes: Cluster) -> bool:
    return await nodes.store.pending_outbox(10) == []
