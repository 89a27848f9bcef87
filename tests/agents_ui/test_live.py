"""``WS /api/ws``: events pushed live, who may connect, and how it ends."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from typing import NoReturn

import aiohttp
import pytest
from aiohttp import WSCloseCode, WSMsgType, web

from agents_ui.agents_api import close_ended_sockets
from agents_ui.sessions import COOKIE
from router.appkeys import STORE
from router.config import Settings
from tests.agents_ui.conftest import Client, OpenSession, customer_writes, error_of, login, next_event
from tests.conftest import ADMIN_PASSWORD, HANG, AppClient

UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
           "Sec-WebSocket-Key": "x3JJHMbDL1EzLkh9GBhXDw=="}


async def test_the_conversation_flow_is_pushed_live(client: Client) -> None:
    await login(client)
    ws = await client.ws_connect("/api/ws")
    conv = await customer_writes(client, "Где мой заказ?")
    opened = await next_event(ws, "conversation.created")
    assert opened["conversation"]["id"] == conv and opened["conversation"]["status"] == "queued"
    created = await next_event(ws, "message.created")
    assert created["message"]["text"] == "Где мой заказ?" and created["conversation"]["id"] == conv
    listed = (await (await client.get("/api/conversations")).json())["conversations"]
    assert [c["id"] for c in listed] == [conv]

    resp = await client.post(f"/api/conversations/{conv}/messages", json={"text": "Уже едет"})
    assert resp.status == 201
    reply = (await resp.json())["message"]
    assert (await next_event(ws, "conversation.assigned"))["conversation"]["status"] == "assigned"
    pushed = await next_event(ws, "message.created")
    assert pushed["message"] == reply and pushed["conversation"]["last_message_text"] == "Уже едет"
    # no connector serves the channel here: the agent learns it was not delivered, and why
    updated = (await next_event(ws, "message.updated"))["message"]
    assert (updated["id"], updated["delivery"]) == (reply["id"], "failed")
    assert "no enabled connector named 'webchat'" in updated["delivery_error"]
    messages = (await (await client.get(f"/api/conversations/{conv}/messages")).json())["messages"]
    assert messages[-1]["delivery"] == "failed"

    await client.post(f"/api/conversations/{conv}/resolve", json={})
    assert (await next_event(ws, "conversation.updated"))["conversation"]["status"] == "resolved"
    await ws.close()


async def test_the_socket_needs_a_session_and_our_own_origin(client: Client) -> None:
    resp = await client.get("/api/ws", headers=UPGRADE)
    assert (await error_of(resp))[:2] == (401, "unauthenticated")
    await login(client)
    for origin in ("https://evil.example", "null", f"http://{client.host}:1"):
        resp = await client.get("/api/ws", headers={**UPGRADE, "Origin": origin})
        assert (await error_of(resp))[:2] == (403, "forbidden"), origin
    ws = await client.ws_connect("/api/ws", origin=f"http://{client.host}:{client.port}")
    await ws.send_json({"type": "ping"})
    assert await ws.receive_json() == {"type": "pong"}
    await ws.close()


async def test_only_ping_is_understood_and_the_socket_stays_open(client: Client) -> None:
    await login(client)
    ws = await client.ws_connect("/api/ws")
    # the last: a nesting bomb past the parser's recursion limit, under the frame's size limit (was a
    # RecursionError, answered by an HTTP 500 written into the open socket)
    bomb = '{"type": "wallboard.subscribe", "x": ' + "[" * 1500 + "]" * 1500 + "}"
    for send in (ws.send_str("hello?"), ws.send_json({"type": "subscribe"}), ws.send_json([1]),
                 ws.send_bytes(b"\x00"), ws.send_str(bomb)):
        await send
        frame = await ws.receive_json()
        assert (frame["type"], frame["code"]) == ("error", "unknown_type") and frame["message"]
    await ws.send_json({"type": "ping"})
    assert await ws.receive_json() == {"type": "pong"}
    await ws.close()


async def test_logging_out_closes_that_sessions_sockets_only(client: Client, open_session: OpenSession) -> None:
    await login(client)
    mine = await client.ws_connect("/api/ws")
    other_http = await open_session(client)
    await login(other_http)
    other = await other_http.ws_connect("/api/ws")

    assert (await client.post("/api/logout", json={})).status == 204
    closing = await asyncio.wait_for(mine.receive(), HANG)
    assert closing.type is WSMsgType.CLOSE and closing.data == WSCloseCode.GOING_AWAY
    await customer_writes(client, "still live?")
    assert (await next_event(other, "message.created"))["message"]["text"] == "still live?"
    await other.close()


async def test_shutdown_closes_console_sockets_with_going_away(client: Client) -> None:
    await login(client)
    sockets = [await client.ws_connect("/api/ws") for _ in range(3)]

    async def closed(ws: aiohttp.ClientWebSocketResponse) -> int | None:
        msg = await ws.receive()
        assert msg.type is WSMsgType.CLOSE
        return ws.close_code

    codes = await asyncio.wait_for(asyncio.gather(client.server.close(), *(closed(ws) for ws in sockets)), HANG)
    assert codes[1:] == [WSCloseCode.GOING_AWAY] * 3


async def test_behind_a_proxy_the_public_address_is_our_origin(make_client: AppClient, settings: Settings) -> None:
    settings.server.public_url = "https://console.example.com/"
    client = await make_client(settings)
    resp = await client.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    # the cookie is Secure now, so this plain-http client must be handed it, as the proxy would be
    cookie = {"Cookie": f"{COOKIE}={resp.cookies[COOKIE].value}"}
    ws = await client.ws_connect("/api/ws", origin="https://console.example.com", headers=cookie)
    await ws.send_json({"type": "ping"})
    assert await ws.receive_json() == {"type": "pong"}
    await ws.close()
    resp = await client.get("/api/ws", headers={**UPGRADE, **cookie, "Origin": "https://evil.example.com"})
    assert resp.status == 403


async def test_a_browsers_offer_of_compression_is_declined_and_events_still_arrive(client: Client) -> None:
    """Browsers offer permessage-deflate: a console tab that took it kept two
    zlib states in the server and had every event compressed for it alone."""
    await login(client)
    ws = await client.ws_connect("/api/ws", compress=15)
    assert ws.compress == 0  # what the handshake agreed: none
    conv = await customer_writes(client, "Где мой заказ?")
    assert (await next_event(ws, "conversation.created"))["conversation"]["id"] == conv
    await ws.close()



def handshake_lost(monkeypatch: pytest.MonkeyPatch, socket_class: type[web.WebSocketResponse]) -> None:
    """``socket_class``'s handshake meets a client gone meanwhile, as aiohttp says it (a tab closed,
    a phone out of signal, between the upgrade's request and its answer)."""
    async def gone(self: web.WebSocketResponse, request: web.BaseRequest) -> NoReturn:
        raise ConnectionResetError("Connection lost")

    monkeypatch.setattr(socket_class, "prepare", gone)


