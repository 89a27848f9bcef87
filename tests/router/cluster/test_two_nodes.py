"""Two ``omnirouter run`` processes against one real PostgreSQL: a customer
in the site chat on node A, an agent in the console on node B, both live.
The agent sees the customer's message as it arrives; the reply, sent on B,
reaches the customer's socket on A and is then marked sent."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import HANG
from tests.e2e.conftest import ADMIN_PASSWORD, free_port, wait_healthy


@asynccontextmanager
async def node(tmp_path: Path, dsn: str, name: str) -> AsyncIterator[str]:
    """``omnirouter run`` as node ``name``; its base URL."""
    port = free_port()
    folder = tmp_path / name
    folder.mkdir()
    (folder / "omnirouter.yaml").write_text(f"server:\n  port: {port}\nstore:\n  backend: postgres\n",
                                            encoding="utf-8")
    env = {**os.environ, "OMNIROUTER_ADMIN_PASSWORD": ADMIN_PASSWORD, "OMNIROUTER_DATABASE_URL": dsn,
           "OMNIROUTER_NODE_ID": name}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "router.cli", "run", "--config", str(folder),
                                                env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(base, proc)
        yield base
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), HANG)


async def _next(ws: aiohttp.ClientWebSocketResponse, wanted: Any) -> dict[str, Any]:
    """The next frame ``wanted`` accepts, skipping others."""
    async with asyncio.timeout(HANG):
        while True:
            frame: dict[str, Any] = await ws.receive_json()
            if wanted(frame):
                return frame


async def test_a_customer_on_node_a_and_an_agent_on_node_b_both_live(tmp_path: Path, pg_database: str) -> None:
    async with node(tmp_path, pg_database, "a") as a, node(tmp_path, pg_database, "b") as b, \
            aiohttp.ClientSession() as customer, \
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as agent:  # cookies of an IP address
        login = await agent.post(f"{b}/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert login.status == 200, await login.text()
        async with agent.ws_connect(f"{b}/api/ws", origin=b) as console, \
                customer.ws_connect(f"{a}/chat/ws") as chat:
            await chat.send_json({"type": "hello"})
            assert (await chat.receive_json())["type"] == "welcome"
            await chat.send_json({"type": "message", "text": "Где мой заказ?", "client_id": "c1"})
            ack = await _next(chat, lambda f: f["type"] == "ack")

            created = await _next(console, lambda f: f["type"] == "message.created"
                                  and f["data"]["message"]["id"] == ack["id"])
            conversation_id = created["data"]["conversation"]["id"]
            sent = await agent.post(f"{b}/api/conversations/{conversation_id}/messages", json={"text": "В пути"})
            assert sent.status == 201, await sent.text()
            reply = (await sent.json())["message"]

            frame = await _next(chat, lambda f: f["type"] == "message" and f["author"] == "agent")
            assert (frame["id"], frame["text"]) == (reply["id"], "В пути")
            await _next(console, lambda f: f["type"] == "message.updated"
                        and f["data"]["message"]["id"] == reply["id"] and f["data"]["message"]["delivery"] == "sent")
