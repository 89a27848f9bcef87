"""The "Mine" tab asks the server for the agent's own conversations, a page
at a time (GET /api/conversations?assignee=me&cursor=...): an agent with more
conversations than one page sees every one of theirs, and none of anyone else's."""

from __future__ import annotations

from typing import Any

import aiohttp

from agents_ui.conversation_pages import write_cursor
from router.appkeys import STORE
from tests.agents_ui.conftest import Client, customer_writes, error_of


async def pages(http: aiohttp.ClientSession | Client, query: str) -> list[list[dict[str, Any]]]:
    found, cursor = [], ""
    while True:
        resp = await http.get(f"/api/conversations?{query}" + (f"&cursor={cursor}" if cursor else ""))
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        found.append(body["conversations"])
        if body["next"] is None:
            return found
        cursor = body["next"]


async def test_mine_is_every_one_of_mine_page_by_page(client: Client, agent_http: aiohttp.ClientSession) -> None:
    ann = (await (await agent_http.get("/api/me")).json())["agent"]
    mine, others = [], []
    for i in range(7):
        conv = await customer_writes(client, f"question {i}", sender=f"visitor-{i}", external_id=str(i))
        # every other one is taken by ann, the rest by the admin: the newest page holds both
        http = agent_http if i % 2 == 0 else client
        assert (await http.post(f"/api/conversations/{conv}/assign", json={})).status == 200
        (mine if i % 2 == 0 else others).append(conv)

    got = await pages(agent_http, "status=assigned&assignee=me&limit=2")
    assert [len(p) for p in got] == [2, 2]  # 4 of ann's: two full pages, nothing borrowed from others
    assert [c["id"] for p in got for c in p] == list(reversed(mine))  # newest first, each once
    assert all(c["agent_id"] == ann["id"] for p in got for c in p)
    # the whole list pages the same way, and the admin's "mine" are the admin's
    everyone = await pages(client, "status=assigned&limit=3")
    assert [c["id"] for p in everyone for c in p] == list(reversed(
        [c for pair in zip(mine, [*others, None], strict=True) for c in pair if c]))
    assert {c["id"] for p in await pages(client, "status=assigned&assignee=me") for c in p} == set(others)


async def test_a_page_of_one_status_stops_at_its_last(client: Client, agent_http: aiohttp.ClientSession) -> None:
    conv = await customer_writes(client, "hi")
    assert (await agent_http.post(f"/api/conversations/{conv}/assign", json={})).status == 200
    body = await (await agent_http.get("/api/conversations?status=assigned&assignee=me&limit=1")).json()
    assert [c["id"] for c in body["conversations"]] == [conv] and body["next"] is None
    # the same limit over a cursor past the last one: nothing, and no next
    last = await client.app[STORE].get_conversation(conv)
    after = await (await agent_http.get(f"/api/conversations?assignee=me&cursor={write_cursor(last)}")).json()
    assert after == {"conversations": [], "next": None}


async def test_a_forged_cursor_or_assignee_is_refused(client: Client, agent_http: aiohttp.ClientSession) -> None:
    for cursor in ("nonsense", "W10", "WyJ4IiwgMV0", "x" * 201):
        status, code, _ = await error_of(await agent_http.get(f"/api/conversations?cursor={cursor}"))
        assert (status, code) in {(400, "bad_list_cursor"), (422, "invalid")}, cursor
    status, code, _ = await error_of(await agent_http.get("/api/conversations?assignee=bob"))
    assert (status, code) == (422, "invalid")
