"""The console API on the real service: who may do what, and the
conversation flow an agent goes through."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate

from agents_ui.endpoints import ENDPOINTS
from agents_ui.sessions import THROTTLE
from router.app import ROUTER
from router.config import Settings
from router.models import IdentityRef, InboundMessage
from tests.conftest import ADMIN_PASSWORD, AppClient

Client = TestClient[web.Request, web.Application]
XSS = '<img src=x onerror="alert(1)">'


@pytest.fixture
async def api(make_client: AppClient, settings: Settings) -> Client:
    # no site chat: replies to these conversations have no connector to go out by
    return await make_client(settings.model_copy(update={"connectors": {}}))


async def login(client: Client, username: str = "admin", password: str = ADMIN_PASSWORD) -> dict[str, Any]:
    resp = await client.post("/api/login", json={"username": username, "password": password})
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    body["set-cookie"] = resp.headers["Set-Cookie"]
    return body


async def customer_writes(client: Client, text: str, sender: str = "visitor-1", external_id: str = "1") -> str:
    accepted = await client.app[ROUTER].on_message(
        InboundMessage(channel="webchat", external_id=external_id, sender=IdentityRef(kind="webchat", value=sender),
                       text=text, sender_name="Анна")
    )
    assert accepted.conversation_id
    return accepted.conversation_id


async def error_code(resp: Any) -> str:
    body = await resp.json()
    code: str = body["error"]["code"]
    return code


async def test_login_me_logout(api: Client) -> None:
    assert (await api.get("/api/me")).status == 401
    body = await login(api)
    assert body["agent"]["username"] == "admin" and body["agent"]["role"] == "admin"
    cookie = body["set-cookie"]
    assert cookie.startswith("omnirouter_session=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert (await (await api.get("/api/me")).json())["agent"]["username"] == "admin"
    assert (await api.post("/api/logout")).status == 204
    assert (await api.get("/api/me")).status == 401


async def test_wrong_password_is_401_then_throttled_until_the_lockout_ends(api: Client) -> None:
    now = [1000.0]
    api.app[THROTTLE].clock = lambda: now[0]
    for _ in range(5):
        resp = await api.post("/api/login", json={"username": "admin", "password": "guess"})
        assert resp.status == 401 and await error_code(resp) == "invalid_credentials"
    resp = await api.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert resp.status == 429 and await error_code(resp) == "too_many_attempts"
    assert int(resp.headers["Retry-After"]) == 60
    now[0] += 61
    await login(api)


async def test_unknown_user_is_the_same_401(api: Client) -> None:
    resp = await api.post("/api/login", json={"username": "nobody", "password": "x"})
    assert resp.status == 401 and await error_code(resp) == "invalid_credentials"


@pytest.mark.parametrize("ep", [ep for ep in ENDPOINTS if not ep.public], ids=lambda ep: f"{ep.method} {ep.path}")
async def test_every_private_route_needs_a_session(api: Client, ep: Any) -> None:
    resp = await api.request(ep.method, ep.path.replace("{id}", "conv_x"), json={})
    assert resp.status == 401 and await error_code(resp) == "unauthenticated"


async def test_admins_create_agents_and_agents_may_not(api: Client) -> None:
    await login(api)
    new = {"username": "ann", "display_name": "Ann", "password": "s3cret-pass", "role": "agent"}
    resp = await api.post("/api/agents", json=new)
    assert resp.status == 201 and (await resp.json())["agent"]["username"] == "ann"
    assert (await api.post("/api/agents", json=new)).status == 409
    short = {**new, "username": "bob", "password": "short"}
    resp = await api.post("/api/agents", json=short)
    assert resp.status == 422 and "password" in (await resp.json())["error"]["message"]
    await login(api, "ann", "s3cret-pass")
    resp = await api.post("/api/agents", json={**new, "username": "eve"})
    assert resp.status == 403 and await error_code(resp) == "forbidden"
    assert [a["username"] for a in (await (await api.get("/api/agents")).json())["agents"]] == ["admin", "ann"]


async def test_bad_bodies_are_refused_clearly(api: Client) -> None:
    await login(api)
    conv = await customer_writes(api, "hi")
    url = f"/api/conversations/{conv}/messages"
    resp = await api.post(url, data="{not json", headers={"Content-Type": "application/json"})
    assert resp.status == 400 and await error_code(resp) == "bad_json"
    resp = await api.post(url, data="text=hi", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 415
    for body in ({"text": "   "}, {"text": 5}, {"txt": "hi"}, {"text": "x" * 10_001}):
        resp = await api.post(url, json=body)
        assert resp.status == 422 and await error_code(resp) == "invalid", body
    assert (await api.get("/api/conversations?status=lost")).status == 422
    assert (await api.get("/api/conversations/conv_missing")).status == 404
    messages = (await (await api.get(url)).json())["messages"]
    assert [m["text"] for m in messages] == ["hi"]  # nothing was added by the refused calls


async def next_event(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        frame = await asyncio.wait_for(ws.receive_json(), 5)
        if frame["type"] == kind:
            data: dict[str, Any] = frame["data"]
            return data


async def test_conversation_flow_is_pushed_live(api: Client) -> None:
    await login(api)
    ws = await api.ws_connect("/api/ws")
    conv = await customer_writes(api, XSS)
    created = await next_event(ws, "message.created")
    assert created["message"]["text"] == XSS and created["conversation"]["status"] == "queued"

    listed = (await (await api.get("/api/conversations")).json())["conversations"]
    assert [(c["id"], c["customer_name"], c["last_message_text"]) for c in listed] == [(conv, "Анна", XSS)]
    detail = await (await api.get(f"/api/conversations/{conv}")).json()
    assert detail["customer"]["display_name"] == "Анна"

    resp = await api.post(f"/api/conversations/{conv}/messages", json={"text": "  Здравствуйте!  "})
    assert resp.status == 201
    reply = (await resp.json())["message"]
    assert reply["text"] == "Здравствуйте!" and reply["delivery"] == "pending"
    assigned = await next_event(ws, "conversation.assigned")
    assert assigned["conversation"]["status"] == "assigned"
    # no connector is configured for the channel: the agent is told it was not delivered
    updated = await next_event(ws, "message.updated")
    assert updated["message"]["id"] == reply["id"] and updated["message"]["delivery"] == "failed"
    assert "no enabled connector" in updated["message"]["delivery_error"]

    resp = await api.post(f"/api/conversations/{conv}/resolve")
    assert (await resp.json())["conversation"]["status"] == "resolved"
    assert (await next_event(ws, "conversation.updated"))["conversation"]["status"] == "resolved"
    resp = await api.post(f"/api/conversations/{conv}/messages", json={"text": "again"})
    assert resp.status == 409
    await ws.close()


async def test_customer_profile(api: Client) -> None:
    await login(api)
    conv = await customer_writes(api, "hi")
    customer_id = (await (await api.get(f"/api/conversations/{conv}")).json())["customer"]["id"]
    body = await (await api.get(f"/api/customers/{customer_id}")).json()
    assert body["identities"][0]["ref"] == {"kind": "webchat", "value": "visitor-1"}
    assert [c["id"] for c in body["conversations"]] == [conv]


UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
           "Sec-WebSocket-Key": "x3JJHMbDL1EzLkh9GBhXDw=="}


async def test_console_socket_refuses_other_sites_and_strangers(api: Client) -> None:
    assert (await api.get("/api/ws", headers=UPGRADE)).status == 401
    await login(api)
    assert (await api.get("/api/ws", headers={**UPGRADE, "Origin": "https://evil.example"})).status == 403
    ws = await api.ws_connect("/api/ws", origin=str(api.make_url("/")).rstrip("/"))
    await ws.send_str("hello?")
    assert (await ws.receive_json())["code"] == "unknown_type"
    await ws.send_json({"type": "ping"})
    assert await ws.receive_json() == {"type": "pong"}
    await ws.close()


async def test_openapi_document_is_valid_and_complete(api: Client) -> None:
    doc = await (await api.get("/api/openapi.json")).json()
    validate(doc)
    for ep in ENDPOINTS:
        assert ep.method.lower() in doc["paths"][ep.path], ep.path
    assert "ConversationView" in json.dumps(doc["components"]["schemas"])


async def test_console_page_is_served_with_a_strict_policy(api: Client) -> None:
    resp = await api.get("/")
    assert resp.status == 200 and 'data-testid="login-form"' in await resp.text()
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"


async def test_generated_admin_password_is_shown_once(
    make_client: AppClient, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("OMNIROUTER_ADMIN_PASSWORD")
    client = await make_client(settings.model_copy(update={"connectors": {}}))
    err = capsys.readouterr().err
    assert "created the console account 'admin' with password: " in err
    password = err.split("with password: ")[1].split()[0]
    await login(client, "admin", password)
