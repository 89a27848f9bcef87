"""Satisfaction ratings in the console API: the conversation's and the
customer's, pushed live as ``csat.rated``, and the reports' listing with its
bad periods refused."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest

from router.appkeys import ROUTER
from router.csat.config import CsatConfig
from tests.agents_ui.conftest import Client, customer_writes, error_of, login, next_event


@pytest.fixture
async def asking(client: Client) -> Client:
    client.app[ROUTER].surveys.config = CsatConfig(enabled=True)
    await login(client)
    return client


async def _resolve(client: Client, conversation_id: str) -> None:
    """An agent answers, then resolves: a survey rates an agent's help, so one nobody answered is not asked."""
    resp = await client.post(f"/api/conversations/{conversation_id}/messages", json={"text": "Sorted."})
    assert resp.status in (200, 201), await resp.text()
    resp = await client.post(f"/api/conversations/{conversation_id}/resolve", json={})
    assert resp.status == 200, await resp.text()


async def test_a_rating_is_shown_with_the_conversation_and_the_customer_and_pushed_live(asking: Client) -> None:
    conversation_id = await customer_writes(asking, "Where is my order?")
    ws = await asking.ws_connect("/api/ws")
    try:
        await _resolve(asking, conversation_id)
        resp = await asking.get(f"/api/conversations/{conversation_id}/survey")
        asked = (await resp.json())["survey"]
        assert asked["rating"] is None and asked["language"] == "en" and asked["team"] is not None
        assert asked["agent_id"] is not None

        await customer_writes(asking, "4", external_id="2")
        event = await next_event(ws, "csat.rated")
        assert event["survey"]["rating"] == 4 and event["survey"]["conversation_id"] == conversation_id
        resp = await asking.get(f"/api/conversations/{conversation_id}/survey")
        assert (await resp.json())["survey"]["rating"] == 4
        customer_id = asked["customer_id"]
        resp = await asking.get(f"/api/customers/{customer_id}/surveys")
        assert [s["rating"] for s in (await resp.json())["surveys"]] == [4]
    finally:
        await ws.close()


async def test_a_conversation_not_asked_has_no_survey_and_an_unknown_one_is_404(asking: Client) -> None:
    conversation_id = await customer_writes(asking, "Hello")
    resp = await asking.get(f"/api/conversations/{conversation_id}/survey")
    assert resp.status == 200 and (await resp.json()) == {"survey": None}
    resp = await asking.get("/api/conversations/conv_missing/survey")
    assert resp.status == 404
    resp = await asking.get("/api/customers/cus_missing/surveys")
    assert resp.status == 404


async def test_the_reports_listing(asking: Client, agent_http: aiohttp.ClientSession) -> None:
    conversation_id = await customer_writes(asking, "Hello")
    await _resolve(asking, conversation_id)
    resp = await asking.get("/api/surveys", params={"since": "2020-01-01T00:00:00Z", "until": "2020-12-31T00:00:00Z"})
    assert resp.status == 200 and (await resp.json()) == {"surveys": []}
    resp = await asking.get("/api/surveys", params={"since": "2026-01-01T00:00:00+03:00",
                                                   "until": "2099-12-31T00:00:00Z"})
    assert await error_of(resp) == (400, "csat_period_too_long", "ask for at most 366 days at a time")
    async with agent_http.get("/api/surveys", params={"since": "2020-01-01T00:00:00Z",
                                                       "until": "2020-02-01T00:00:00Z"}) as resp:
        assert resp.status == 403  # reports are not every agent's
    for bad in ({"since": "2020-02-01T00:00:00Z", "until": "2020-01-01T00:00:00Z"},
                {"since": "2020-01-01T00:00:00", "until": "2020-02-01T00:00:00Z"}, {}):
        resp = await asking.get("/api/surveys", params=bad)
        assert resp.status == 422, bad
    found = await asking.app[ROUTER].store.conversation_survey(conversation_id)
    assert found is not None
    around = {"since": (found.asked_at - timedelta(minutes=1)).isoformat(),
              "until": (found.asked_at + timedelta(minutes=1)).isoformat()}
    resp = await asking.get("/api/surveys", params=around)
    assert [s["id"] for s in (await resp.json())["surveys"]] == [found.id]
    resp = await asking.get("/api/surveys", params={**around, "after": found.id})
    assert (await resp.json())["surveys"] == []


async def test_resolved_reopened_and_resolved_again_is_asked_once(asking: Client) -> None:
    conversation_id = await customer_writes(asking, "Where is my order?")
    await _resolve(asking, conversation_id)
    first = (await (await asking.get(f"/api/conversations/{conversation_id}/survey")).json())["survey"]
    resp = await asking.post(f"/api/conversations/{conversation_id}/reopen", json={})
    assert resp.status == 200, await resp.text()
    await _resolve(asking, conversation_id)
    again = (await (await asking.get(f"/api/conversations/{conversation_id}/survey")).json())["survey"]
    assert again == first
    store = asking.app[ROUTER].store
    questions = [m for m in await store.list_messages(conversation_id, 100) if m.core.automatic == "csat"]
    assert len(questions) == 1
