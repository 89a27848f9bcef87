"""Logging out ends availability: the end of an agent's last live session
takes them offline as choosing offline would (unopened offers back to the
queue, the presence event every console and the wallboard hear), while a
session of theirs in another browser keeps them as they are."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agents_ui.agents_api import mark_consoles_seen
from agents_ui.attendance import ATTENDANCE
from router.appkeys import ASSIGNER
from router.config import Settings
from router.models import utcnow
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


async def offered_to_ann(client: Client, open_session: OpenSession) -> tuple[aiohttp.ClientSession, str, str]:
    """Ann signed in and online, and a customer's conversation offered to her: her browser, her id, the
    conversation's id."""
    ann = await signed_in(client, open_session, "ann")
    ann_id = (await (await ann.get("/api/me")).json())["agent"]["id"]
    await go_online(ann)
    offered = await customer_writes(client, "I need a person, please")

    async def hers() -> bool | None:
        c = await conversation(client, offered)
        return True if (c["status"], c["agent_id"]) == ("assigned", ann_id) else None

    await eventually(hers, "the conversation offered to ann")
    return ann, ann_id, offered


async def test_logging_out_takes_the_agent_offline_and_gives_back_the_offers_not_opened(
        client: Client, open_session: OpenSession) -> None:
    ann, ann_id, offered = await offered_to_ann(client, open_session)
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


# -- a console closed without a logout ---------------------------------------------------------
# An agent who closes the console without logging out (the browser, the laptop's lid) stayed
# online until the session expired, 12 hours later: offered conversations, counted on the
# wallboard, their customers waiting. At no console for console.absent_minutes (5) they go offline
# as a logout makes them; an open console, or a client of the API at work, keeps them as they are.
# The assigner's clock is moved forward instead of waiting minutes: absence is judged by it, and an
# open console's minute mark (mark_consoles_seen, the node's sweep every minute) is stamped by it.


def later(client: Client, minutes: float) -> None:
    """The assigner's clock ``minutes`` ahead of now."""
    at = utcnow() + timedelta(minutes=minutes)
    client.app[ASSIGNER].clock = lambda: at


async def sweep(client: Client) -> None:
    """What the assigner's leader does every few seconds (the absence check among it)."""
    client.app[ASSIGNER]._offline_checked = None  # its own throttle is in the clock moved above
    await client.app[ASSIGNER].assign_round()


async def test_an_agent_whose_console_was_closed_goes_offline_and_their_offer_back_to_the_queue(
        client: Client, open_session: OpenSession) -> None:
    _, ann_id, offered = await offered_to_ann(client, open_session)
    admin_ws = await client.ws_connect("/api/ws")
    # ann closes the laptop: no console socket of hers, no request, for 4 minutes: still online
    later(client, 4)
    await sweep(client)
    assert await presence_of(client, "ann") == "online"
    later(client, 6)
    await sweep(client)
    event = await next_event(admin_ws, "agent.presence")
    assert (event["agent_id"], event["presence"]) == (ann_id, "offline")
    assert await presence_of(client, "ann") == "offline"
    released = await conversation(client, offered)
    assert (released["status"], released["agent_id"]) == ("queued", None)


async def test_an_open_console_keeps_the_agent_as_they_are(client: Client, open_session: OpenSession) -> None:
    ann = await signed_in(client, open_session, "ann")
    await go_online(ann)
    ws = await ann.ws_connect("/api/ws")
    for minutes in (3, 6, 9, 12):  # the node marks her open socket's session every minute
        later(client, minutes)
        await mark_consoles_seen(client.app)
        await sweep(client)
        assert await presence_of(client, "ann") == "online", minutes
    await ws.close()  # then she closes it
    later(client, 18)
    await sweep(client)
    assert await presence_of(client, "ann") == "offline"


async def test_an_agent_working_through_the_api_is_at_work(client: Client, open_session: OpenSession) -> None:
    """A client of the API without the live socket (a script, an integration) is somebody at work:
    its requests mark the session, at most once a minute (here at each, the mark's interval set to 0)."""
    client.app[ATTENDANCE].every = 0
    ann = await signed_in(client, open_session, "ann")
    await go_online(ann)
    for minutes in (4, 8, 12):
        later(client, minutes)
        assert (await ann.get("/api/conversations")).status == 200
        await sweep(client)
        assert await presence_of(client, "ann") == "online", minutes


async def test_an_agent_away_at_no_console_goes_offline_too(client: Client, open_session: OpenSession) -> None:
    ann = await signed_in(client, open_session, "ann")
    assert (await ann.post("/api/presence", json={"presence": "away"})).status == 200
    later(client, 6)
    await sweep(client)
    assert await presence_of(client, "ann") == "offline"


async def test_absent_minutes_0_keeps_the_agent_as_they_are(
        settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        aiohttp_client: Callable[..., Awaitable[Client]], open_session: OpenSession) -> None:
    settings.console.absent_minutes = 0.0
    client = await admin_with_teams(settings, tmp_path, monkeypatch, aiohttp_client, TEAMS_YAML)
    body: dict[str, Any] = {"username": "ann", "display_name": "Ann", "password": AGENT_PASSWORD,
                            "routing": {"teams": ["support"], "capacity": {"chat": 2}}}
    assert (await client.post("/api/agents", json=body)).status == 201
    ann = await signed_in(client, open_session, "ann")
    await go_online(ann)
    later(client, 60)
    await sweep(client)
    assert await presence_of(client, "ann") == "online"
