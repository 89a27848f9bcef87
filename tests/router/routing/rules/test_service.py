"""Rules in the running service: decisions stored with their trace, shown by the console."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from router.appkeys import BUS, ROUTER, STORE
from router.cli import main
from router.config import Settings
from router.models import ConversationStatus, IdentityRef, InboundMessage
from router.server.app import create_app
from router.yamlconf import ConfigError
from tests.conftest import ADMIN_PASSWORD
from tests.router.routing.rules.conftest import RULES, write_config

Client = TestClient[web.Request, web.Application]
MakeApp = Callable[[Path | None], Awaitable[Client]]


@pytest.fixture
def make_app(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> MakeApp:
    monkeypatch.setenv("OMNIROUTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
    settings.connectors = {}

    async def make(config_dir: Path | None) -> Client:
        return await aiohttp_client(create_app(settings, config_dir, base_dir=tmp_path))

    return make


def inbound(external_id: str, sender: str, text: str) -> InboundMessage:
    return InboundMessage(channel="webchat", external_id=external_id, sender=IdentityRef(kind="webchat", value=sender),
                          text=text)


async def route_of(client: Client, conversation_id: str) -> dict[str, Any]:
    resp = await client.get(f"/api/conversations/{conversation_id}/route")
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def test_a_decision_is_stored_with_its_trace_and_the_console_says_why(make_app: MakeApp, tmp_path: Path) -> None:
    client = await make_app(write_config(tmp_path / "config").parent)
    first = await client.app[ROUTER].on_message(inbound("1", "anna", "hello"))
    conv = await client.app[STORE].get_conversation(first.conversation_id)
    assert (conv.status, conv.team) == (ConversationStatus.BOT, "support")  # a short question: the bot
    await client.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    route = await route_of(client, conv.id)
    assert route["trace"]["matched_rule"] == "simple"
    assert route["rules_version"] == route["trace"]["rules_version"] == conv.rules_version
    assert [c["value"] for c in route["trace"]["rules"][0]["conditions"]] == [False]
    assert route["trace"]["facts"]["text"] == "hello"


async def test_without_rules_the_default_team_routes_and_the_trace_is_empty(make_app: MakeApp) -> None:
    client = await make_app(None)
    accepted = await client.app[ROUTER].on_message(inbound("1", "bob", "hello"))
    conv = await client.app[STORE].get_conversation(accepted.conversation_id)
    assert (conv.status, conv.team, conv.rules_version) == (ConversationStatus.QUEUED, "support", None)
    await client.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    route = await route_of(client, conv.id)
    assert route["trace"] is None and "default team" in route["reason"]


async def test_the_route_needs_a_login_and_a_known_conversation(make_app: MakeApp, tmp_path: Path) -> None:
    client = await make_app(write_config(tmp_path / "config").parent)
    assert (await client.get("/api/conversations/conv_x/route")).status == 401
    await client.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert (await client.get("/api/conversations/conv_x/route")).status == 404


async def test_returning_customers_are_seen_by_rules(make_app: MakeApp, tmp_path: Path) -> None:
    rules = RULES.replace("  - name: simple", "  - name: again\n    when: customer_returning\n"
                          "    queue: {team: senior, priority: 50}\n  - name: simple")
    client = await make_app(write_config(tmp_path / "config", rules).parent)
    router, store = client.app[ROUTER], client.app[STORE]
    first = await router.on_message(inbound("1", "carl", "hi"))
    conv = await store.get_conversation(first.conversation_id)
    assert conv.status is ConversationStatus.BOT
    await store.set_conversation_state(conv.id, ConversationStatus.RESOLVED, None, conv.created_at)
    second = await store.get_conversation((await router.on_message(inbound("2", "carl", "hi again"))).conversation_id)
    assert (second.team, second.priority) == ("senior", 50)


def test_an_invalid_rules_file_stops_the_start_with_its_line(settings: Settings, tmp_path: Path) -> None:
    path = write_config(tmp_path / "config", RULES.replace("customer_tier", "tier"))
    with pytest.raises(ConfigError) as caught:
        create_app(settings, path.parent, base_dir=tmp_path)
    assert caught.value.problems[0].startswith(f"{path}:3: ")


async def test_explain_a_stored_conversation(
    make_app: MakeApp, tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "config").parent
    (config / "omnirouter.yaml").write_text(  # the app's store, whichever backend the run tests
        f"store: {{backend: {settings.store.backend}, path: {settings.store.path}}}\n", encoding="utf-8")
    client = await make_app(config)
    accepted = await client.app[ROUTER].on_message(inbound("1", "dora", "hello"))
    await client.close()  # the command opens the store itself
    assert await asyncio.to_thread(main, ["rules", "explain", "--config", str(config),
                                          "--conversation", accepted.conversation_id]) == 0
    out = capsys.readouterr().out
    assert f"{accepted.conversation_id}: bot, team support, priority 20" in out
    assert "✓ simple" in out and "true     not has_attachments" in out
    assert await asyncio.to_thread(main, ["rules", "explain", "--config", str(config), "--conversation", "conv_x"]) == 1
    assert "no conversation conv_x" in capsys.readouterr().err


async def test_presence_from_the_console_starts_assignment_off_the_ingest_path(
    make_app: MakeApp, tmp_path: Path
) -> None:
    teams = "skills: [billing]\nteams: {support: {}, senior: {}}\nagents:\n  - {username: admin, teams: [support]}\n"
    client = await make_app(write_config(tmp_path / "config", teams=teams).parent)
    await client.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    accepted = await client.app[ROUTER].on_message(inbound("1", "erin", "x" * 80))  # long: no bot, queued
    store = client.app[STORE]
    assert (await store.get_conversation(accepted.conversation_id)).status is ConversationStatus.QUEUED
    async with client.app[BUS].subscribe() as events:
        resp = await client.post("/api/presence", json={"presence": "online"})
        assert resp.status == 200, await resp.text()
        async for event in events:  # the assigner task, woken by the presence event
            if event.type == "conversation.assigned":
                break
    conv = await store.get_conversation(accepted.conversation_id)
    me = (await (await client.get("/api/me")).json())["agent"]
    assert (conv.status, conv.agent_id) == (ConversationStatus.ASSIGNED, me["id"])
    listed = (await (await client.get("/api/presence")).json())["presence"]
    assert [(p["agent_id"], p["presence"]) for p in listed] == [(me["id"], "online")]
    assert (await client.post(f"/api/conversations/{conv.id}/open", json={})).status == 204
    resp = await client.post("/api/presence", json={"presence": "offline"})
    assert (await store.get_conversation(conv.id)).agent_id == me["id"]  # opened: stays hers


async def test_bad_presence_and_transfer_requests_change_nothing(make_app: MakeApp, tmp_path: Path) -> None:
    client = await make_app(write_config(tmp_path / "config").parent)
    await client.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert (await client.post("/api/presence", json={"presence": "sleeping"})).status == 422
    accepted = await client.app[ROUTER].on_message(inbound("1", "finn", "x" * 80))
    url = f"/api/conversations/{accepted.conversation_id}/transfer"
    assert (await client.post(url, json={"team": "nowhere"})).status == 422
    assert (await client.post(url, json={"team": "senior", "agent_id": "agt_x"})).status == 422
    assert (await client.get("/api/presence")).status == 200
    conv = await client.app[STORE].get_conversation(accepted.conversation_id)
    assert (conv.status, conv.team) == (ConversationStatus.QUEUED, "support")
    moved = await client.post(url, json={"team": "senior"})
    assert moved.status == 200 and (await moved.json())["conversation"]["team"] == "senior"


async def test_the_console_lists_sla_breaches(make_app: MakeApp, tmp_path: Path) -> None:
    rules = "queues:\n  support: {first_response: 0}\n" + RULES
    client = await make_app(write_config(tmp_path / "config", rules).parent)
    await client.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    accepted = await client.app[ROUTER].on_message(inbound("1", "gil", "x" * 80))
    body = await (await client.get("/api/sla")).json()
    assert [(b["conversation_id"], b["team"], b["target_seconds"]) for b in body["breached"]] == [
        (accepted.conversation_id, "support", 0)]
