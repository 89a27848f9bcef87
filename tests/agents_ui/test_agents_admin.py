"""The agents' admin screen's API, on the whole service with a teams.yaml:
adding agents (with a generated password), bad input refused with nothing
changed, deactivation (sessions, live sockets, conversations back to the
queue and to someone else), new passwords, console profiles, presence at
sign-in. Every admin route refusing agents is tests/agents_ui/test_auth.py's."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient

from agents_ui import agents_api
from agents_ui.sessions import ADMIN_SEED
from router.accounts.service import set_password
from router.appkeys import STORE
from router.config import Settings
from router.server.app import create_app
from tests.agents_ui.conftest import (
    AGENT_PASSWORD,
    Client,
    OpenSession,
    admin_with_teams,
    customer_writes,
    error_of,
    login,
    next_event,
    signed_in,
)
from tests.conftest import ADMIN_PASSWORD, HANG, eventually

TEAMS_YAML = """\
skills: [billing, tech]
teams: {support: {}, senior: {}}
agents:
  - {username: admin, teams: [senior], capacity: {chat: 0}}
"""


@pytest.fixture
async def client(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                 aiohttp_client: Callable[..., Awaitable[Client]]) -> Client:
    """The service on a config folder whose teams.yaml has teams support and senior."""
    client = await admin_with_teams(settings, tmp_path, monkeypatch, aiohttp_client, TEAMS_YAML)
    return client


Http = TestClient[web.Request, web.Application] | aiohttp.ClientSession


async def roster(http: Http) -> dict[str, dict[str, Any]]:
    resp = await http.get("/api/agents/roster")
    assert resp.status == 200, await resp.text()
    return {row["agent"]["username"]: row for row in (await resp.json())["agents"]}


async def add(client: Client, username: str, **fields: Any) -> dict[str, Any]:
    body = {"username": username, "display_name": username.title(), **fields}
    resp = await client.post("/api/agents", json=body)
    assert resp.status == 201, await resp.text()
    created: dict[str, Any] = await resp.json()
    return created


async def closed(ws: aiohttp.ClientWebSocketResponse) -> bool:
    """Whether the server closes ``ws`` (within the hang ceiling), past the events it pushed before."""
    while True:
        frame = await asyncio.wait_for(ws.receive(), HANG)
        if frame.type is not WSMsgType.TEXT:
            return frame.type is WSMsgType.CLOSE


async def test_an_admin_adds_an_agent_with_a_generated_password_shown_once(client: Client,
                                                                            open_session: OpenSession) -> None:
    created = await add(client, "ann", display_name="Anna Petrova",
                        routing={"teams": ["support"], "skills": {"tech": 2}, "capacity": {"chat": 2}})
    password = created["password"]
    assert isinstance(password, str) and len(password) >= 12
    assert created["agent"]["username"] == "ann" and created["agent"]["active"]
    ann = await signed_in(client, open_session, "ann", password)
    assert (await (await ann.get("/api/me")).json())["agent"]["display_name"] == "Anna Petrova"

    rows = await roster(client)
    assert set(rows) == {"admin", "ann"}
    row = rows["ann"]
    assert (row["agent"]["role"], row["agent"]["active"], row["presence"]) == ("agent", True, "offline")
    assert row["routing"] | {"updated_at": None, "updated_by": None} == {
        "source": "console", "teams": ["support"], "skills": {"tech": 2}, "capacity": {"chat": 2, "email": 5},
        "stale_teams": [], "stale_skills": [], "file_teams": None, "updated_at": None, "updated_by": None}
    assert rows["admin"]["routing"]["source"] == "file" and rows["admin"]["routing"]["teams"] == ["senior"]
    # the password is never shown again: the roster has none
    assert password not in await (await client.get("/api/agents/roster")).text()
    # a password the admin typed is not echoed back
    assert (await add(client, "bob", password=AGENT_PASSWORD))["password"] is None


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"username": "admin"}, 409, "username_taken"),
    ({"display_name": ""}, 422, "invalid"),
    ({"display_name": "   "}, 422, "invalid"),
    ({"display_name": "A" * 129}, 422, "invalid"),
    # a NUL (PostgreSQL's text cannot hold it), a C1 control, a bidi override that shows a name reversed
    ({"display_name": "Ann\x00"}, 422, "invalid"),
    ({"display_name": "Ann\x85Lee"}, 422, "invalid"),
    ({"display_name": "\u202eeeL nnA"}, 422, "invalid"),
    ({"username": ""}, 422, "invalid"),
    ({"username": "a" * 65}, 422, "invalid"),
    ({"password": ""}, 422, "invalid"),
    ({"password": "zzzzzzzzzz"}, 422, "weak_password"),
    ({"password": "newperson"}, 422, "weak_password"),
    ({"routing": {"teams": ["nowhere"]}}, 422, "unknown_names"),
    ({"routing": {"teams": ["support"], "skills": {"cooking": 2}}}, 422, "unknown_names"),
    ({"routing": {"teams": ["support"], "skills": {"tech": 9}}}, 422, "invalid"),
    ({"routing": {"capacity": {"chat": -1}}}, 422, "invalid"),
    ({"role": "root"}, 422, "invalid"),
])
async def test_bad_input_is_refused_clearly_and_changes_nothing(client: Client, body: dict[str, Any], status: int,
                                                                code: str) -> None:
    before = await roster(client)
    full = {"username": "newperson", "display_name": "New Person", "password": AGENT_PASSWORD} | body
    got_status, got_code, message = await error_of(await client.post("/api/agents", json=full))
    assert (got_status, got_code) == (status, code) and message
    assert await roster(client) == before


async def test_an_unknown_team_in_a_profile_says_which(client: Client) -> None:
    resp = await client.post("/api/agents", json={"username": "ann", "display_name": "Ann",
                                                  "routing": {"teams": ["nowhere", "support"],
                                                              "skills": {"cooking": 1}}})
    error = (await resp.json())["error"]
    assert (resp.status, error["teams"], error["skills"]) == (422, ["nowhere"], ["cooking"])


async def test_deactivation_ends_the_agents_sessions_and_sockets_and_hands_their_conversations_on(
        client: Client, open_session: OpenSession) -> None:
    ann_id = (await add(client, "ann", password=AGENT_PASSWORD, routing={"teams": ["support"]}))["agent"]["id"]
    bea_id = (await add(client, "bea", password=AGENT_PASSWORD, routing={"teams": ["support"]}))["agent"]["id"]
    ann, bea = [await signed_in(client, open_session, name) for name in ("ann", "bea")]
    ann_ws = await ann.ws_connect("/api/ws")
    admin_ws = await client.ws_connect("/api/ws")
    assert (await ann.post("/api/presence", json={"presence": "online"})).status == 200
    conversation = await customer_writes(client, "my order is late")

    async def owner() -> str | None:
        data = await (await client.get(f"/api/conversations/{conversation}")).json()
        return data["conversation"]["agent_id"] if data["conversation"]["status"] == "assigned" else None

    await eventually(lambda: _is(owner, ann_id), "the conversation offered to ann")
    assert (await bea.post("/api/presence", json={"presence": "online"})).status == 200

    resp = await client.post(f"/api/agents/{ann_id}/deactivate", json={})
    assert resp.status == 200, await resp.text()
    done = await resp.json()
    assert (done["agent"]["active"], done["sessions_ended"], done["requeued"]) == (False, 1, [conversation])
    # her live socket is closed at once; the admin's stays and hears of it
    assert await closed(ann_ws)
    updated = await next_event(admin_ws, "agent.updated")
    assert (updated["agent"]["id"], updated["agent"]["active"], updated["sessions_ended"]) == (ann_id, False, True)
    assert (await error_of(await ann.get("/api/me")))[:2] == (401, "unauthenticated")
    status, code, _ = await error_of(await ann.post("/api/login", json={"username": "ann",
                                                                        "password": AGENT_PASSWORD}))
    assert (status, code) == (403, "account_deactivated")
    wrong = await ann.post("/api/login", json={"username": "ann", "password": "not her password"})
    assert (await error_of(wrong))[:2] == (401, "invalid_credentials")  # says nothing more to a guesser
    # her conversation went to bea, and nothing of it was lost
    await eventually(lambda: _is(owner, bea_id), "the conversation handed to bea")
    texts = [m["text"] for m in (await (await client.get(f"/api/conversations/{conversation}/messages")).json())
             ["messages"]]
    assert texts == ["my order is late"]
    row = (await roster(client))["ann"]
    assert (row["agent"]["active"], row["presence"]) == (False, "offline")
    # an admin cannot put her online, nor give her a conversation
    refused = await client.post("/api/presence", json={"presence": "online", "agent_id": ann_id})
    assert refused.status == 409
    transfer = await client.post(f"/api/conversations/{conversation}/transfer", json={"agent_id": ann_id})
    assert transfer.status == 422
    given = await client.post(f"/api/conversations/{conversation}/assign", json={"agent_id": ann_id})
    assert (await error_of(given))[:2] == (409, "agent_deactivated")
    assert await owner() == bea_id

    # reactivated: she may log in again, offline until she chooses
    assert (await client.post(f"/api/agents/{ann_id}/reactivate", json={})).status == 200
    await login(ann, "ann", AGENT_PASSWORD)
    assert (await roster(client))["ann"]["presence"] == "offline"
    await admin_ws.close()


async def _is(probe: Callable[[], Awaitable[str | None]], expected: str) -> bool | None:
    return True if await probe() == expected else None


async def test_an_admin_cannot_deactivate_themselves_nor_demote_the_last_admin(client: Client) -> None:
    me = (await (await client.get("/api/me")).json())["agent"]["id"]
    assert (await error_of(await client.post(f"/api/agents/{me}/deactivate", json={})))[:2] == (
        409, "self_deactivation")
    assert (await error_of(await client.patch(f"/api/agents/{me}", json={"role": "agent"})))[:2] == (
        409, "last_admin")
    chief = (await add(client, "chief", role="admin"))["agent"]["id"]
    assert (await client.patch(f"/api/agents/{me}", json={"display_name": "The Admin"})).status == 200
    # with another admin active, either may step down
    resp = await client.patch(f"/api/agents/{chief}", json={"role": "agent"})
    assert resp.status == 200 and (await resp.json())["agent"]["role"] == "agent"
    rows = await roster(client)
    assert (rows["admin"]["agent"]["display_name"], rows["admin"]["agent"]["active"]) == ("The Admin", True)
    assert (await error_of(await client.patch("/api/agents/agt_missing", json={"display_name": "X"})))[0] == 404
    assert (await error_of(await client.patch(f"/api/agents/{me}", json={"display_name": ""})))[:2] == (
        422, "invalid")
    renamed = await error_of(await client.patch(f"/api/agents/{me}", json={"display_name": "The\u2066Admin"}))
    assert renamed == (422, "invalid", "display_name: Value error, control character U+2066 at 4")
    assert (await roster(client))["admin"]["agent"]["display_name"] == "The Admin"


async def test_a_new_password_ends_every_session_and_socket_of_the_agent(client: Client,
                                                                         open_session: OpenSession) -> None:
    ann_id = (await add(client, "ann", password=AGENT_PASSWORD))["agent"]["id"]
    ann = await signed_in(client, open_session, "ann")
    ws = await ann.ws_connect("/api/ws")
    weak = await client.post(f"/api/agents/{ann_id}/password", json={"password": "ann"})
    assert (await error_of(weak))[:2] == (422, "invalid")
    weak = await client.post(f"/api/agents/{ann_id}/password", json={"password": "aaaaaaaaaa"})
    assert (await error_of(weak))[:2] == (422, "weak_password")
    assert (await ann.get("/api/me")).status == 200  # a refused reset changed nothing

    resp = await client.post(f"/api/agents/{ann_id}/password", json={})
    assert resp.status == 200
    done = await resp.json()
    assert done["sessions_ended"] == 1 and len(done["password"]) >= 12
    assert await closed(ws)
    assert (await ann.get("/api/me")).status == 401
    old = await ann.post("/api/login", json={"username": "ann", "password": AGENT_PASSWORD})
    assert old.status == 401
    await login(ann, "ann", done["password"])


async def test_a_console_profile_and_back_to_teams_yaml(client: Client) -> None:
    admin_id = (await (await client.get("/api/me")).json())["agent"]["id"]
    resp = await client.put(f"/api/agents/{admin_id}/routing",
                            json={"teams": ["support", "senior"], "skills": {"billing": 3}, "capacity": {"chat": 4}})
    assert resp.status == 200, await resp.text()
    row = (await roster(client))["admin"]["routing"]
    assert (row["source"], row["teams"], row["file_teams"], row["updated_by"]) == (
        "console", ["support", "senior"], ["senior"], admin_id)
    members = {t["name"]: t["members"] for t in (await (await client.get("/api/teams")).json())["teams"]}
    assert members == {"support": ["admin"], "senior": ["admin"]}
    bad = await client.put(f"/api/agents/{admin_id}/routing", json={"teams": ["gone"]})
    assert (await error_of(bad))[:2] == (422, "unknown_names")
    assert (await roster(client))["admin"]["routing"]["teams"] == ["support", "senior"]
    assert (await client.delete(f"/api/agents/{admin_id}/routing", json={})).status == 200
    row = (await roster(client))["admin"]["routing"]
    assert (row["source"], row["teams"]) == ("file", ["senior"])
    assert (await client.put("/api/agents/agt_missing/routing", json={"teams": []})).status == 404


async def test_presence_at_sign_in_is_asked_by_default_or_online_when_an_admin_says_so(
        client: Client, open_session: OpenSession) -> None:
    ann_id = (await add(client, "ann", password=AGENT_PASSWORD))["agent"]["id"]

    async def presence_of(http: Http) -> str:
        states = {p["agent_id"]: p["presence"] for p in (await (await http.get("/api/presence")).json())["presence"]}
        return states.get(ann_id, "offline")

    assert (await (await client.get("/api/agents/settings")).json()) == {"presence_at_login": "ask"}
    ann = await signed_in(client, open_session, "ann")
    assert await presence_of(ann) == "offline"  # the console asks her
    bad = await client.put("/api/agents/settings", json={"presence_at_login": "always"})
    assert (await error_of(bad))[:2] == (422, "invalid")
    resp = await client.put("/api/agents/settings", json={"presence_at_login": "online"})
    assert resp.status == 200
    assert (await (await ann.get("/api/agents/settings")).json()) == {"presence_at_login": "online"}
    await login(ann, "ann", AGENT_PASSWORD)
    assert await presence_of(ann) == "online"
    # away stays away: only an offline agent is put online
    await ann.post("/api/presence", json={"presence": "away"})
    await login(ann, "ann", AGENT_PASSWORD)
    assert await presence_of(ann) == "away"


async def test_a_password_set_from_the_terminal_closes_the_agents_sockets_too(
        settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        aiohttp_client: Callable[..., Awaitable[Client]], open_session: OpenSession) -> None:
    """``omnirouter agents set-password`` runs in another process: no event tells the
    service, so a sweep finds the socket whose session is gone."""
    monkeypatch.setattr(agents_api, "SWEEP_EVERY", 0.05)
    monkeypatch.setenv("OMNIROUTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
    app = create_app(settings, base_dir=tmp_path)
    client = await aiohttp_client(app)
    await app[ADMIN_SEED].wait()
    await login(client)
    await add(client, "ann", password=AGENT_PASSWORD)
    ann = await signed_in(client, open_session, "ann")
    ws = await ann.ws_connect("/api/ws")
    assert await set_password(app[STORE], "ann", "a new password from the terminal") == 1
    assert await closed(ws)


async def test_an_agent_is_refused_every_admin_action_and_changes_nothing(client: Client,
                                                                          open_session: OpenSession) -> None:
    """The admin routes declared admin-only are refused to agents in test_auth.py; the
    roster is granted by permission (a future role may see it): refused to agents too."""
    admin_id = (await (await client.get("/api/me")).json())["agent"]["id"]
    await add(client, "ann", password=AGENT_PASSWORD)
    ann = await signed_in(client, open_session, "ann")
    before = await roster(client)
    for method, path, body in [
        ("GET", "/api/agents/roster", None), ("POST", "/api/agents", {"username": "eve", "display_name": "Eve"}),
        ("PATCH", f"/api/agents/{admin_id}", {"role": "agent"}), ("POST", f"/api/agents/{admin_id}/deactivate", {}),
        ("POST", f"/api/agents/{admin_id}/password", {}), ("PUT", f"/api/agents/{admin_id}/routing", {"teams": []}),
        ("DELETE", f"/api/agents/{admin_id}/routing", {}), ("PUT", "/api/agents/settings",
                                                            {"presence_at_login": "online"}),
    ]:
        resp = await ann.request(method, path, json=body)
        assert (await error_of(resp))[:2] == (403, "forbidden"), (method, path)
    assert await roster(client) == before
    assert (await (await client.get("/api/agents/settings")).json()) == {"presence_at_login": "ask"}


async def test_an_admin_resetting_their_own_password_stays_signed_in_here_only(client: Client,
                                                                             open_session: OpenSession) -> None:
    """The generated password is shown on the page the admin acts from: that
    session stays (their other ones end), or they would be locked out."""
    me = (await (await client.get("/api/me")).json())["agent"]
    elsewhere = await signed_in(client, open_session, "admin", ADMIN_PASSWORD)
    resp = await client.post(f"/api/agents/{me['id']}/password", json={})
    assert resp.status == 200, await resp.text()
    done = await resp.json()
    assert done["sessions_ended"] == 1 and done["password"]
    assert (await client.get("/api/agents/roster")).status == 200  # the console reloads after showing it
    assert (await elsewhere.get("/api/me")).status == 401
    await login(elsewhere, "admin", done["password"])


async def test_a_capacity_of_a_kind_no_channel_has_is_refused_and_a_team_twice_is_one(client: Client) -> None:
    resp = await client.post("/api/agents", json={"username": "ann", "display_name": "Ann",
                                                  "routing": {"teams": ["support"], "capacity": {"fax": 3}}})
    error = (await resp.json())["error"]
    assert (resp.status, error["code"], error["kinds"]) == (422, "unknown_channel_kinds", "fax")
    assert "ann" not in await roster(client)  # nothing stored
    ann = (await add(client, "ann", routing={"teams": ["support", "support"]}))["agent"]
    assert (await roster(client))["ann"]["routing"]["teams"] == ["support"]
    resp = await client.put(f"/api/agents/{ann['id']}/routing", json={"capacity": {"chat": 2, "fax": 1}})
    assert (await error_of(resp))[:2] == (422, "unknown_channel_kinds")
    assert (await roster(client))["ann"]["routing"]["capacity"] == {"chat": 3, "email": 5}
