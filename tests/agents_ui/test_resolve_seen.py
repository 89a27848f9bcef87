"""Resolve with the last message the console saw: a customer's message that
arrived meanwhile refuses it (409 unanswered_message, with how many), so it is
never left unseen in a resolved conversation; resolving again without it
confirms."""

from __future__ import annotations

from tests.agents_ui.conftest import Client, customer_writes, error_of, login


async def _messages(client: Client, conv: str) -> list[dict[str, object]]:
    messages: list[dict[str, object]] = (await (await client.get(f"/api/conversations/{conv}/messages")).json())[
        "messages"]
    return messages


async def test_a_message_that_arrived_after_the_one_seen_refuses_the_resolve(client: Client) -> None:
    await login(client)
    conv = await customer_writes(client, "Где мой заказ?")
    assert (await client.post(f"/api/conversations/{conv}/assign", json={})).status == 200
    seen = (await _messages(client, conv))[-1]["id"]
    assert await customer_writes(client, "И ещё вопрос", external_id="2") == conv  # while Resolve is on its way
    resp = await client.post(f"/api/conversations/{conv}/resolve", json={"seen_message_id": seen})
    assert (await error_of(resp))[:2] == (409, "unanswered_message")
    body = await (await client.post(f"/api/conversations/{conv}/resolve", json={"seen_message_id": seen})).json()
    assert body["error"]["count"] == 1  # the details, for the console's text
    shown = (await (await client.get(f"/api/conversations/{conv}")).json())["conversation"]
    assert shown["status"] == "assigned"
    latest = (await _messages(client, conv))[-1]["id"]
    resp = await client.post(f"/api/conversations/{conv}/resolve", json={"seen_message_id": latest})
    assert resp.status == 200 and (await resp.json())["conversation"]["status"] == "resolved"


async def test_the_agent_confirms_by_resolving_without_a_message_seen(client: Client) -> None:
    await login(client)
    conv = await customer_writes(client, "hello")
    resp = await client.post(f"/api/conversations/{conv}/resolve", json={})
    assert resp.status == 200 and (await resp.json())["conversation"]["status"] == "resolved"


async def test_an_unknown_field_in_the_resolve_is_refused_and_changes_nothing(client: Client) -> None:
    await login(client)
    conv = await customer_writes(client, "hello")
    resp = await client.post(f"/api/conversations/{conv}/resolve", json={"seen": "msg_1"})
    assert resp.status in (400, 422)
    shown = (await (await client.get(f"/api/conversations/{conv}")).json())["conversation"]
    assert shown["status"] != "resolved"
