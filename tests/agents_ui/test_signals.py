"""The live signals through the console's API and the site chat's socket
(router.signals): an agent's read marks and unread counts, true on every
device; typing both ways; and "Seen" in the widget."""

from __future__ import annotations

import aiohttp
import pytest

from router.appkeys import ROUTER
from router.config import Settings
from router.models import IdentityRef, InboundMessage
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
from tests.connectors.webchat_helpers import barrier, hello, receive, say, tab, webchat_settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return webchat_settings(settings)  # the site chat, whose widget shows typing and "Seen"


async def unread(http: Client | aiohttp.ClientSession, *ids: str) -> dict[str, object]:
    resp = await http.get("/api/unread", params={"ids": ",".join(ids)})
    assert resp.status == 200, await resp.text()
    body: dict[str, object] = await resp.json()
    return body


async def messages_of(http: Client | aiohttp.ClientSession, conv: str) -> list[str]:
    resp = await http.get(f"/api/conversations/{conv}/messages")
    return [m["id"] for m in (await resp.json())["messages"]]


async def test_unread_counts_follow_the_agents_read_mark_on_every_device(
        client: Client, open_session: OpenSession) -> None:
    await login(client)
    other_device = await open_session(client)
    await login(other_device)
    live = await other_device.ws_connect("/api/ws")
    conv = await customer_writes(client, "Где мой заказ?", external_id="1")
    await customer_writes(client, "Номер 1234", external_id="2")
    assert (await unread(client, conv))["unread"] == {conv: 2}

    first, second = await messages_of(client, conv)
    resp = await client.post(f"/api/conversations/{conv}/read", json={"message_id": first})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["unread"] == 1
    # the other device hears it, and reads the same count
    read = await next_event(live, "conversation.read")
    assert (read["conversation_id"], read["message_id"]) == (conv, first)
    assert (await unread(other_device, conv))["unread"] == {conv: 1}

    resp = await other_device.post(f"/api/conversations/{conv}/read", json={})  # all of it
    assert (await resp.json())["message_id"] == second
    assert (await unread(client, conv))["unread"] == {conv: 0}
    # a slower device that read only the first does not bring the count back
    await client.post(f"/api/conversations/{conv}/read", json={"message_id": first})
    assert (await unread(client, conv))["unread"] == {conv: 0}
    await live.close()


async def test_the_total_counts_the_agents_own_open_conversations(
        client: Client, open_session: OpenSession) -> None:
    await login(client)
    await create_agent(client)
    ann = await signed_in(client, open_session, "ann")
    hers = await customer_writes(client, "Первый вопрос", sender="v1", external_id="1")
    queued = await customer_writes(client, "Второй вопрос", sender="v2", external_id="2")
    assert (await ann.post(f"/api/conversations/{hers}/assign", json={})).status == 200
    await customer_writes(client, "Ещё вопрос", sender="v1", external_id="3")

    found = await unread(ann)
    assert found["mine"] == [hers] and found["unread"] == {hers: 2} and found["total"] == 2
    # asked about, a queued one is counted too, but not in her total
    found = await unread(ann, queued)
    assert found["unread"] == {hers: 2, queued: 1} and found["total"] == 2
    assert (await unread(client))["total"] == 0  # the admin's own: none


async def test_marking_what_is_not_there_or_asking_too_much_is_a_clear_error(client: Client) -> None:
    await login(client)
    conv = await customer_writes(client, "Вопрос", sender="v1", external_id="1")
    other = await customer_writes(client, "Другой", sender="v2", external_id="2")
    [foreign] = await messages_of(client, other)
    for path, body in ((f"/api/conversations/{conv}/read", {"message_id": foreign}),
                       ("/api/conversations/cnv_missing/read", {}),
                       (f"/api/conversations/{conv}/read", {"message_id": "msg_missing"})):
        status, code, _ = await error_of(await client.post(path, json=body))
        assert (status, code) == (404, "read_unknown")
    status, code, _ = await error_of(await client.post(f"/api/conversations/{conv}/read", json={"until": "x"}))
    assert (status, code) == (422, "invalid")
    status, code, _ = await error_of(await client.get("/api/unread", params={"ids": ",".join(["c"] * 501)}))
    assert (status, code) == (422, "unread_over_limit")
    status, code, _ = await error_of(await client.post("/api/conversations/cnv_missing/typing", json={}))
    assert (status, code) == (404, "not_found")
    assert (await unread(client, conv, other))["unread"] == {conv: 1, other: 1}  # nothing was marked


