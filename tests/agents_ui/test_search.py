"""The search API (agents_ui/search_api.py) over the whole service: what the
console's search box, filters, label chips and snooze action send, and a
clear 4xx, changing nothing, for every bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import aiohttp

from router.appkeys import ROUTER
from router.search.service import Kind, write_cursor
from tests.agents_ui.conftest import Client, customer_writes, error_of, login, next_event
from tests.conftest import eventually


async def search(client: Client, **params: Any) -> dict[str, Any]:
    resp = await client.get("/api/search", params={k: str(v) for k, v in params.items()})
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def found_texts(client: Client, q: str, **params: Any) -> list[str] | None:
    """The texts found, or None while there are none (the indexer may still be behind)."""
    texts = [h["message"]["text"] for h in (await search(client, q=q, **params))["messages"]]
    return texts or None


async def test_a_message_is_found_by_another_form_of_its_words(client: Client) -> None:
    await login(client)
    conv = await customer_writes(client, "Где мои заказы? Жду неделю", sender="v1", external_id="1")
    await customer_writes(client, "My orders are late", sender="v2", external_id="2")
    assert await eventually(lambda: found_texts(client, "заказ"), "the index") == ["Где мои заказы? Жду неделю"]
    assert await eventually(lambda: found_texts(client, "order"), "the index") == ["My orders are late"]
    hit = (await search(client, q="заказов"))["messages"][0]
    assert hit["conversation"]["id"] == conv and hit["conversation"]["customer_name"] == "Анна"


async def test_customers_and_conversations_are_found_by_name_and_identity(client: Client) -> None:
    await login(client)
    conv = await customer_writes(client, "привет", sender="v-42", name="Ольга Сидорова")

    async def customers() -> list[dict[str, Any]] | None:
        return (await search(client, q="сидор", kind="customers"))["customers"] or None

    found = await eventually(customers, "the customer in the index")
    assert [c["conversation_id"] for c in found] == [conv]
    assert found[0]["identities"] == [{"kind": "webchat", "value": "v-42"}]
    assert [c["id"] for c in (await search(client, q="v-42", kind="conversations"))["conversations"]] == [conv]


async def test_views_filter_and_page_by_cursor(client: Client) -> None:
    await login(client)
    ids = [await customer_writes(client, f"заказ {n}", sender=f"v{n}", external_id=str(n)) for n in range(5)]
    first = await search(client, kind="conversations", status="open", limit=2)
    assert [c["id"] for c in first["conversations"]] == ids[:-3:-1] and first["next"]
    rest = await search(client, kind="conversations", status="open", limit=10, cursor=first["next"])
    assert [c["id"] for c in rest["conversations"]] == ids[2::-1] and rest["next"] is None
    assert (await search(client, kind="conversations", status="resolved"))["conversations"] == []
    assert (await search(client, kind="conversations", channel="telegram"))["conversations"] == []


async def test_labels_are_added_shown_filtered_and_removed(client: Client) -> None:
    await login(client)
    conv = await customer_writes(client, "заказ не пришёл")
    ws = await client.ws_connect("/api/ws")
    resp = await client.post(f"/api/conversations/{conv}/labels", json={"name": "  доставка "})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["conversation"]["labels"] == ["доставка"]
    assert (await next_event(ws, "conversation.updated"))["conversation"]["labels"] == ["доставка"]
    listed = (await (await client.get("/api/conversations")).json())["conversations"]
    assert [c["labels"] for c in listed] == [["доставка"]]
    assert [lb["name"] for lb in (await (await client.get("/api/labels")).json())["labels"]] == ["доставка"]
    assert [c["id"] for c in (await search(client, kind="conversations", label="доставка"))["conversations"]] == [conv]
    resp = await client.delete(f"/api/conversations/{conv}/labels/{quote('доставка')}", json={})
    assert resp.status == 200 and (await resp.json())["conversation"]["labels"] == []
    await ws.close()


async def test_bad_input_gets_a_clear_error_and_changes_nothing(client: Client) -> None:
    await login(client)
    conv = await customer_writes(client, "заказ")
    bad_queries: list[tuple[dict[str, str], str]] = [
        ({"q": ""}, "query_empty"),
        ({"q": "   "}, "query_empty"),
        ({"q": "x" * 201}, "query_too_long"),
        ({"q": "?!…"}, "query_no_words"),
        ({"q": "the и of"}, "query_only_stop_words"),
        ({"q": "заказ", "status": "sleeping"}, "bad_status"),
        ({"q": "заказ", "label": "nope"}, "unknown_label"),
        ({"q": "заказ", "since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "bad_date_range"),
        ({"q": "заказ", "cursor": "not-a-cursor"}, "bad_cursor"),
        ({"q": "заказ", "cursor": write_cursor(Kind.MESSAGES, 2**63)}, "bad_cursor"),  # a forged position
        ({"q": "заказ", "cursor": write_cursor(Kind.MESSAGES, 10**30)}, "bad_cursor"),
        ({"q": "заказ", "since": "0001-01-01T00:00:00+05:00"}, "bad_date"),  # before year 1 in UTC
        ({"q": "заказ", "until": "9999-12-31T23:00:00-05:00"}, "bad_date"),
        ({"q": "заказ", "limit": "0"}, "bad_limit"),
        ({"q": "иван", "kind": "customers", "team": "support"}, "filters_not_for_customers"),
    ]
    for params, code in bad_queries:
        status, got, message = await error_of(await client.get("/api/search", params=params))
        assert (status, got) == (400, code), (params, message)
    status, got, _ = await error_of(await client.get("/api/search", params={"q": "заказ", "kind": "everything"}))
    assert (status, got) == (422, "invalid")
    status, got, _ = await error_of(await client.get("/api/search", params={"q": "заказ", "since": "yesterday"}))
    assert (status, got) == (422, "invalid")
    # a cursor of another kind of search is refused too
    page = await search(client, kind="conversations", limit=1)
    status, got, _ = await error_of(await client.get("/api/search", params={"q": "заказ", "cursor": page["next"]}))
    assert (status, got) == (400, "bad_cursor")

    for name, code in (("", "label_empty"), ("x" * 41, "label_too_long"), ("vip\nnow", "label_bad_characters"),
                       ("a\u200bb", "label_bad_characters")):
        resp = await client.post(f"/api/conversations/{conv}/labels", json={"name": name})
        assert (await error_of(resp))[:2] == (400, code), name
    status, got, _ = await error_of(await client.delete(f"/api/conversations/{conv}/labels/vip", json={}))
    assert (status, got) == (404, "label_not_on_conversation")
    status, got, _ = await error_of(await client.post("/api/conversations/conv_nope/labels", json={"name": "vip"}))
    assert (status, got) == (404, "not_found")
    for n in range(20):
        assert (await client.post(f"/api/conversations/{conv}/labels", json={"name": f"l{n}"})).status == 200
    status, got, _ = await error_of(await client.post(f"/api/conversations/{conv}/labels", json={"name": "l20"}))
    assert (status, got) == (409, "too_many_labels")

    now = datetime.now(UTC)
    for until, code in ((now - timedelta(minutes=1), "snooze_in_past"), (now + timedelta(days=400), "snooze_too_far")):
        resp = await client.post(f"/api/conversations/{conv}/snooze", json={"until": until.isoformat()})
        assert (await error_of(resp))[:2] == (400, code)
    resp = await client.post(f"/api/conversations/{conv}/snooze", json={"until": "2030-01-01T10:00:00"})
    assert (await error_of(resp))[:2] == (400, "snooze_no_timezone")
    listed = (await (await client.get("/api/conversations")).json())["conversations"]
    assert [c["id"] for c in listed] == [conv] and listed[0]["snoozed_until"] is None
    assert [lb["name"] for lb in (await (await client.get("/api/labels")).json())["labels"]] == \
        sorted(f"l{n}" for n in range(20))


async def test_a_snoozed_conversation_leaves_the_lists_and_comes_back_when_due(client: Client) -> None:
    await login(client)
    conv = await customer_writes(client, "перезвоните завтра")
    router = client.app[ROUTER]
    now = datetime.now(UTC)
    router.clock = lambda: now
    ws = await client.ws_connect("/api/ws")
    resp = await client.post(f"/api/conversations/{conv}/snooze",
                             json={"until": (now + timedelta(hours=1)).isoformat()})
    assert resp.status == 200, await resp.text()
    assert (await next_event(ws, "conversation.updated"))["conversation"]["snoozed_until"] is not None
    assert (await (await client.get("/api/conversations")).json())["conversations"] == []
    snoozed = await search(client, kind="conversations", snoozed="true")
    assert [c["id"] for c in snoozed["conversations"]] == [conv]
    # the time comes (the router's clock, which the sweep reads): it is back, and every console is told
    router.clock = lambda: now + timedelta(hours=1, seconds=1)
    router.snoozes.wakeup.set()
    back = await next_event(ws, "conversation.updated")
    assert back["conversation"]["id"] == conv and back["conversation"]["snoozed_until"] is None
    assert [c["id"] for c in (await (await client.get("/api/conversations")).json())["conversations"]] == [conv]
    await ws.close()


async def test_a_customer_writing_wakes_a_snoozed_conversation_at_once(client: Client) -> None:
    await login(client)
    conv = await customer_writes(client, "перезвоните завтра", external_id="1")
    until = datetime.now(UTC) + timedelta(days=1)
    assert (await client.post(f"/api/conversations/{conv}/snooze", json={"until": until.isoformat()})).status == 200
    ws = await client.ws_connect("/api/ws")
    assert await customer_writes(client, "я передумал, ответьте сейчас", external_id="2") == conv
    event = await next_event(ws, "message.created")
    assert event["conversation"]["snoozed_until"] is None
    assert [c["id"] for c in (await (await client.get("/api/conversations")).json())["conversations"]] == [conv]
    await ws.close()


async def test_an_agent_may_bring_a_snoozed_conversation_back_early(client: Client) -> None:
    await login(client)
    conv = await customer_writes(client, "позже")
    until = datetime.now(UTC) + timedelta(days=1)
    await client.post(f"/api/conversations/{conv}/snooze", json={"until": until.isoformat()})
    resp = await client.delete(f"/api/conversations/{conv}/snooze", json={})
    assert resp.status == 200 and (await resp.json())["conversation"]["snoozed_until"] is None


async def test_search_needs_a_login(client: Client) -> None:
    async with aiohttp.ClientSession(str(client.server.make_url(""))) as anonymous:
        resp = await anonymous.get("/api/search", params={"q": "заказ"})
        assert (await error_of(resp))[:2] == (401, "unauthenticated")
