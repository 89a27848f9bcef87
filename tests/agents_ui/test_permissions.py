"""Who may call what: every endpoint of the console API decided for each role
(admin, supervisor, agent, nobody logged in), and checked against the
running service. An endpoint added without a row here fails the first test,
so no route ships without someone deciding who may call it."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agents_ui.endpoints import ENDPOINTS
from agents_ui.sessions import ADMIN_SEED
from router.agents.service import Permission
from router.config import Settings
from router.server.app import create_app
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
from tests.conftest import ADMIN_PASSWORD

ADMIN, SUPERVISOR, AGENT, ANONYMOUS = "admin", "supervisor", "agent", "anonymous"
ADMINS = frozenset({ADMIN})
SUPERVISORS = frozenset({ADMIN, SUPERVISOR})
STAFF = frozenset({ADMIN, SUPERVISOR, AGENT})
PUBLIC = STAFF | {ANONYMOUS}

# (method, path) -> the callers the gate lets through. Rights that depend on the
# object (someone else's conversation or presence, a team's canned reply) are
# decided inside the handler and tested below, by role.
MATRIX: dict[tuple[str, str], frozenset[str]] = {
    # signing in and out, oneself
    ("POST", "/api/login"): PUBLIC,
    ("POST", "/api/logout"): STAFF,
    ("GET", "/api/me"): STAFF,
    ("PATCH", "/api/me"): STAFF,
    ("GET", "/api/openapi.json"): PUBLIC,
    ("GET", "/api/ws"): STAFF,
    # conversations, every team's, to every signed-in role
    ("GET", "/api/conversations"): STAFF,
    ("GET", "/api/conversations/{id}"): STAFF,
    ("GET", "/api/conversations/{id}/messages"): STAFF,
    ("POST", "/api/conversations/{id}/messages"): STAFF,
    ("POST", "/api/conversations/{id}/template"): STAFF,
    ("POST", "/api/conversations/{id}/assign"): STAFF,  # someone else: reassign (below)
    ("POST", "/api/conversations/{id}/resolve"): STAFF,  # a colleague's: reassign (below)
    ("POST", "/api/conversations/{id}/reopen"): STAFF,
    ("POST", "/api/conversations/{id}/bot"): STAFF,  # a colleague's: reassign (below)
    ("POST", "/api/conversations/{id}/open"): STAFF,
    ("POST", "/api/conversations/{id}/transfer"): STAFF,  # a colleague's: reassign (below)
    ("GET", "/api/conversations/{id}/route"): STAFF,
    ("POST", "/api/conversations/{id}/typing"): STAFF,
    ("POST", "/api/conversations/{id}/read"): STAFF,
    ("GET", "/api/unread"): STAFF,
    ("GET", "/api/conversations/{id}/notes"): STAFF,
    ("POST", "/api/conversations/{id}/notes"): STAFF,
    ("GET", "/api/mentions"): STAFF,
    ("POST", "/api/conversations/{id}/mentions/read"): STAFF,
    ("GET", "/api/search"): STAFF,
    ("GET", "/api/labels"): STAFF,
    ("POST", "/api/conversations/{id}/labels"): STAFF,
    ("DELETE", "/api/conversations/{id}/labels/{name}"): STAFF,
    ("POST", "/api/conversations/{id}/snooze"): STAFF,
    ("DELETE", "/api/conversations/{id}/snooze"): STAFF,
    ("GET", "/api/conversations/{id}/survey"): STAFF,
    ("GET", "/api/messages/{id}/attachments/{index}"): STAFF,
    ("GET", "/api/sla"): STAFF,
    ("GET", "/api/channels"): STAFF,
    # files
    ("POST", "/api/files"): STAFF,
    ("GET", "/api/file-limits"): STAFF,
    ("GET", "/api/files/{id}"): STAFF,
    ("GET", "/api/files/{id}/signed"): PUBLIC,  # the signature in the link is the right
    # customers
    ("GET", "/api/customers/{id}"): STAFF,
    ("GET", "/api/customers/{id}/audit"): STAFF,
    ("GET", "/api/customers/{id}/surveys"): STAFF,
    ("POST", "/api/customers/{id}/claims/{claim}/verify"): STAFF,
    ("POST", "/api/customers/{id}/claims/{claim}/dismiss"): STAFF,
    ("POST", "/api/customers/{id}/merge"): STAFF,
    ("POST", "/api/merges/{id}/undo"): STAFF,
    ("PUT", "/api/customers/by/{kind}/{value}"): ADMINS,  # the CRM's writes: manage_integrations
    # canned replies (a team's: manage_team_replies, below)
    ("GET", "/api/canned"): STAFF,
    ("POST", "/api/canned"): STAFF,
    ("PUT", "/api/canned/{id}"): STAFF,
    ("DELETE", "/api/canned/{id}"): STAFF,
    ("GET", "/api/conversations/{id}/canned"): STAFF,
    ("GET", "/api/conversations/{id}/canned/{reply_id}"): STAFF,
    # people and teams
    ("GET", "/api/agents"): STAFF,
    ("GET", "/api/presence"): STAFF,
    ("POST", "/api/presence"): STAFF,  # someone else's: manage_presence (below)
    ("GET", "/api/teams"): STAFF,
    ("GET", "/api/agents/roster"): SUPERVISORS,
    ("GET", "/api/agents/settings"): STAFF,
    ("PUT", "/api/agents/settings"): ADMINS,
    ("POST", "/api/agents"): ADMINS,
    ("PATCH", "/api/agents/{id}"): ADMINS,
    ("POST", "/api/agents/{id}/deactivate"): ADMINS,
    ("POST", "/api/agents/{id}/reactivate"): ADMINS,
    ("POST", "/api/agents/{id}/password"): ADMINS,
    ("PUT", "/api/agents/{id}/routing"): ADMINS,
    ("DELETE", "/api/agents/{id}/routing"): ADMINS,
    # configuration and reports
    ("GET", "/api/rules/status"): ADMINS,
    ("GET", "/api/surveys"): SUPERVISORS,
    ("GET", "/api/wallboard"): SUPERVISORS,
    ("GET", "/api/webhooks"): ADMINS,  # manage_integrations
    ("POST", "/api/webhooks"): ADMINS,  # manage_integrations
    ("PATCH", "/api/webhooks/{id}"): ADMINS,  # manage_integrations
    ("POST", "/api/webhooks/{id}/secret"): ADMINS,  # manage_integrations
    ("DELETE", "/api/webhooks/{id}"): ADMINS,  # manage_integrations
    ("GET", "/api/webhooks/deliveries"): ADMINS,  # manage_integrations
    ("POST", "/api/webhooks/deliveries/{id}/redeliver"): ADMINS,  # manage_integrations
    ("GET", "/api/reports/figures"): SUPERVISORS,
    ("GET", "/api/reports/figures.csv"): SUPERVISORS,
}


def test_every_endpoint_has_a_decision_and_none_is_left_to_is_admin() -> None:
    declared = {(ep.method, ep.path) for ep in ENDPOINTS}
    assert not declared - set(MATRIX), f"decide who may call these (add them to MATRIX): {declared - set(MATRIX)}"
    assert not set(MATRIX) - declared, f"no such endpoints any more: {set(MATRIX) - declared}"
    # a right is a Permission the roles are granted, not a role's name
    assert [f"{ep.method} {ep.path}" for ep in ENDPOINTS if ep.admin] == []


def _concrete(path: str) -> str:
    return re.sub(r"{\w+}", "nope", path)


async def _call(http: aiohttp.ClientSession | Client, method: str, path: str) -> tuple[int, str | None]:
    kwargs: dict[str, Any] = {"json": {}} if method != "GET" else {}
    async with http.request(method, _concrete(path), **kwargs) as resp:
        code = None
        if resp.content_type == "application/json" and resp.status >= 400:
            code = (await resp.json())["error"]["code"]
        return resp.status, code


async def _callers(client: Client, open_session: OpenSession) -> dict[str, aiohttp.ClientSession | Client]:
    await login(client)
    await create_agent(client, "sue", role="supervisor")
    await create_agent(client, "ann")
    callers: dict[str, aiohttp.ClientSession | Client] = {ADMIN: client}
    for role, username in ((SUPERVISOR, "sue"), (AGENT, "ann")):
        callers[role] = await signed_in(client, open_session, username)
    callers[ANONYMOUS] = await open_session(client)
    return callers


async def test_each_role_passes_the_gate_of_exactly_the_endpoints_the_matrix_gives_it(
        client: Client, open_session: OpenSession) -> None:
    callers = await _callers(client, open_session)
    # logging out ends the session the other calls ride on: last
    routes = sorted(MATRIX, key=lambda route: route == ("POST", "/api/logout"))
    wrong = []
    for method, path in routes:
        for role, http in callers.items():
            status, code = await _call(http, method, path)
            allowed = role in MATRIX[(method, path)]
            if role == ANONYMOUS and not allowed:
                ok = (status, code) == (401, "unauthenticated")
            elif not allowed:
                ok = (status, code) == (403, "forbidden")
            else:  # through the gate, and no crash: the dummy id or empty body may still be wrong (404, 409, 422)
                ok = status not in (401, 403) and status < 500
            if not ok:
                wrong.append(f"{role} {method} {path}: {status} {code}")
    assert wrong == []


async def test_me_tells_the_console_what_the_role_may_do(client: Client, open_session: OpenSession) -> None:
    callers = await _callers(client, open_session)
    got = {role: (await (await callers[role].get("/api/me")).json())["permissions"]
           for role in (ADMIN, SUPERVISOR, AGENT)}
    assert got[ADMIN] == [p.value for p in Permission]
    assert set(got[SUPERVISOR]) == {"view_roster", "supervise", "reassign", "manage_presence"}
    assert got[AGENT] == []


async def _assigned_to(client: Client, agent_id: str, text: str, sender: str) -> str:
    conv = await customer_writes(client, text, sender=sender, external_id=sender)
    resp = await client.post(f"/api/conversations/{conv}/assign", json={"agent_id": agent_id})
    assert resp.status == 200, await resp.text()
    return conv


async def test_a_supervisor_moves_a_colleagues_conversation_and_an_agent_may_not(
        client: Client, open_session: OpenSession) -> None:
    callers = await _callers(client, open_session)
    agents = {a["username"]: a for a in (await (await client.get("/api/agents")).json())["agents"]}
    sue, ann, admin = agents["sue"], agents["ann"], agents["admin"]
    conv = await _assigned_to(client, ann["id"], "Где мой заказ?", "visitor-1")
    # the agent may not give a conversation to someone else, nor take a colleague's
    other = await _assigned_to(client, admin["id"], "Hello", "visitor-2")
    resp = await callers[AGENT].post(f"/api/conversations/{other}/assign", json={"agent_id": sue["id"]})
    assert (await error_of(resp))[:2] == (403, "forbidden")
    resp = await callers[AGENT].post(f"/api/conversations/{other}/assign", json={})
    assert (await error_of(resp))[:2] == (409, "conflict")
    resp = await callers[AGENT].post(f"/api/conversations/{other}/resolve", json={})
    assert (await error_of(resp))[:2] == (409, "conflict")
    resp = await callers[AGENT].post(f"/api/conversations/{other}/transfer", json={"team": "support"})
    assert (await error_of(resp))[:2] == (409, "conflict")
    still = (await (await client.get(f"/api/conversations/{other}")).json())["conversation"]
    assert (still["status"], still["agent_id"]) == ("assigned", admin["id"])
    # the supervisor reassigns ann's conversation to the admin, then takes one over and resolves it
    resp = await callers[SUPERVISOR].post(f"/api/conversations/{conv}/assign", json={"agent_id": admin["id"]})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["conversation"]["agent_id"] == admin["id"]
    resp = await callers[SUPERVISOR].post(f"/api/conversations/{other}/assign", json={})
    assert (await resp.json())["conversation"]["agent_id"] == sue["id"]
    resp = await callers[SUPERVISOR].post(f"/api/conversations/{conv}/resolve", json={})
    assert (await resp.json())["conversation"]["status"] == "resolved"


async def test_an_agent_neither_reopens_a_colleagues_conversation_nor_gives_a_queued_one_away(
        client: Client, open_session: OpenSession) -> None:
    """Reopen made a colleague's resolved conversation the caller's, and
    transfer gave a queued one to a named colleague: both without reassign."""
    callers = await _callers(client, open_session)
    agents = {a["username"]: a for a in (await (await client.get("/api/agents")).json())["agents"]}
    sue, admin = agents["sue"], agents["admin"]
    resolved = await _assigned_to(client, admin["id"], "Спасибо, всё", "visitor-1")
    assert (await client.post(f"/api/conversations/{resolved}/resolve", json={})).status == 200
    status, code, message = await error_of(await callers[AGENT].post(f"/api/conversations/{resolved}/reopen", json={}))
    assert (status, code) == (409, "conflict") and "another agent" in message, message
    queued = await customer_writes(client, "Где мой заказ?", sender="visitor-2", external_id="visitor-2")
    resp = await callers[AGENT].post(f"/api/conversations/{queued}/transfer", json={"agent_id": sue["id"]})
    assert (await error_of(resp))[:2] == (403, "forbidden")
    for conv, status_now, owner in ((resolved, "resolved", admin["id"]), (queued, "queued", None)):
        still = (await (await client.get(f"/api/conversations/{conv}")).json())["conversation"]
        assert (still["status"], still["agent_id"]) == (status_now, owner)
    # the supervisor may: the reopened one is theirs
    resp = await callers[SUPERVISOR].post(f"/api/conversations/{resolved}/reopen", json={})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["conversation"]["agent_id"] == sue["id"]


async def test_a_supervisor_switches_a_colleagues_presence_and_an_agent_may_not(
        client: Client, open_session: OpenSession) -> None:
    callers = await _callers(client, open_session)
    agents = {a["username"]: a for a in (await (await client.get("/api/agents")).json())["agents"]}
    resp = await callers[AGENT].post("/api/presence", json={"presence": "away", "agent_id": agents["sue"]["id"]})
    assert (await error_of(resp))[:2] == (403, "forbidden")
    resp = await callers[SUPERVISOR].post("/api/presence", json={"presence": "away", "agent_id": agents["ann"]["id"]})
    assert resp.status == 200, await resp.text()
    presence = {p["agent_id"]: p["presence"] for p in (await (await client.get("/api/presence")).json())["presence"]}
    assert presence[agents["ann"]["id"]] == "away"
    assert presence.get(agents["sue"]["id"], "offline") == "offline"
    # but never online: conversations would be offered to someone who is not there (README: away or offline)
    for caller in (callers[SUPERVISOR], client):
        resp = await caller.post("/api/presence", json={"presence": "online", "agent_id": agents["ann"]["id"]})
        assert (await error_of(resp))[:2] == (409, "conflict")
    presence = {p["agent_id"]: p["presence"] for p in (await (await client.get("/api/presence")).json())["presence"]}
    assert presence[agents["ann"]["id"]] == "away"


TEAMS = """
teams:
  support: {description: first line}
  sales: {description: sales}
