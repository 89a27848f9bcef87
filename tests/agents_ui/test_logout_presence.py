"""Logging out ends availability: the end of an agent's last live session
takes them offline as choosing offline would (unopened offers back to the
queue, the presence event every console and the wallboard hear), while a
session of theirs in another browser keeps them as they are."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from router.config import Settings
from tests.agents_ui.conftest import (
    AGENT_PASSWORD,
    Client,
    OpenSession,
    admin_with_teams,
    customer_writes,
    next_event,
    signed_in,
)
from tests.conftest import eventually

TEAMS_YAML = """\
teams: {support: {}}
agents:
  - {username: admin, teams: [support], capacity: {chat: 0}}
"""


@pytest.fixture
async def client(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                 aiohttp_client: Callable[..., Awaitable[Client]]) -> Client:
    """The service with a support team, and ann in it (who may take chats), the admin logged in."""
    client = await admin_with_teams(settings, tmp_path, monkeypatch, aiohttp_client, TEAMS_YAML)
    resp = await client.post("/api/agents", json={
        "username": "ann", "display_name": "Ann", "password": AGENT_PASSWORD,
        "routing": {"teams": ["support"], "capacity": {"chat": 2}}})
    assert resp.status == 201, await resp.text()
    return client


async def presence_of(client: Client, username: str) -> str:
    rows = (await (await client.get("/api/agents/roster")).json())["agents"]
    presence: str = next(r["presence"] for r in rows if r["agent"]["username"] == username)
    return presence


async def conversation(client: Client, conversation_id: str) -> dict[str, Any]:
    data: dict[str, Any] = (await (await client.get(f"/api/conversations/{conversation_id}")).json())["conversation"]
    return data


async def go_online(http: aiohttp.ClientSession) -> None:
    assert (await http.post("/api/presence", json={"presence": "online"})).status == 200


async def test_logging_out_takes_the_agent_offline_and_gives_back_the_offers_not_opened(
        client: Client, open_session: OpenSession) -> None:
    ann = await signed_in(client, open_session, "ann")
    ann_id = (await (await ann.get("/api/me")).json())["agent"]["id"]
    await go_online(ann)
    offered = await customer_writes(client, "I need a person, please")

    async def offered_to_ann() -> bool | None:
        c = await conversation(client, offered)
        return True if (c["status"], c["agent_id"]) == ("assigned", ann_id) else None

    await eventually(offered_to_ann, "the conversation offered to ann")
    admin_ws = await client.ws_connect("/api/ws")
    assert (await ann.post("/api/logout", json={})).status == 204

    # the wallboard and every console hear it, as when she chooses offline
    event = await next_event(admin_ws, "agent.presence")
    assert (event["agent_id"], event["presence"]) == (ann_id, "offline")
    assert await presence_of(client, "ann") == "offline"
    released = await conversation(client, offered)
    assert (released["status"], released["agent_id"]) == ("queued", None)
    await admin_ws.close()


async def test_logging_out_of_one_browser_keeps_the_agent_online_while_another_session_of_theirs_lives(
        client: Client, open_session: OpenSession) -> None:
    desk, laptop = await signed_in(client, open_session, "ann"), await signed_in(client, open_session, "ann")
    await go_online(desk)
    assert (await desk.post("/api/logout", json={})).status == 204
    assert await presence_of(client, "ann") == "online"
    assert (await (await laptop.get("/api/me")).json())["agent"]["username"] == "ann"
    assert (await laptop.post("/api/logout", json={})).status == 204
    assert await presence_of(client, "ann") == "offline"


async def test_logging_out_while_offline_changes_nothing_of_the_presence(client: Client,
                                                                         open_session: OpenSession) -> None:
    """Offline already: no new "offline since", no event to every console."""
    ann = await signed_in(client, open_session, "ann")
    await go_online(ann)
    assert (await ann.post("/api/presence", json={"presence": "offline"})).status == 200
    before = (await (await client.get("/api/presence")).json())["presence"]
    assert (await ann.post("/api/logout", json={})).status == 204
    assert (await (await client.get("/api/presence")).json())["presence"] == before
