"""Two whole nodes on one PostgreSQL: an admin on one node deactivates an
agent whose console is connected to the other; that console's live socket
closes there too (the event crosses the cluster), so it hears nothing more."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from agents_ui import agents_api
from agents_ui.sessions import ADMIN_SEED
from router.cluster.node import NODE_ENV
from router.config import Settings
from router.server.app import DATABASE_URL, create_app
from tests.agents_ui.conftest import AGENT_PASSWORD, create_agent, login
from tests.agents_ui.test_agents_admin import closed
from tests.conftest import ADMIN_PASSWORD

Client = TestClient[web.Request, web.Application]


async def test_a_deactivated_agents_socket_on_another_node_closes(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, tmp_path: Path, pg_database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(agents_api, "SWEEP_EVERY", 3600.0)  # the event closes it, not the sweep
    monkeypatch.setenv(DATABASE_URL, pg_database)
    monkeypatch.setenv("OMNIROUTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
    settings.store.backend = "postgres"
    settings.connectors = {}
    clients = []
    for name in ("a", "b"):
        monkeypatch.setenv(NODE_ENV, name)
        client = await aiohttp_client(create_app(settings, base_dir=tmp_path))
        await client.app[ADMIN_SEED].wait()
        clients.append(client)
    node_a, node_b = clients
    await login(node_a)
    ann = await create_agent(node_a, "ann")
    async with aiohttp.ClientSession(str(node_b.server.make_url("")),
                                     cookie_jar=aiohttp.CookieJar(unsafe=True)) as on_b:
        await login(on_b, "ann", AGENT_PASSWORD)
        ws = await on_b.ws_connect("/api/ws")
        resp = await node_a.post(f"/api/agents/{ann['id']}/deactivate", json={})
        assert resp.status == 200, await resp.text()
        assert await closed(ws)
        assert (await on_b.get("/api/me")).status == 401
