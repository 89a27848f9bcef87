"""The live wallboard in the console API: ``GET /api/wallboard`` and the
websocket's ``wallboard.subscribe``, for supervisors and admins only, pushed
live, and nothing computed while nobody watches."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import aiohttp

from router.appkeys import ROUTER, WALLBOARD
from tests.agents_ui.conftest import (
    Client,
    OpenSession,
    create_agent,
    customer_writes,
    error_of,
    login,
    next_event,
    signed_in,
)
from tests.conftest import HANG, eventually


async def _as(client: Client, open_session: OpenSession, username: str, role: str) -> tuple[aiohttp.ClientSession, str]:
    await login(client)
    agent = await create_agent(client, username, role)
    return await signed_in(client, open_session, username), agent["id"]


async def _queued_until(ws: aiohttp.ClientWebSocketResponse, queued: int) -> dict[str, Any]:
    while True:
        board = await next_event(ws, "wallboard.updated")
        if board["totals"]["queued"] == queued:
            return board


async def test_a_plain_agent_may_not_see_the_wallboard(client: Client, open_session: OpenSession) -> None:
    http, _ = await _as(client, open_session, "ann", "agent")
    assert (await error_of(await http.get("/api/wallboard")))[:2] == (403, "forbidden")
    ws = await http.ws_connect("/api/ws")
    await ws.send_json({"type": "wallboard.subscribe"})
    frame = await ws.receive_json()
    assert (frame["type"], frame["code"]) == ("error", "forbidden")
    assert client.app[WALLBOARD].watching == 0
    await ws.close()


async def test_the_snapshot_counts_a_customer_waiting(client: Client, open_session: OpenSession) -> None:
    http, _ = await _as(client, open_session, "sue", "supervisor")
    before = await (await http.get("/api/wallboard")).json()
    assert before["totals"]["queued"] == 0 and before["totals"]["oldest_queued_at"] is None
    conv = await customer_writes(client, "Где мой заказ?")
    board = await (await http.get("/api/wallboard")).json()
    assert board["totals"]["queued"] == 1
    view = await (await client.get(f"/api/conversations/{conv}")).json()
    team = next(t for t in board["teams"] if t["team"] == view["conversation"]["team"])
    [channel] = team["channels"]
    assert (channel["channel"], channel["queued"]) == ("webchat", 1)
    # the longest wait counts from the conversation's opening
    assert datetime.fromisoformat(channel["oldest_queued_at"]) == datetime.fromisoformat(
        view["conversation"]["created_at"])
    # an admin may too
    assert (await client.get("/api/wallboard")).status == 200


async def test_a_supervisor_watching_sees_the_queue_grow_live(client: Client, open_session: OpenSession) -> None:
    http, _ = await _as(client, open_session, "sue", "supervisor")
    ws = await http.ws_connect("/api/ws")
    await ws.send_json({"type": "wallboard.subscribe"})
    assert (await next_event(ws, "wallboard.updated"))["totals"]["queued"] == 0  # at once, as the screen opens
    await customer_writes(client, "Где мой заказ?")
    await _queued_until(ws, 1)
    await customer_writes(client, "And mine?", sender="visitor-2", external_id="2")
    await _queued_until(ws, 2)
    await ws.send_json({"type": "wallboard.unsubscribe"})
    await eventually(lambda: _none_watch(client), "the watcher gone")
    await ws.close()


async def _none_watch(client: Client) -> bool | None:
    return True if client.app[WALLBOARD].watching == 0 else None


async def test_nothing_is_computed_while_nobody_watches(client: Client, open_session: OpenSession) -> None:
    http, _ = await _as(client, open_session, "sue", "supervisor")
    live = client.app[WALLBOARD]
    for i in range(5):
        await customer_writes(client, "hello", sender=f"v{i}", external_id=str(i))
    assert live.computations == 0
    ws = await http.ws_connect("/api/ws")
    await ws.send_json({"type": "wallboard.subscribe"})
    await _queued_until(ws, 5)
    await ws.close()  # the socket's end drops its watch
    await eventually(lambda: _none_watch(client), "the closed socket forgotten")


async def test_a_supervisor_made_agent_stops_receiving_it(client: Client, open_session: OpenSession) -> None:
    http, sue = await _as(client, open_session, "sue", "supervisor")
    ws = await http.ws_connect("/api/ws")
    await ws.send_json({"type": "wallboard.subscribe"})
    await next_event(ws, "wallboard.updated")
    resp = await client.patch(f"/api/agents/{sue}", json={"role": "agent"})
    assert resp.status == 200, await resp.text()
    await eventually(lambda: _none_watch(client), "the demoted supervisor's watch dropped")
    assert (await error_of(await http.get("/api/wallboard")))[:2] == (403, "forbidden")
    await ws.close()


async def _error_frame(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The next error frame (events of the bus may come before it)."""
    async with asyncio.timeout(HANG):  # one ceiling for the whole wait: pings restart receive's own timeout
        while True:
            frame = await ws.receive_json()
            if frame.get("type") == "error":
                return frame


