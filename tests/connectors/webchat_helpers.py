"""What the site chat's tests share: what the widget does over its websocket
(open a tab, hello, say, reload, wait for errors and pongs) and the service
configured with the chat."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient

from connectors.webchat_tokens import public_part
from router.config import ConnectorConfig, Settings
from router.models import Customer, Direction, IdentityRef, Message
from router.server.app import STORE
from tests.conftest import HANG

Client = TestClient[web.Request, web.Application]
Frame = dict[str, Any]

WS = "/chat/ws"


# -- helpers: what the widget does ---------------------------------------------


@asynccontextmanager
async def tab(client: Client, **kwargs: Any) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """One browser tab's socket."""
    async with client.ws_connect(WS, **kwargs) as ws:
        yield ws


async def receive(ws: aiohttp.ClientWebSocketResponse) -> Frame:
    # not ws.receive(timeout=...): that timeout starts again at each ping the
    # server's heartbeat sends (aiohttp answers it inside receive), so a frame
    # that never comes would be waited for forever instead of failing the test
    async with asyncio.timeout(HANG):
        msg = await ws.receive()
    assert msg.type is WSMsgType.TEXT, f"expected a text frame, got {msg.type!r} {msg.data!r}"
    frame = json.loads(msg.data)
    assert isinstance(frame, dict)
    return frame


async def hello(ws: aiohttp.ClientWebSocketResponse, visitor_id: str | None = None, **fields: Any) -> Frame:
    frame: Frame = {"type": "hello", **fields}
    if visitor_id is not None:
        frame["visitor_id"] = visitor_id
    await ws.send_json(frame)
    welcome = await receive(ws)
    assert welcome["type"] == "welcome", welcome
    return welcome


async def say(ws: aiohttp.ClientWebSocketResponse, text: str, client_id: str | None = None) -> Frame:
    """Send a message and return its ack."""
    client_id = client_id or str(uuid.uuid4())
    await ws.send_json({"type": "message", "text": text, "client_id": client_id})
    ack = await receive(ws)
    assert ack == {"type": "ack", "client_id": client_id, "id": ack.get("id")}, ack
    assert isinstance(ack["id"], str) and ack["id"]
    return ack


async def new_visitor(client: Client, text: str) -> tuple[str, Frame]:
    """A visitor who wrote one message and closed the tab: (visitor_id, ack)."""
    async with tab(client) as ws:
        visitor_id = (await hello(ws))["visitor_id"]
        return visitor_id, await say(ws, text)


def visitor_ref(visitor_id: str) -> IdentityRef:
    """The visitor's identity as the router keeps it: the public part of the token the
    welcome gave (the token itself is a credential, kept by the widget alone)."""
    return IdentityRef(kind="webchat", value=public_part(visitor_id))


async def first_words(client: Client, **hello_fields: Any) -> tuple[Customer, Message]:
    """A new visitor says hello with ``hello_fields`` and "hello": the customer the router
    made of them, and that message as stored."""
    async with tab(client) as ws:
        welcome = await hello(ws, **hello_fields)
        await say(ws, "hello")
    store = client.app[STORE]
    customer = await store.find_identity(visitor_ref(welcome["visitor_id"]))
    assert customer is not None
    [stored] = [m for m in await store.customer_messages(customer.id, 10) if m.direction is Direction.IN]
    return customer, stored


async def reload_history(client: Client, visitor_id: str) -> list[Frame]:
    """What a reload of the page shows."""
    async with tab(client) as ws:
        welcome = await hello(ws, visitor_id)
        assert welcome["visitor_id"] == visitor_id, "the visitor was not recognised"
        history = welcome["history"]
        assert isinstance(history, list)
        return history


async def expect_error(ws: aiohttp.ClientWebSocketResponse, code: str) -> None:
    frame = await receive(ws)
    assert frame["type"] == "error" and frame["code"] == code, frame
    assert isinstance(frame["message"], str) and frame["message"]


async def barrier(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Everything the server sent this socket before now has been received
    (frames on one socket keep their order, and the server answers a ping
    only after it finished the frames before it)."""
    await ws.send_json({"type": "ping"})
    assert await receive(ws) == {"type": "pong"}


def webchat_settings(settings: Settings, **options: Any) -> Settings:
    settings.connectors["webchat"] = ConnectorConfig(type="webchat", **options)
    return settings