async def meet_lost_handshake(client: Client, path: str, caplog: pytest.LogCaptureFixture) -> None:
    """An upgrade of ``path`` whose client left: no answer, and nothing logged as an error."""
    with contextlib.suppress(aiohttp.ClientError):
        async with client.get(path, headers=UPGRADE) as resp:
            await resp.read()
    assert "gone before its handshake ended" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_a_console_that_leaves_during_the_handshake_is_no_error(
        client: Client, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """A console gone while its socket was being opened (a tab closed as it reconnected) is
    nothing to serve: it was an ERROR "console API GET /api/ws failed" with a traceback, each."""
    caplog.set_level(logging.DEBUG, logger="agents_ui.live")
    await login(client)
    with monkeypatch.context() as patch:
        handshake_lost(patch, web.WebSocketResponse)
        await meet_lost_handshake(client, "/api/ws", caplog)
    ws = await client.ws_connect("/api/ws")  # and the next console is served
    await ws.send_json({"type": "ping"})
    assert await ws.receive_json() == {"type": "pong"}
    await ws.close()


def _expire_sessions(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE sessions SET expires_at = '2000-01-01T00:00:00.000000Z'")


async def test_a_session_that_expires_has_its_sockets_closed_by_the_sweep(client: Client) -> None:
    """No event announces an expiry: the sockets' sweep (every minute, run here at once) finds
    it, so a console left open past its session's end stops receiving customers' messages."""
    await login(client)
    ws = await client.ws_connect("/api/ws")
    await customer_writes(client, "before the end")
    assert (await next_event(ws, "message.created"))["message"]["text"] == "before the end"
    await client.app[STORE]._w.call(_expire_sessions)  # type: ignore[attr-defined]
    assert await close_ended_sockets(client.app) == 1
    closing = await asyncio.wait_for(ws.receive(), HANG)
    assert closing.type is WSMsgType.CLOSE and closing.data == WSCloseCode.GOING_AWAY