agents:
  - {username: admin, teams: [support]}
  - {username: sue, teams: [support]}
"""


async def test_team_canned_replies_stay_an_admins(aiohttp_client: Callable[..., Awaitable[Client]],
                                                  settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  open_session: OpenSession) -> None:
    monkeypatch.setenv("OMNIROUTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "teams.yaml").write_text(TEAMS, encoding="utf-8")
    client = await aiohttp_client(create_app(settings, folder, base_dir=tmp_path))
    await client.app[ADMIN_SEED].wait()
    callers = await _callers(client, open_session)
    sue = callers[SUPERVISOR]

    def reply(team: str, shortcut: str = "hi") -> dict[str, Any]:
        return {"shortcut": shortcut, "title": "Hi", "texts": {"en": "Hello!"}, "scope": "team", "team": team}

    support = (await (await client.post("/api/canned", json=reply("support"))).json())["reply"]["reply"]
    sales = (await (await client.post("/api/canned", json=reply("sales", "offer"))).json())["reply"]["reply"]
    # a supervisor writes no team reply, not even their own team's, and changes none
    assert (await error_of(await sue.post("/api/canned", json=reply("support", "new"))))[:2] == \
        (403, "canned_forbidden")
    texts = {"shortcut": "hi", "title": "Hi", "texts": {"en": "Changed"}}
    assert (await error_of(await sue.put(f"/api/canned/{support['id']}", json=texts)))[:2] == \
        (403, "canned_forbidden")
    assert (await error_of(await sue.delete(f"/api/canned/{support['id']}", json={})))[:2] == \
        (403, "canned_forbidden")
    # and lists them as an agent of their teams does: support's, not sales'
    listing = await (await sue.get("/api/canned")).json()
    assert listing["writable_teams"] == []
    assert [(r["reply"]["id"], r["editable"]) for r in listing["replies"]] == [(support["id"], False)]
    admin_listing = await (await client.get("/api/canned")).json()
    assert {r["reply"]["id"] for r in admin_listing["replies"]} == {support["id"], sales["id"]}
    assert [r["reply"]["texts"] for r in admin_listing["replies"] if r["reply"]["id"] == support["id"]] == \
        [{"en": "Hello!"}]


async def test_a_supervisors_socket_carries_every_teams_events(client: Client, open_session: OpenSession) -> None:
    callers = await _callers(client, open_session)
    supervisor = callers[SUPERVISOR]
    assert isinstance(supervisor, aiohttp.ClientSession)
    async with supervisor.ws_connect("/api/ws") as ws:
        conv = await customer_writes(client, "Help", sender="visitor-9", external_id="9")
        created = await next_event(ws, "conversation.created")
        assert created["conversation"]["id"] == conv


async def test_a_supervisor_transfers_and_hands_to_the_bot_a_colleagues_conversation(
        aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, open_session: OpenSession) -> None:
    """The rights checked inside the handlers (not by the gate), granted: a colleague's conversation."""
    monkeypatch.setenv("OMNIROUTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "teams.yaml").write_text(TEAMS, encoding="utf-8")
    client = await aiohttp_client(create_app(settings, folder, base_dir=tmp_path))
    await client.app[ADMIN_SEED].wait()
    callers = await _callers(client, open_session)
    agents = {a["username"]: a for a in (await (await client.get("/api/agents")).json())["agents"]}
    admin, sue = agents["admin"], agents["sue"]  # the admin is sue's colleague
    conv = await _assigned_to(client, admin["id"], "Где мой заказ?", "visitor-1")
    resp = await callers[SUPERVISOR].post(f"/api/conversations/{conv}/transfer", json={"team": "sales"})
    assert resp.status == 200, await resp.text()
    moved = (await resp.json())["conversation"]
    assert (moved["status"], moved["team"], moved["agent_id"]) == ("queued", "sales", None)
    other = await _assigned_to(client, admin["id"], "Hello", "visitor-2")
    resp = await callers[SUPERVISOR].post(f"/api/conversations/{other}/transfer", json={"agent_id": sue["id"]})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["conversation"]["agent_id"] == sue["id"]
    # handing a colleague's conversation to the bot: the agent is stopped by the right, the supervisor passes
    # it and meets the next refusal, as this app has no bot
    third = await _assigned_to(client, admin["id"], "Hi", "visitor-3")
    status, code, message = await error_of(await callers[AGENT].post(f"/api/conversations/{third}/bot", json={}))
    assert (status, code) == (409, "conflict") and "another agent" in message, message
    status, code, message = await error_of(await callers[SUPERVISOR].post(f"/api/conversations/{third}/bot", json={}))
    assert (status, code) == (409, "conflict") and "no bot" in message, message