async def test_a_demoted_supervisor_may_not_subscribe_again_on_the_same_socket(
        client: Client, open_session: OpenSession) -> None:
    """The socket's right is the account's CURRENT role, not the one it had when the socket opened."""
    http, sue = await _as(client, open_session, "sue", "supervisor")
    ws = await http.ws_connect("/api/ws")
    resp = await client.patch(f"/api/agents/{sue}", json={"role": "agent"})
    assert resp.status == 200, await resp.text()
    await next_event(ws, "agent.updated")  # the session lives on: the socket stays open
    await ws.send_json({"type": "wallboard.subscribe"})
    frame = await _error_frame(ws)
    assert frame["code"] == "forbidden"
    assert client.app[WALLBOARD].watching == 0
    await ws.close()


async def test_a_promoted_agent_may_subscribe_without_reconnecting(client: Client, open_session: OpenSession) -> None:
    http, ann = await _as(client, open_session, "ann", "agent")
    ws = await http.ws_connect("/api/ws")
    resp = await client.patch(f"/api/agents/{ann}", json={"role": "supervisor"})
    assert resp.status == 200, await resp.text()
    await next_event(ws, "agent.updated")
    await ws.send_json({"type": "wallboard.subscribe"})
    assert (await next_event(ws, "wallboard.updated"))["totals"]["queued"] == 0
    await ws.close()


async def test_a_crm_write_is_announced_to_the_wallboard(client: Client, open_session: OpenSession) -> None:
    """PUT /api/customers/by/... publishes customer.updated, which the wallboard reads again on
    (tests/router/wallboard/test_live.py): a customer made valuable counts without waiting for the refresh."""
    http, _ = await _as(client, open_session, "sue", "supervisor")
    conv = await customer_writes(client, "Где мой заказ?")
    customer = (await (await client.get(f"/api/conversations/{conv}")).json())["conversation"]["customer_id"]
    ws = await http.ws_connect("/api/ws")
    resp = await client.put(f"/api/customers/by/id/{customer}", json={"tier": "gold"})
    assert resp.status == 200, await resp.text()
    assert (await next_event(ws, "customer.updated"))["customer_id"] == customer
    await ws.close()


async def _bot_until(ws: aiohttp.ClientWebSocketResponse, failing: bool) -> dict[str, Any]:
    while True:
        board = await next_event(ws, "wallboard.updated")
        if board["bot"]["failing"] is failing:
            return board


async def test_a_failing_bot_is_shown_on_the_board_and_to_consoles_until_it_recovers(
    client: Client, open_session: OpenSession
) -> None:
    http, _ = await _as(client, open_session, "sue", "supervisor")
    desk = client.app[ROUTER]  # its bot_health: what the bot's turns report (tests/router/bot/test_health.py)
    assert (await (await http.get("/api/wallboard")).json())["bot"]["failing"] is False
    ws = await http.ws_connect("/api/ws")
    await ws.send_json({"type": "wallboard.subscribe"})
    await _bot_until(ws, False)
    for _ in range(5):  # the bot's backend fails its answers (router/bot/health.py counts each)
        desk.bot_health.failed()
    board = await _bot_until(ws, True)
    assert board["bot"]["failed"] == 5 and board["bot"]["since"] is not None
    snapshot = await (await http.get("/api/wallboard")).json()
    assert snapshot["bot"]["failing"] is True  # a screen opened during the outage shows it too
    for _ in range(3):
        desk.bot_health.answered()
    await _bot_until(ws, False)
    await ws.close()
    # the console's socket carried the edges themselves, once each
    ws = await http.ws_connect("/api/ws")
    for _ in range(3):
        desk.bot_health.failed()
    assert (await next_event(ws, "bot.failing"))["failed"] >= 3
    await ws.close()
