"""The site chat's status line speaks for the team that will answer the
visitor: the default route's before their conversation is routed, the
team it went to after (another team keeps other hours)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from router.appkeys import ROUTER, STORE
from router.config import Settings
from router.models import Presence, Role
from router.server.app import create_app
from tests.connectors.webchat_helpers import Client, Frame, hello, receive, say, tab, webchat_settings
from tests.router.routing.rules.conftest import TEAMS, write_config

# support (the default queue) has no hours: always open; the seniors keep Moscow office hours
RULES = """\
calendars:
  office:
    timezone: Europe/Moscow
    hours: {mon-fri: ["09:00-18:00"]}
queues:
  senior:
    hours: office
rules:
  - name: money
    when: text =~~ 'refund'
    queue: {team: senior}
default: {queue: {team: support}}
"""
FRIDAY_NIGHT = datetime(2026, 3, 6, 19, 30, tzinfo=UTC)  # 22:30 in Moscow: the seniors are closed until Monday
MONDAY_9 = datetime(2026, 3, 9, 9, 0, tzinfo=ZoneInfo("Europe/Moscow"))  # their opening, in their time
# nobody online, support open: "we answer as soon as we can"
SUPPORT = {"people_now": False, "opens_at": None}
SENIOR = {"people_now": False, "opens_at": MONDAY_9.isoformat()}


@pytest.fixture
async def client(aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, tmp_path: Path) -> Client:
    folder = write_config(tmp_path / "config", RULES, TEAMS).parent
    client = await aiohttp_client(create_app(webchat_settings(settings), folder, base_dir=tmp_path))
    client.app[ROUTER].routing.clock = lambda: FRIDAY_NIGHT  # type: ignore[attr-defined]
    client.app[ROUTER].clock = lambda: FRIDAY_NIGHT
    return client


async def until_pong(ws: aiohttp.ClientWebSocketResponse) -> list[Frame]:
    """The frames the server sent before it answered a ping sent now (the notices' messages among them)."""
    await ws.send_json({"type": "ping"})
    frames = []
    while (frame := await receive(ws))["type"] != "pong":
        frames.append(frame)
    return frames


def availabilities(frames: list[Frame]) -> list[object]:
    return [f["availability"] for f in frames if f["type"] == "availability"]


async def test_a_visitor_routed_to_a_team_with_other_hours_is_told_its_hours(client: Client) -> None:
    async with tab(client) as ws, tab(client) as other:
        welcome = await hello(ws)
        assert welcome["availability"] == SUPPORT  # not routed yet: the default route's team
        visitor_id = welcome["visitor_id"]
        assert (await hello(other, visitor_id))["availability"] == SUPPORT
        await say(ws, "I want a refund for my order")
        # the seniors answer them, closed until Monday 09:00: the status line says so, in each tab
        assert availabilities(await until_pong(ws)) == [SENIOR]
        assert availabilities(await until_pong(other)) == [SENIOR]
        # and only once: their next message changes nothing
        await say(ws, "order 42")
        assert availabilities(await until_pong(ws)) == []
    async with tab(client) as ws:  # a reload: the welcome speaks for the seniors
        assert (await hello(ws, visitor_id))["availability"] == SENIOR


async def test_a_visitor_of_the_default_team_gets_no_second_word(client: Client) -> None:
    async with tab(client) as ws:
        assert (await hello(ws))["availability"] == SUPPORT
        await say(ws, "Where is my order?")
        assert availabilities(await until_pong(ws)) == []


MONDAY_NOON = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)  # 12:00 in Moscow: both teams open


async def test_only_an_agent_of_the_answering_team_online_means_people_answer_now(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, tmp_path: Path,
) -> None:
    """anna (senior) online is nobody for support's visitors: their status line
    says people answer now only when someone of support is online; a visitor
    routed to the seniors is told anna answers."""
    teams = TEAMS.replace("agents:\n", "agents:\n  - {username: zed, teams: [support]}\n", 1)
    folder = write_config(tmp_path / "config", RULES, teams).parent
    client = await aiohttp_client(create_app(webchat_settings(settings), folder, base_dir=tmp_path))
    now = [MONDAY_NOON]
    client.app[ROUTER].routing.clock = lambda: now[0]  # type: ignore[attr-defined]
    client.app[ROUTER].clock = lambda: now[0]
    store = client.app[STORE]
    anna = await store.create_agent("anna", "Anna", Role.AGENT, "x")
    zed = await store.create_agent("zed", "Zed", Role.AGENT, "x")
    await store.set_presence(anna.id, Presence.ONLINE, now[0])
    async with tab(client) as ws:
        assert (await hello(ws))["availability"] == {"people_now": False, "opens_at": None}
    async with tab(client) as ws:
        await hello(ws)
        await say(ws, "I want a refund for my order")  # to the seniors: anna answers
        assert availabilities(await until_pong(ws)) == [{"people_now": True, "opens_at": None}]
    await store.set_presence(zed.id, Presence.ONLINE, now[0])
    now[0] += timedelta(minutes=1)  # past the few seconds an answer is kept
    async with tab(client) as ws:
        assert (await hello(ws))["availability"] == {"people_now": True, "opens_at": None}
