"""VK's Bots Long Poll resumes where the last poller stopped: VK keeps a
community's events for a while, and a poller that starts (another node taking
over, this one after a restart) reads on from the ``ts`` the last one saved
through the host, not from VK's "now". What customers wrote while no poller
ran is stored, once each."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from router.appkeys import CONNECTORS
from router.cluster.node import NODE_ENV
from router.cluster.postgres_leadership import PgLeadership
from router.config import ConnectorConfig, Settings
from router.server.app import DATABASE_URL, create_app
from router.server.cluster import EVENTS, LEADERSHIP
from tests.conftest import AppClient, eventually
from tests.connectors import test_vk
from tests.connectors.test_vk import TOKEN, inbound, message_new, polling
from tests.fakes.vk_api import GROUP_ID, FakeVk
from tests.router.cluster.helpers import fast

Client = TestClient[web.Request, web.Application]
vk_api = test_vk.vk_api  # the fake VK API, as every VK test has it
SINGLETON = "vk:vk"


@pytest.fixture
def vk_settings(settings: Settings, vk_api: FakeVk, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A community read by Bots Long Poll."""
    monkeypatch.setenv("OMNIROUTER_VK_TOKEN", TOKEN)
    settings.connectors["vk"] = ConnectorConfig(type="vk", api_base=vk_api.base_url, group_id=GROUP_ID,
                                                mode="longpoll", longpoll_wait=1)
    return settings


async def stored(client: Client, texts: list[str]) -> list[str] | None:
    """The customer's messages, once the last of ``texts`` is among them (each
    poll hands its events over in order: the ones before it were handed over too)."""
    found = [m.text for m in await inbound(client)]
    return found if texts[-1] in found else None


async def asked_for_a_server(vk_api: FakeVk, more_than: int) -> None:
    async def asked() -> bool:
        return len(vk_api.sent("groups.getLongPollServer")) > more_than

    await eventually(asked, "the poller to ask VK for a long poll server")


def push(vk_api: FakeVk, *cmids: int) -> list[str]:
    texts = [f"message {cmid}" for cmid in cmids]
    for cmid, text in zip(cmids, texts, strict=True):
        vk_api.push_event(message_new(cmid, text, secret=None))
    return texts


async def test_what_came_while_the_service_was_stopped_is_read_after_the_restart(
    make_client: AppClient, vk_settings: Settings, vk_api: FakeVk,
) -> None:
    first = await make_client(vk_settings)
    await polling(vk_api)
    before = push(vk_api, 1)
    await eventually(lambda: stored(first, before), "the first message")
    await first.close()

    meanwhile = push(vk_api, 2, 3)  # nobody polls: VK keeps them
    again = await make_client(vk_settings)
    after = push(vk_api, 4)
    found = await eventually(lambda: stored(again, after), "the message after the restart")
    assert found == before + meanwhile + after


async def test_a_key_that_expired_is_renewed_without_skipping_what_came_meanwhile(
    make_client: AppClient, vk_settings: Settings, vk_api: FakeVk,
) -> None:
    """``failed: 2`` asks for a new key, not a new ts: the events VK queued
    while the key was renewed are read from the ts the poll had reached."""
    client = await make_client(vk_settings)
    await polling(vk_api)
    before = push(vk_api, 1)
    await eventually(lambda: stored(client, before), "the first message")

    vk_api.hold = asyncio.Event()  # VK's API answers nothing for now: the new key waits
    vk_api.expire_longpoll_key()
    await asked_for_a_server(vk_api, 1)
    meanwhile = push(vk_api, 2, 3)
    vk_api.hold.set()
    vk_api.hold = None
    after = push(vk_api, 4)
    assert await eventually(lambda: stored(client, after), "the message after the new key") == (
        before + meanwhile + after)


async def test_a_position_vk_no_longer_keeps_is_said_once_and_the_poll_goes_on(
    make_client: AppClient, vk_settings: Settings, vk_api: FakeVk, caplog: pytest.LogCaptureFixture,
) -> None:
    """Stopped for longer than VK keeps events: ``failed: 1``. The admin is
    told once what may be missing, and the poll reads on from VK's new ts."""
    caplog.set_level(logging.WARNING, logger="connectors.vk")
    first = await make_client(vk_settings)
    await polling(vk_api)
    before = push(vk_api, 1)
    await eventually(lambda: stored(first, before), "the first message")
    await first.close()

    push(vk_api, 2, 3)
    vk_api.forget_events()  # too long ago: VK has dropped them
    again = await make_client(vk_settings)

    async def went_on() -> bool:  # VK's answer gave ts 4: one pushed before it would be skipped, as on VK
        return any(c.params.get("ts") == "4" for c in vk_api.sent("longpoll"))

    await eventually(went_on, "the poll to go on from VK's new ts")
    after = push(vk_api, 4)
    assert await eventually(lambda: stored(again, after), "the message after the lost ones") == before + after
    said = [r.getMessage() for r in caplog.records if "may be missing" in r.getMessage()]
    assert len(said) == 1, said
    assert "after ts 2 (failed 1): up to 2 customer messages" in said[0] and "from ts 4" in said[0]


# -- a cluster: two nodes on one PostgreSQL ------------------------------------------------------


@pytest.fixture
def start_node(aiohttp_client: Callable[..., Awaitable[Client]], vk_settings: Settings, tmp_path: Path,
               vk_api: FakeVk, pg_database: str, monkeypatch: pytest.MonkeyPatch,
               ) -> Callable[[str], Awaitable[Client]]:
    monkeypatch.setenv(DATABASE_URL, pg_database)

    async def start(node: str) -> Client:
        s = vk_settings.model_copy(deep=True)
        s.store.backend = "postgres"
        monkeypatch.setenv(NODE_ENV, node)
        app = create_app(s, base_dir=tmp_path)
        # the cluster's leadership, ticking faster
        app[LEADERSHIP] = leadership = fast(pg_database, node)
        for connector in app[CONNECTORS].values():
            connector.leadership = leadership
        app[EVENTS].leadership = leadership
        return await aiohttp_client(app)

    return start


def leads(client: Client) -> bool:
    leadership = client.app[LEADERSHIP]
    assert isinstance(leadership, PgLeadership)
    return SINGLETON in leadership.leading()


async def test_the_node_that_takes_over_reads_what_came_after_the_leader_stopped(
    start_node: Callable[[str], Awaitable[Client]], vk_api: FakeVk,
) -> None:
    nodes = {name: await start_node(name) for name in ("a", "b")}

    async def leader() -> str | None:
        found = [name for name, client in nodes.items() if leads(client)]
        return found[0] if len(found) == 1 else None

    first = await eventually(leader, "one node to lead the community's long poll")
    other = nodes["b" if first == "a" else "a"]
    await polling(vk_api)
    before = push(vk_api, 1)
    await eventually(lambda: stored(other, before), "the leader to store the first message")

    vk_api.hold = asyncio.Event()  # the next leader's groups.getLongPollServer waits until the events are in
    asked = len(vk_api.sent("groups.getLongPollServer"))
    await nodes[first].close()
    meanwhile = push(vk_api, 2, 3)  # one node stopped, the other not polling yet
    await asked_for_a_server(vk_api, asked)
    vk_api.hold.set()
    vk_api.hold = None
    after = push(vk_api, 4)
    assert await eventually(lambda: stored(other, after), "the new leader to store the message after the failover") \
        == before + meanwhile + after
