"""A VK community's send pace in a cluster: two nodes (two whole apps in
this process, the Callback API: no leader needed) count the community's
sends in one real PostgreSQL database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from connectors.vk import VkConnector
from router.appkeys import CONNECTORS
from router.cluster.postgres_pace import PgPace
from router.config import ConnectorConfig, Settings
from router.connector import RateLimited
from router.models import Author, OutboundMessage, utcnow
from router.server.app import create_app
from router.store.postgres import PostgresStore
from tests.connectors import test_vk
from tests.connectors.test_vk import CONFIRMATION, SECRET, TOKEN, USER
from tests.fakes.vk_api import GROUP_ID, FakeVk

Client = TestClient[web.Request, web.Application]
vk_api = test_vk.vk_api  # the fake VK API, as every VK test has it


async def test_one_communitys_send_rate_is_the_clusters(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, tmp_path: Path, vk_api: FakeVk,
    pg_database: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One request every 100 s allowed: a message sent from node a, the next
    one from node b is handed back to the outbox for later."""
    monkeypatch.setenv("OMNIROUTER_VK_TOKEN", TOKEN)
    monkeypatch.setenv("OMNIROUTER_VK_SECRET", SECRET)
    connectors: list[VkConnector] = []
    async with PostgresStore(pg_database) as shared:
        for node in ("a", "b"):
            s = settings.model_copy(deep=True)
            s.store.path = str(tmp_path / f"{node}.db")
            s.connectors = {"vk": ConnectorConfig(type="vk", api_base=vk_api.base_url, group_id=GROUP_ID,
                                                  confirmation_code=CONFIRMATION, requests_per_second=0.01)}
            client = await aiohttp_client(create_app(s, base_dir=tmp_path))
            connector = client.app[CONNECTORS]["vk"]
            assert isinstance(connector, VkConnector)
            connector.pace = PgPace(shared.engine)  # as on PostgreSQL (router.server.cluster.share_state)
            connectors.append(connector)
        await connectors[0].send(_reply("msg_1", USER))
        with pytest.raises(RateLimited):
            await connectors[1].send(_reply("msg_2", USER + 1))
    assert [c.params["peer_id"] for c in vk_api.sent("messages.send")] == [str(USER)]


def _reply(message_id: str, peer: int) -> OutboundMessage:
    return OutboundMessage(message_id=message_id, channel="vk", recipient=str(peer), author=Author.AGENT,
                           text="Your order ships today", created_at=utcnow())
