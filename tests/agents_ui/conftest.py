"""The console's tests run the whole service (tests/conftest.py) without the
site chat: replies then have no connector to go out by and are dead-lettered,
which is how the console learns of a failed delivery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from agents_ui.sessions import ADMIN_SEED
from router.appkeys import ROUTER
from router.config import Settings
from router.models import IdentityRef, InboundMessage
from router.server.app import create_app
from tests.conftest import ADMIN_PASSWORD, HANG

Client = TestClient[web.Request, web.Application]
Http = TestClient[web.Request, web.Application] | aiohttp.ClientSession
OpenSession = Callable[[Client], Awaitable[aiohttp.ClientSession]]

AGENT_PASSWORD = "agent-password-1"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.connectors = {}
    return settings


@pytest.fixture
async def open_session() -> AsyncIterator[OpenSession]:
    """Another browser on the same service: its own cookie jar."""
    opened: list[aiohttp.ClientSession] = []

    async def open_(client: Client) -> aiohttp.ClientSession:
        # unsafe: the test server is an IP address, whose cookies a jar refuses by default
        http = aiohttp.ClientSession(str(client.server.make_url("")), cookie_jar=aiohttp.CookieJar(unsafe=True))
        opened.append(http)
        return http

    yield open_
    for http in opened:
        await http.close()


async def login(http: Http, username: str = "admin", password: str = ADMIN_PASSWORD) -> dict[str, Any]:
    resp = await http.post("/api/login", json={"username": username, "password": password})
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def create_agent(admin: Http, username: str = "ann", role: str = "agent") -> dict[str, Any]:
    new = {"username": username, "display_name": username.title(), "password": AGENT_PASSWORD, "role": role}
    resp = await admin.post("/api/agents", json=new)
    assert resp.status == 201, await resp.text()
    agent: dict[str, Any] = (await resp.json())["agent"]
    return agent


async def signed_in(client: Client, open_session: OpenSession, username: str, password: str = AGENT_PASSWORD
                    ) -> aiohttp.ClientSession:
    """A session of its own (a browser of its own) for ``username``, signed in."""
    http = await open_session(client)
    await login(http, username, password)
    return http


@pytest.fixture
async def agent_http(client: Client, open_session: OpenSession) -> aiohttp.ClientSession:
    """A logged-in agent (role agent) beside the admin, who stays logged in on ``client``."""
    await login(client)
    await create_agent(client)
    return await signed_in(client, open_session, "ann")


async def error_of(resp: aiohttp.ClientResponse) -> tuple[int, str, str]:
    """(status, code, message) of an error answer, which is always JSON."""
    assert resp.content_type == "application/json", await resp.text()
    error = (await resp.json())["error"]
    return resp.status, error["code"], error["message"]


async def customer_writes(client: Client, text: str, sender: str = "visitor-1", external_id: str = "1",
                          name: str | None = "Анна") -> str:
    """A customer message, handed to the router as a connector would."""
    accepted = await client.app[ROUTER].on_message(
        InboundMessage(channel="webchat", external_id=external_id, sender=IdentityRef(kind="webchat", value=sender),
                       text=text, sender_name=name)
    )
    assert accepted.conversation_id is not None
    return accepted.conversation_id


async def next_event(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The data of the next ``kind`` frame, skipping others."""
    while True:
        frame = await asyncio.wait_for(ws.receive_json(), HANG)
        if frame["type"] == kind:
            data: dict[str, Any] = frame["data"]
            return data


async def admin_with_teams(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           aiohttp_client: Callable[..., Awaitable[Client]], teams_yaml: str,
                           rules_yaml: str | None = None) -> Client:
    """The service on a config folder holding ``teams_yaml`` as its teams.yaml (and ``rules_yaml`` as its
    rules.yaml), the admin logged in."""
    monkeypatch.setenv("OMNIROUTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
    config = tmp_path / "config"
    config.mkdir()
    (config / "teams.yaml").write_text(teams_yaml, encoding="utf-8")
    if rules_yaml is not None:
        (config / "rules.yaml").write_text(rules_yaml, encoding="utf-8")
    app = create_app(settings, config_dir=config, base_dir=tmp_path)
    client = await aiohttp_client(app)
    await app[ADMIN_SEED].wait()
    await login(client)
    return client