async def test_the_visitor_typing_reaches_the_console_throttled(client: Client) -> None:
    await login(client)
    live = await client.ws_connect("/api/ws")
    async with tab(client) as ws:
        await hello(ws)
        ack = await say(ws, "Здравствуйте")
        conv = (await next_event(live, "message.created"))["message"]["conversation_id"]
        for _ in range(20):  # a script, or a fast typist's every key
            await ws.send_json({"type": "typing"})
        await barrier(ws)  # the server has taken them all
        await say(ws, "Вот и я")
        typed = 0
        while True:
            frame = await live.receive_json()
            if frame["type"] == "message.created":
                break
            if frame["type"] == "conversation.typing":
                assert frame["data"] == {"conversation_id": conv, "author": "customer"}
                typed += 1
        # one every 2 s at most: far fewer than were sent, however slow the machine
        assert 1 <= typed < 20
        assert ack["id"] in await messages_of(client, conv)
    await live.close()


async def test_typing_before_hello_is_refused(client: Client) -> None:
    async with tab(client) as ws:
        await ws.send_json({"type": "typing"})
        frame = await receive(ws)
        assert (frame["type"], frame["code"]) == ("error", "hello_required")


async def test_the_agent_typing_reaches_every_tab_of_the_visitor(client: Client) -> None:
    await login(client)
    async with tab(client) as first, tab(client) as second:
        visitor = (await hello(first))["visitor_id"]
        await hello(second, visitor)
        await say(first, "Есть кто?")
        assert (await receive(second))["text"] == "Есть кто?"  # the other tab shows it too
        [conv] = [c["id"] for c in (await (await client.get("/api/conversations")).json())["conversations"]]
        resp = await client.post(f"/api/conversations/{conv}/typing", json={})
        assert (resp.status, await resp.json()) == (200, {"shown": True})
        for ws in (first, second):
            assert await receive(ws) == {"type": "typing", "author": "agent"}
        await client.post(f"/api/conversations/{conv}/resolve", json={})
        resp = await client.post(f"/api/conversations/{conv}/typing", json={})
        assert await resp.json() == {"shown": False}  # resolved: nobody is told


async def test_seen_is_shown_once_an_agent_read_the_visitors_last_message(client: Client) -> None:
    await login(client)
    async with tab(client) as ws:
        visitor = (await hello(ws))["visitor_id"]
        ack = await say(ws, "Вопрос")
        [conv] = [c["id"] for c in (await (await client.get("/api/conversations")).json())["conversations"]]
        resp = await client.post(f"/api/conversations/{conv}/read", json={})
        assert resp.status == 200
        assert await receive(ws) == {"type": "seen", "id": ack["id"]}
    async with tab(client) as ws:  # a reload says so too
        assert (await hello(ws, visitor))["seen"] == ack["id"]
        await say(ws, "И ещё")
    async with tab(client) as ws:  # their newer message is not seen yet
        assert "seen" not in await hello(ws, visitor)


async def test_typing_in_a_colleagues_conversation_is_not_shown(client: Client, open_session: OpenSession) -> None:
    """Only who may reply is announced: another agent drafting there would promise an answer that cannot come."""
    await login(client)
    await create_agent(client)
    ann = await signed_in(client, open_session, "ann")
    async with tab(client) as ws:
        await hello(ws)
        await say(ws, "Есть кто?")
        [conv] = [c["id"] for c in (await (await client.get("/api/conversations")).json())["conversations"]]
        assert (await ann.post(f"/api/conversations/{conv}/assign", json={})).status == 200
        resp = await client.post(f"/api/conversations/{conv}/typing", json={})  # the admin, not the assignee
        assert await resp.json() == {"shown": False}
        resp = await ann.post(f"/api/conversations/{conv}/typing", json={})
        assert await resp.json() == {"shown": True}
        assert await receive(ws) == {"type": "typing", "author": "agent"}  # hers only: the first frame is it


async def test_a_channel_that_cannot_show_typing_is_told_nothing(client: Client) -> None:
    """SMS, email, or a channel whose connector does not run: nothing is shown, and the console knows."""
    await login(client)
    accepted = await client.app[ROUTER].on_message(InboundMessage(
        channel="sms", external_id="SM1", sender=IdentityRef(kind="sms", value="+79123456789"), text="Алло"))
    assert accepted.conversation_id is not None
    resp = await client.post(f"/api/conversations/{accepted.conversation_id}/typing", json={})
    assert (resp.status, await resp.json()) == (200, {"shown": False})
