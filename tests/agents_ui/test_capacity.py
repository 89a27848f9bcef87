"""An agent's capacity (teams.yaml, per channel kind) holds on every way a
conversation becomes theirs by hand, as it does for the assigner's offers
and a transfer: a supervisor's assign, the agent's own Take, Reopen and a
reply to a queued conversation are refused with 409 ``at_capacity`` (its
details name whose limit and which), and nothing changes (DESIGN.md,
invariant 10). The shift sweep's defect 3 (/tmp/sweep-shift/REPORT.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from router.appkeys import STORE
from router.config import Settings
from router.models import ConversationStatus
from tests.agents_ui.conftest import (
    Client,
    OpenSession,
    admin_with_teams,
    create_agent,
    customer_writes,
    signed_in,
)

TEAMS_YAML = """\
teams: {support: {}}
agents:
  - {username: boris, teams: [support], capacity: {chat: 2}}
"""


@pytest.fixture
async def client(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                 aiohttp_client: Callable[..., Awaitable[Client]]) -> Client:
    """The service with a teams.yaml giving boris two chats at once; the admin
    (who may give anyone a conversation) logged in. boris stays offline, so
    the assigner offers him nothing: every conversation he gets is by hand."""
    client = await admin_with_teams(settings, tmp_path, monkeypatch, aiohttp_client, TEAMS_YAML)
    return client


@pytest.fixture
async def boris(client: Client, open_session: OpenSession) -> aiohttp.ClientSession:
    await create_agent(client, "boris")
    return await signed_in(client, open_session, "boris")


async def conversations(client: Client, n: int, start: int = 0) -> list[str]:
    return [await customer_writes(client, f"question {i}", sender=f"visitor-{i}", external_id=str(i))
            for i in range(start, start + n)]


async def full(boris: aiohttp.ClientSession, client: Client) -> list[str]:
    """boris takes two chats: his capacity."""
    taken = await conversations(client, 2, start=100)
    for conversation_id in taken:
        resp = await boris.post(f"/api/conversations/{conversation_id}/assign", json={})
        assert resp.status == 200, await resp.text()
    return taken


async def refusal(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    assert resp.status == 409, await resp.text()
    error: dict[str, Any] = (await resp.json())["error"]
    assert error["code"] == "at_capacity", error
    return error


async def boris_load(client: Client) -> int:
    boris_id = next(a.id for a in await client.app[STORE].list_agents() if a.username == "boris")
    return (await client.app[STORE].agent_loads()).get(boris_id, {}).get("chat", 0)


async def assert_untouched(client: Client, conversation_id: str, status: ConversationStatus) -> None:
    view = await client.app[STORE].get_conversation(conversation_id)
    assert view.status is status, view
    assert await boris_load(client) == 2


async def test_a_supervisor_cannot_assign_a_conversation_to_a_full_agent(client: Client,
                                                                        boris: aiohttp.ClientSession) -> None:
    await full(boris, client)
    [waiting] = await conversations(client, 1)
    boris_id = (await (await boris.get("/api/me")).json())["agent"]["id"]
    error = await refusal(await client.post(f"/api/conversations/{waiting}/assign", json={"agent_id": boris_id}))
    assert error | {"message": ""} == {"code": "at_capacity", "message": "", "reason": "theirs", "name": "Boris",
                                       "username": "boris", "kind": "chat", "capacity": 2}
    assert "Boris" in error["message"] and "chat" in error["message"]
    await assert_untouched(client, waiting, ConversationStatus.QUEUED)
    # as a transfer to him is (the assigner's offer), with the same words: the console names who is full
    error = await refusal(await client.post(f"/api/conversations/{waiting}/transfer", json={"agent_id": boris_id}))
    assert error | {"message": ""} == {"code": "at_capacity", "message": "", "reason": "theirs", "name": "Boris",
                                       "username": "boris", "kind": "chat", "capacity": 2}
    await assert_untouched(client, waiting, ConversationStatus.QUEUED)


async def test_a_full_agent_transferring_to_themselves_is_told_it_is_their_limit(
        client: Client, boris: aiohttp.ClientSession) -> None:
    await full(boris, client)
    [waiting] = await conversations(client, 1)
    boris_id = (await (await boris.get("/api/me")).json())["agent"]["id"]
    error = await refusal(await boris.post(f"/api/conversations/{waiting}/transfer", json={"agent_id": boris_id}))
    assert error["reason"] == "yours", error
    await assert_untouched(client, waiting, ConversationStatus.QUEUED)


async def test_a_full_agent_cannot_take_a_queued_conversation(client: Client, boris: aiohttp.ClientSession) -> None:
    taken = await full(boris, client)
    [waiting] = await conversations(client, 1)
    error = await refusal(await boris.post(f"/api/conversations/{waiting}/assign", json={}))
    assert error | {"message": ""} == {"code": "at_capacity", "message": "", "reason": "yours", "name": "Boris",
                                       "username": "boris", "kind": "chat", "capacity": 2}
    await assert_untouched(client, waiting, ConversationStatus.QUEUED)
    # Take on one of his own adds nothing: not refused
    assert (await boris.post(f"/api/conversations/{taken[0]}/assign", json={})).status == 200
    # once one is resolved there is room again
    assert (await boris.post(f"/api/conversations/{taken[1]}/resolve", json={})).status == 200
    assert (await boris.post(f"/api/conversations/{waiting}/assign", json={})).status == 200


async def test_a_full_agent_cannot_reopen_a_resolved_conversation(client: Client,
                                                                  boris: aiohttp.ClientSession) -> None:
    [done] = await conversations(client, 1)
    assert (await boris.post(f"/api/conversations/{done}/assign", json={})).status == 200
    assert (await boris.post(f"/api/conversations/{done}/resolve", json={})).status == 200
    await full(boris, client)
    error = await refusal(await boris.post(f"/api/conversations/{done}/reopen", json={}))
    assert error["reason"] == "yours"
    await assert_untouched(client, done, ConversationStatus.RESOLVED)


async def test_a_full_agents_reply_to_a_queued_conversation_is_refused_and_not_sent(
        client: Client, boris: aiohttp.ClientSession) -> None:
    """Refused rather than sent without taking it: a reply makes the
    conversation the replier's (the customer then talks to them), so sent
    from someone at capacity it would either overfill them or leave the
    customer answered by one agent and queued for another."""
    taken = await full(boris, client)
    [waiting] = await conversations(client, 1)
    error = await refusal(await boris.post(f"/api/conversations/{waiting}/messages", json={"text": "Hello!"}))
    assert error["reason"] == "reply"
    await assert_untouched(client, waiting, ConversationStatus.QUEUED)
    messages = (await (await boris.get(f"/api/conversations/{waiting}/messages")).json())["messages"]
    assert [m["direction"] for m in messages] == ["in"]  # nothing stored, nothing in the outbox
    # a reply in one of his own is no take: it goes
    assert (await boris.post(f"/api/conversations/{taken[0]}/messages", json={"text": "Hello!"})).status == 201


async def test_an_account_no_team_names_has_no_capacity_to_keep(client: Client, open_session: OpenSession) -> None:
    """Neither teams.yaml nor the console gives ann a capacity: routing
    offers her nothing, and what she takes by hand is not limited."""
    await create_agent(client, "ann")
    ann = await signed_in(client, open_session, "ann")
    for conversation_id in await conversations(client, 4):
        assert (await ann.post(f"/api/conversations/{conversation_id}/assign", json={})).status == 200
