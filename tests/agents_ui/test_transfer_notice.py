"""Invariant 8 on an agent's transfer: a customer transferred to a team whose
queue is closed now hears when it opens, in their language, once; a transfer
to an open team says nothing (the agent speaks for it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from router.appkeys import ROUTER, STORE
from router.config import Settings
from router.models import Direction, IdentityRef, InboundMessage
from router.server.app import create_app
from tests.conftest import ADMIN_PASSWORD
from tests.router.routing.rules.conftest import RULES, write_config

Client = TestClient[web.Request, web.Application]

# the seniors keep Moscow office hours; support (the default queue) has none: always open
HOURS = """\
calendars:
  office:
    timezone: Europe/Moscow
    hours: {mon-fri: ["09:00-18:00"]}
queues:
  senior:
    hours: office
    after_hours_message:
      ru: "Старшие специалисты ответят в рабочее время: {opens} (по Москве)."
      en: "Our senior team will answer from {opens} (Moscow time)."
"""
FRIDAY_NIGHT = datetime(2026, 3, 6, 19, 30, tzinfo=UTC)  # 22:30 in Moscow: the seniors are closed until Monday
LONG = " — подробности заказа" * 4  # over the rule `simple`'s 50 letters: to the default queue, not the bot


@pytest.fixture
async def client(aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> Client:
    monkeypatch.setenv("OMNIROUTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
    settings.connectors = {}
    folder = write_config(tmp_path / "config", HOURS + RULES).parent
    client = await aiohttp_client(create_app(settings, folder, base_dir=tmp_path))
    client.app[ROUTER].routing.clock = lambda: FRIDAY_NIGHT  # type: ignore[attr-defined]
    client.app[ROUTER].clock = lambda: FRIDAY_NIGHT
    login = await client.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert login.status == 200
    return client


async def told(client: Client, conversation_id: str) -> list[str]:
    messages = await client.app[STORE].list_messages(conversation_id, 50)
    return [m.text for m in messages if m.direction is Direction.OUT]


@pytest.mark.parametrize(("text", "closed"), [
    ("Где мой заказ?" + LONG, "Старшие специалисты ответят в рабочее время: в понедельник в 09:00 (по Москве)."),
    ("Where is my order? " + "Some details of it. " * 4,
     "Our senior team will answer from Monday 09:00 (Moscow time)."),
])
async def test_a_transfer_to_a_closed_team_tells_the_customer_when_it_opens(client: Client, text: str,
                                                                           closed: str) -> None:
    accepted = await client.app[ROUTER].on_message(InboundMessage(
        channel="webchat", external_id="1", sender=IdentityRef(kind="webchat", value="v1"), text=text))
    conversation = accepted.conversation_id
    assert conversation is not None
    before = await told(client, conversation)  # support is open: a colleague answers soon
    assert len(before) == 1
    url = f"/api/conversations/{conversation}/transfer"
    assert (await client.post(url, json={"team": "senior"})).status == 200
    assert await told(client, conversation) == [*before, closed]
    assert (await client.post(url, json={"team": "support"})).status == 200  # open: the agent speaks for it
    assert await told(client, conversation) == [*before, closed]
