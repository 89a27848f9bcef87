"""A customer writing after a resolve, on the real service: within the
window the conversation comes back (queued, its resolver preferred, every
console told), beyond it a new one opens; a survey's answer never reopens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp

from router.appkeys import ROUTER
from router.csat.config import CsatConfig
from router.routing.decide import DefaultTeamRouting
from router.routing.rules.schema import Reopen
from tests.agents_ui.conftest import Client, customer_writes, error_of, login, next_event


def _window(client: Client, within: float) -> None:
    routing = client.app[ROUTER].routing
    assert isinstance(routing, DefaultTeamRouting)
    routing.reopen = Reopen(within=within)


async def _resolve(client: Client, conversation_id: str) -> dict[str, object]:
    resp = await client.post(f"/api/conversations/{conversation_id}/resolve", json={})
    assert resp.status == 200, await resp.text()
    conversation: dict[str, object] = (await resp.json())["conversation"]
    return conversation


async def _conversation(client: Client, conversation_id: str) -> dict[str, object]:
    conversation: dict[str, object] = (await (await client.get(f"/api/conversations/{conversation_id}")).json())[
        "conversation"]
    return conversation


async def test_a_message_within_the_window_reopens_the_conversation_live(client: Client) -> None:
    me = (await login(client))["agent"]
    conv = await customer_writes(client, "Где мой заказ?")
    assert (await client.post(f"/api/conversations/{conv}/assign", json={})).status == 200
    resolved = await _resolve(client, conv)
    assert resolved["status"] == "resolved"
    ws = await client.ws_connect("/api/ws")
    try:
        assert await customer_writes(client, "Заказ так и не пришёл", external_id="2") == conv
        updated = await next_event(ws, "conversation.updated")
        shown = updated["conversation"]
        assert shown["id"] == conv and shown["status"] == "queued" and shown["agent_id"] is None
        assert shown["preferred_agent_id"] == me["id"]  # offered first to the agent who handled it
        assert shown["reopens"] == 1 and shown["reopened_at"] is not None and shown["resolved_at"] is None
        created = await next_event(ws, "message.created")
        assert created["message"]["conversation_id"] == conv and created["conversation"]["status"] == "queued"
    finally:
        await ws.close()
    history = (await (await client.get(f"/api/conversations/{conv}/messages")).json())["messages"]
    assert [m["text"] for m in history] == ["Где мой заказ?", "Заказ так и не пришёл"]
    listed = (await (await client.get("/api/conversations?status=queued")).json())["conversations"]
    assert [c["id"] for c in listed] == [conv]
    # one conversation for this customer, so nothing to refuse an agent's reopen over later
    await _resolve(client, conv)
    assert (await _conversation(client, conv))["reopens"] == 1


async def test_beyond_the_window_a_new_conversation_opens(client: Client) -> None:
    await login(client)
    router = client.app[ROUTER]
    conv = await customer_writes(client, "hi")
    assert (await client.post(f"/api/conversations/{conv}/assign", json={})).status == 200
    await _resolve(client, conv)
    later = datetime.now(UTC) + timedelta(hours=24, minutes=1)
    router.clock = lambda: later
    ws = await client.ws_connect("/api/ws")
    try:
        newer = await customer_writes(client, "a new question", external_id="2")
        assert newer != conv
        assert (await next_event(ws, "conversation.created"))["conversation"]["id"] == newer
    finally:
        await ws.close()
    old = await _conversation(client, conv)
    assert old["status"] == "resolved" and old["reopens"] == 0


async def test_a_window_of_zero_always_opens_a_new_conversation(client: Client) -> None:
    await login(client)
    _window(client, 0)
    conv = await customer_writes(client, "hi")
    assert (await client.post(f"/api/conversations/{conv}/assign", json={})).status == 200
    await _resolve(client, conv)
    assert await customer_writes(client, "one more", external_id="2") != conv
    assert (await _conversation(client, conv))["status"] == "resolved"


async def test_a_conversation_no_agent_had_is_not_reopened(client: Client) -> None:
    """Resolved straight from the queue (or from the bot): the customer's next message is a new case."""
    await login(client)
    conv = await customer_writes(client, "spam spam")
    await _resolve(client, conv)
    assert await customer_writes(client, "a real question", external_id="2") != conv


async def test_the_agents_reopen_is_refused_once_the_customer_has_a_newer_conversation(client: Client) -> None:
    await login(client)
    _window(client, 0)
    conv = await customer_writes(client, "hi")
    await _resolve(client, conv)
    await customer_writes(client, "it broke again", external_id="2")
    status, code, _ = await error_of(await client.post(f"/api/conversations/{conv}/reopen", json={}))
    assert (status, code) == (409, "customer_has_open_conversation")


async def test_a_survey_answer_does_not_reopen_but_the_next_message_does(client: Client,
                                                                         agent_http: aiohttp.ClientSession) -> None:
    client.app[ROUTER].surveys.config = CsatConfig(enabled=True)
    await login(client)
    conv = await customer_writes(client, "Where is my order?")
    assert (await client.post(f"/api/conversations/{conv}/assign", json={})).status == 200
    # an agent's answer: a survey is asked only of a conversation an agent answered (router.csat)
    assert (await client.post(f"/api/conversations/{conv}/messages", json={"text": "On its way"})).status == 201
    await _resolve(client, conv)
    assert await customer_writes(client, "5", external_id="2") == conv  # the rating, kept with the survey
    rated = await _conversation(client, conv)
    assert rated["status"] == "resolved" and rated["reopens"] == 0
    survey = (await (await client.get(f"/api/conversations/{conv}/survey")).json())["survey"]
    assert survey["rating"] == 5
    # the comment the survey asked for after the rating: kept with it too
    assert await customer_writes(client, "quick and kind", external_id="3") == conv
    assert (await _conversation(client, conv))["status"] == "resolved"
    # a new request (a question) is an ordinary message: it reopens the conversation
    assert await customer_writes(client, "And where is my refund?", external_id="4") == conv
    back = await _conversation(client, conv)
    assert back["status"] == "queued" and back["reopens"] == 1
