"""Private notes and @mentions through the console API and its websocket: a
note is stored beside the conversation and never sent (no outbox entry, not
among the messages); a mention reaches the mentioned agent's sockets only."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from router.appkeys import STORE
from router.models import Agent, Role, utcnow
from router.notes.models import MAX_NOTE_LENGTH
from router.notes.service import resolve_mentions
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
from tests.conftest import HANG


async def write(http: Client | aiohttp.ClientSession, conv: str, text: str) -> aiohttp.ClientResponse:
    return await http.post(f"/api/conversations/{conv}/notes", json={"text": text})


async def test_a_note_is_listed_with_the_conversation_and_never_queued(client: Client) -> None:
    await login(client)
    conv = await customer_writes(client, "where is my order?")
    resp = await write(client, conv, "  Refund approved by finance  ")
    assert resp.status == 201, await resp.text()
    note = (await resp.json())["note"]
    assert note["text"] == "Refund approved by finance" and note["id"].startswith("note_")

    listed = await (await client.get(f"/api/conversations/{conv}/notes")).json()
    assert [n["id"] for n in listed["notes"]] == [note["id"]]
    messages = await (await client.get(f"/api/conversations/{conv}/messages")).json()
    assert [m["text"] for m in messages["messages"]] == ["where is my order?"]
    assert await client.app[STORE].pending_outbox(10) == []
    conversation = (await (await client.get(f"/api/conversations/{conv}")).json())["conversation"]
    assert conversation["last_message_text"] == "where is my order?"


@pytest.mark.parametrize(("text", "code"), [
    ("", "note_empty"), ("   \n ", "note_empty"), ("x" * (MAX_NOTE_LENGTH + 1), "note_too_long"),
    ("a\x00b", "note_invalid"),
])
async def test_a_bad_note_gets_its_own_code_and_stores_nothing(client: Client, text: str, code: str) -> None:
    await login(client)
    conv = await customer_writes(client, "hi")
    status, got, message = await error_of(await write(client, conv, text))
    assert (status, got) == (422, code) and message
    assert await client.app[STORE].conversation_notes(conv, 10) == []


@pytest.mark.parametrize("raw", ['{"text": "a\\ud800b"}', '{"text": "\\udfff"}', '{"text": "ok \\ud83d"}'])
async def test_a_note_with_a_lone_surrogate_is_refused_and_stores_nothing(client: Client, raw: str) -> None:
    """JSON may escape half a UTF-16 pair ("\\ud800"): no backend can store it, so it is refused, not a 500.
    Every body is checked for it where it is parsed (agents_ui.endpoints): 400 bad_json, before the
    note's own check (note_invalid) would see it."""
    await login(client)
    conv = await customer_writes(client, "hi")
    resp = await client.post(f"/api/conversations/{conv}/notes", data=raw,
                             headers={"Content-Type": "application/json"})
    assert (await error_of(resp))[:2] == (400, "bad_json")
    assert await client.app[STORE].conversation_notes(conv, 10) == []


@pytest.mark.parametrize("path", ["/api/conversations/%ED%A0%80/notes", "/api/conversations/%ED%A0%80/mentions/read"])
async def test_a_conversation_id_that_is_not_utf8_is_404(client: Client, path: str) -> None:
    await login(client)
    for method in ("GET", "POST") if path.endswith("/notes") else ("POST",):
        resp = await client.request(method, path, json={"text": "hi"} if method == "POST" and "notes" in path else {})
        assert (await error_of(resp))[:2] == (404, "not_found"), method


@pytest.mark.parametrize("body", [{}, {"text": 5}, {"text": "hi", "private": False}])
async def test_a_malformed_body_is_refused(client: Client, body: dict[str, Any]) -> None:
    await login(client)
    conv = await customer_writes(client, "hi")
    resp = await client.post(f"/api/conversations/{conv}/notes", json=body)
    assert (await error_of(resp))[:2] == (422, "invalid")
    assert await client.app[STORE].conversation_notes(conv, 10) == []


async def test_a_note_in_an_unknown_conversation_is_404(client: Client) -> None:
    await login(client)
    assert (await error_of(await write(client, "conv_missing", "hi")))[:2] == (404, "not_found")
    assert (await client.get("/api/conversations/conv_missing/notes")).status == 404


async def test_without_a_session_nothing_is_read_or_written(client: Client, open_session: OpenSession) -> None:
    await login(client)
    conv = await customer_writes(client, "hi")
    await write(client, conv, "for colleagues only")
    stranger = await open_session(client)
    assert (await error_of(await write(stranger, conv, "hello")))[:2] == (401, "unauthenticated")
    assert (await stranger.get(f"/api/conversations/{conv}/notes")).status == 401
    assert (await stranger.get("/api/mentions")).status == 401
    assert len(await client.app[STORE].conversation_notes(conv, 10)) == 1


