"""A mention across nodes: two ``omnirouter run`` processes against one real
PostgreSQL. The customer chats on node A, where an admin writes a note
mentioning Bob; Bob's console on node B is told at once, Cid's console on node
B sees the note in the thread but no mention of Bob's, and the customer's
socket gets nothing (invariant 8) before a reply written after the notes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from tests.e2e.conftest import ADMIN_PASSWORD
from tests.router.cluster.test_two_nodes import _next, node

PASSWORD = "colleague-password-1"
MARKER = "Посылка найдена, завтра будет у вас"


async def _session(http: aiohttp.ClientSession, base: str, username: str, password: str) -> None:
    resp = await http.post(f"{base}/api/login", json={"username": username, "password": password})
    assert resp.status == 200, await resp.text()


def _jar() -> aiohttp.CookieJar:
    return aiohttp.CookieJar(unsafe=True)  # cookies of an IP address


async def test_a_mention_written_on_one_node_reaches_only_its_agent_on_the_other(tmp_path: Path, pg_database: str
                                                                                 ) -> None:
    async with node(tmp_path, pg_database, "a") as a, node(tmp_path, pg_database, "b") as b, \
            aiohttp.ClientSession() as customer, aiohttp.ClientSession(cookie_jar=_jar()) as admin, \
            aiohttp.ClientSession(cookie_jar=_jar()) as bob, aiohttp.ClientSession(cookie_jar=_jar()) as cid:
        await _session(admin, a, "admin", ADMIN_PASSWORD)
        for name in ("bob", "cid"):
            made = await admin.post(f"{a}/api/agents", json={"username": name, "display_name": name.title(),
                                                             "password": PASSWORD})
            assert made.status == 201, await made.text()
        await _session(bob, b, "bob", PASSWORD)
        await _session(cid, b, "cid", PASSWORD)
        async with bob.ws_connect(f"{b}/api/ws", origin=b) as bob_ws, \
                cid.ws_connect(f"{b}/api/ws", origin=b) as cid_ws, customer.ws_connect(f"{a}/chat/ws") as chat:
            await chat.send_json({"type": "hello"})
            assert (await chat.receive_json())["type"] == "welcome"
            await chat.send_json({"type": "message", "text": "Где мой заказ?", "client_id": "c1"})
            await _next(chat, lambda f: f["type"] == "ack")
            created = await _next(cid_ws, lambda f: f["type"] == "message.created")
            conversation_id = created["data"]["conversation"]["id"]

            notes: list[dict[str, Any]] = []
            for text in ("@bob the courier lost it, refund", "a second note, nobody mentioned"):
                resp = await admin.post(f"{a}/api/conversations/{conversation_id}/notes", json={"text": text})
                assert resp.status == 201, await resp.text()
                notes.append((await resp.json())["note"])

            mention = await _next(bob_ws, lambda f: f["type"] == "note.mentioned")
            assert mention["data"]["mention"]["note"]["id"] == notes[0]["id"]
            # Cid's socket: both notes in order, and nothing addressed to Bob between them
            seen = [await _next(cid_ws, lambda f: f["type"].startswith(("note.", "mentions.")))
                    for _ in notes]
            assert [(f["type"], f["data"]["note"]["id"]) for f in seen] == [("note.created", n["id"]) for n in notes]
            # an agent's reply written after the notes: every frame the customer's socket gets until it
            # arrives (by the outbox, the slower path) is one a note would have come before: none is a note
            marker = await admin.post(f"{a}/api/conversations/{conversation_id}/messages", json={"text": MARKER})
            assert marker.status == 201, await marker.text()
            frames = [await _next(chat, lambda f: True)]
            while not (frames[-1]["type"] == "message" and frames[-1].get("text") == MARKER):
                frames.append(await _next(chat, lambda f: True))
            assert not [f for f in frames if f["type"].startswith(("note", "mention"))], frames
            assert "courier lost it" not in repr(frames) and "second note" not in repr(frames)
