"""The console's language setting, its catalogues, and reopening a resolved
conversation, on the real service."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from tests.agents_ui.conftest import Client, customer_writes, error_of, login

CATALOGUES = Path(__file__).resolve().parents[2] / "agents_ui" / "i18n"


@pytest.mark.parametrize("lang", ["ru", "en"])
async def test_each_catalogue_is_served_as_json(client: Client, lang: str) -> None:
    resp = await client.get(f"/console/i18n/{lang}.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    assert await resp.json() == json.loads((CATALOGUES / f"{lang}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("lang", ["de", "ru.json", "..%2Fconsole", "RU"])
async def test_a_language_without_a_catalogue_is_404(client: Client, lang: str) -> None:
    assert (await client.get(f"/console/i18n/{lang}.json")).status == 404


async def test_an_agent_chooses_the_consoles_language_and_keeps_it(client: Client) -> None:
    await login(client)
    assert (await (await client.get("/api/me")).json())["agent"]["language"] is None  # the browser's
    resp = await client.patch("/api/me", json={"language": "en"})
    assert resp.status == 200 and (await resp.json())["agent"]["language"] == "en"
    # kept: the next sign-in (another device) opens in it
    await client.post("/api/logout", json={})
    assert (await login(client))["agent"]["language"] == "en"
    # another field left out changes nothing; null goes back to the browser's
    assert (await (await client.patch("/api/me", json={})).json())["agent"]["language"] == "en"
    assert (await (await client.patch("/api/me", json={"language": None})).json())["agent"]["language"] is None


@pytest.mark.parametrize("body", [{"language": "de"}, {"language": 1}, {"lang": "ru"}, {"role": "admin"}])
async def test_a_bad_setting_is_refused_and_changes_nothing(client: Client, body: object) -> None:
    await login(client)
    await client.patch("/api/me", json={"language": "ru"})
    assert (await error_of(await client.patch("/api/me", json=body)))[0] == 422
    me = (await (await client.get("/api/me")).json())["agent"]
    assert me["language"] == "ru" and me["role"] == "admin"


async def test_a_resolved_conversation_is_reopened_for_the_agent(client: Client,
                                                                 agent_http: aiohttp.ClientSession) -> None:
    await login(client)
    conv = await customer_writes(client, "hi")
    await client.post(f"/api/conversations/{conv}/resolve", json={})
    # open: nothing to reopen
    other = await customer_writes(client, "hello", sender="visitor-2", external_id="2")
    assert (await error_of(await client.post(f"/api/conversations/{other}/reopen", json={})))[:2] == (409, "conflict")

    ann = (await (await agent_http.get("/api/me")).json())["agent"]
    resp = await agent_http.post(f"/api/conversations/{conv}/reopen", json={})
    assert resp.status == 200
    reopened = (await resp.json())["conversation"]
    assert (reopened["status"], reopened["agent_id"]) == ("assigned", ann["id"])
    # the customer's next message continues it, not a new one
    assert await customer_writes(client, "one more thing", external_id="3") == conv


async def test_reopening_is_refused_when_the_customer_has_written_since(client: Client) -> None:
    await login(client)
    conv = await customer_writes(client, "hi")
    await client.post(f"/api/conversations/{conv}/resolve", json={})
    newer = await customer_writes(client, "it broke again", external_id="2")
    assert newer != conv
    status, code, _ = await error_of(await client.post(f"/api/conversations/{conv}/reopen", json={}))
    assert (status, code) == (409, "customer_has_open_conversation")
    # nothing changed: the old one stays resolved, the new one open
    assert (await (await client.get(f"/api/conversations/{conv}")).json())["conversation"]["status"] == "resolved"
    assert (await (await client.get(f"/api/conversations/{newer}")).json())["conversation"]["status"] == "queued"