async def test_a_reply_marked_private_is_refused_not_sent(client: Client) -> None:
    """A client that thinks the reply route takes a private flag (a UI bug) is
    refused: the text is not sent as a reply."""
    await login(client)
    conv = await customer_writes(client, "hi")
    for flag in ({"private": True}, {"note": True}, {"kind": "note"}):
        resp = await client.post(f"/api/conversations/{conv}/messages", json={"text": "internal only", **flag})
        assert (await error_of(resp))[:2] == (422, "invalid")
    assert await client.app[STORE].pending_outbox(10) == []
    messages = await (await client.get(f"/api/conversations/{conv}/messages")).json()
    assert [m["text"] for m in messages["messages"]] == ["hi"]


async def test_a_mention_reaches_the_mentioned_agents_sockets_only(client: Client, open_session: OpenSession) -> None:
    await login(client)
    bob = await create_agent(client, "bob")
    await create_agent(client, "cid")
    conv = await customer_writes(client, "my parcel is late")
    bob_http = await signed_in(client, open_session, "bob")
    cid_http = await signed_in(client, open_session, "cid")
    bob_ws = await bob_http.ws_connect("/api/ws")
    cid_ws = await cid_http.ws_connect("/api/ws")
    admin_ws = await client.ws_connect("/api/ws")

    resp = await write(client, conv, "@bob can you check the courier? cc @nobody-here, mail ann@bob.ru")
    assert resp.status == 201
    note = (await resp.json())["note"]
    assert note["mentions"] == [bob["id"]]  # an unknown name and an address are plain text

    mention = (await next_event(bob_ws, "note.mentioned"))["mention"]
    assert mention["note"]["id"] == note["id"] and mention["customer_name"] == "Анна"
    # every console shows the note in the thread; the mention is Bob's alone
    for ws in (cid_ws, admin_ws):
        assert (await next_event(ws, "note.created"))["note"]["id"] == note["id"]
    # a later event everyone gets comes to Cid and the admin with no note.mentioned before it
    await write(client, conv, "second note, nobody mentioned")
    for ws in (cid_ws, admin_ws):
        frame = await asyncio.wait_for(ws.receive_json(), HANG)
        assert frame["type"] == "note.created" and frame["data"]["note"]["text"] == "second note, nobody mentioned"

    listed = await (await bob_http.get("/api/mentions")).json()
    assert listed["unread"] == 1 and [m["note"]["id"] for m in listed["mentions"]] == [note["id"]]
    # opening the conversation reads it; Bob's other tabs hear the new count
    read = await (await bob_http.post(f"/api/conversations/{conv}/mentions/read", json={})).json()
    assert read == {"marked": 1, "unread": 0}
    assert (await next_event(bob_ws, "mentions.read"))["unread"] == 0
    assert (await (await bob_http.get("/api/mentions")).json())["unread"] == 0
    for ws in (bob_ws, cid_ws, admin_ws):
        await ws.close()


async def test_a_mention_of_oneself_notifies_nobody(client: Client) -> None:
    me = (await login(client))["agent"]
    conv = await customer_writes(client, "hi")
    resp = await write(client, conv, f"@{me['username']} remember to call back at 5")
    assert resp.status == 201
    assert (await resp.json())["note"]["mentions"] == []
    assert (await (await client.get("/api/mentions")).json()) == {"mentions": [], "unread": 0}


def test_a_deactivated_agent_is_not_notified() -> None:
    now = utcnow()
    ann = Agent(id="agt_ann", username="ann", display_name="Ann", role=Role.AGENT, created_at=now)
    bob = Agent(id="agt_bob", username="bob", display_name="Bob", role=Role.AGENT, created_at=now)
    gone = Agent(id="agt_old", username="old", display_name="Old", role=Role.AGENT, created_at=now, active=False)
    assert resolve_mentions("@bob @old @BOB. @ann", ann, [ann, bob, gone]) == [bob]


async def test_a_colleague_deactivated_by_an_admin_is_not_mentioned(client: Client) -> None:
    await login(client)
    conv = await customer_writes(client, "hi")
    bob = await create_agent(client, "bob")
    assert (await client.post(f"/api/agents/{bob['id']}/deactivate", json={})).status == 200
    resp = await write(client, conv, "@bob please call them back")
    assert resp.status == 201
    assert (await resp.json())["note"]["mentions"] == []
