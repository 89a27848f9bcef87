"""A polling connector's failover: two nodes (two whole apps in this
process) poll one bot under the cluster's leadership on a real PostgreSQL.
One getUpdates loop runs at a time (the fake answers a second one with
the real API's 409 Conflict, which never comes), and when the leader's
database session is killed or the leader stops, the other node polls on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from connectors.telegram import TelegramConnector
from router.appkeys import CONNECTORS
from router.cluster.node import NODE_ENV
from router.cluster.postgres_leadership import PgLeadership
from router.cluster.postgres_pace import PgPace
from router.config import ConnectorConfig, Settings
from router.connector import RateLimited
from router.models import Author, OutboundMessage, utcnow
from router.server.app import create_app
from router.server.cluster import LEADERSHIP
from router.store.postgres import PostgresStore
from tests.conftest import TEST_STORE, eventually
from tests.connectors import test_telegram
from tests.connectors.test_telegram import TOKEN, USER, inbound, text_update
from tests.fakes.telegram_api import FakeTelegram
from tests.router.cluster.helpers import admin, fast, kill_session

Client = TestClient[web.Request, web.Application]
SINGLETON = "telegram:telegram"
tg_api = test_telegram.tg_api  # the fake Bot API, as every Telegram test has it


@pytest.fixture
def start_node(aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, tmp_path: Path,
               tg_api: FakeTelegram, pg_database: str, monkeypatch: pytest.MonkeyPatch,
               ) -> Callable[..., Awaitable[Client]]:
    monkeypatch.setenv("OMNIROUTER_TELEGRAM_TOKEN", TOKEN)

    async def start(node: str, **options: float) -> Client:
        s = settings.model_copy(deep=True)
        s.store.path = str(tmp_path / f"{node}.db")  # on SQLite each node keeps what it polled
        s.connectors = {"telegram": ConnectorConfig(type="telegram", api_base=tg_api.base_url, mode="polling",
                                                    polling_timeout=1, **options)}
        monkeypatch.setenv(NODE_ENV, node)
        app = create_app(s, base_dir=tmp_path)
        # the cluster's leadership, as on PostgreSQL, ticking faster
        app[LEADERSHIP] = leadership = fast(pg_database, node)
        for connector in app[CONNECTORS].values():
            connector.leadership = leadership
        return await aiohttp_client(app)

    return start


def leads(client: Client) -> bool:
    leadership = client.app[LEADERSHIP]
    assert isinstance(leadership, PgLeadership)
    return SINGLETON in leadership.leading()


async def stored(client: Client, text: str, tg_api: FakeTelegram) -> bool:
    assert tg_api.poll_conflicts == 0, "two getUpdates loops ran at once"
    return text in [m.text for m in await inbound(client)]


async def test_one_node_polls_and_the_other_takes_over(
    start_node: Callable[..., Awaitable[Client]], tg_api: FakeTelegram, pg_database: str,
) -> None:
    nodes = {name: await start_node(name) for name in ("a", "b")}

    async def leader() -> str | None:
        found = [name for name, client in nodes.items() if leads(client)]
        return found[0] if len(found) == 1 else None

    first = await eventually(leader, "one node to lead the bot's polling")
    other = "b" if first == "a" else "a"
    tg_api.push_update(text_update(1, "before"))
    await eventually(lambda: stored(nodes[first], "before", tg_api), "the leader to store the update")

    async with admin(pg_database) as conn:
        await kill_session(conn, first)  # as when the node's link to the database dies
    await eventually(lambda: _is(leader, other), "the other node to take the polling over")
    tg_api.push_update(text_update(2, "after the kill"))
    await eventually(lambda: stored(nodes[other], "after the kill", tg_api), "the new leader to store the update")

    await nodes[other].close()  # a node shut down: the first one polls again
    await eventually(lambda: _is(leader, first), "the first node to lead again")
    tg_api.push_update(text_update(3, "after the stop"))
    await eventually(lambda: stored(nodes[first], "after the stop", tg_api), "the first node to store the update")
    assert tg_api.poll_conflicts == 0, "two getUpdates loops ran at once"
    # the first node never took the update the other did: on SQLite each node keeps what it polled,
    # and the first's has none of it; on PostgreSQL (OMNIROUTER_TEST_STORE) they share one, where it is once
    texts = [m.text for m in await inbound(nodes[first])]
    assert texts.count("after the kill") == (1 if TEST_STORE == "postgres" else 0)


async def test_one_bots_send_rate_is_the_clusters(
    start_node: Callable[..., Awaitable[Client]], tg_api: FakeTelegram, pg_database: str,
) -> None:
    """A bot allowed one message every 100 s: sent from node a, the next one
    from node b (to another chat) is refused for now, as it would be on one
    node, because both count in the database (each node's own count would
    let it through). Told to wait, the outbox sends it later."""
    nodes = [await start_node(name, per_bot_per_second=0.01) for name in ("a", "b")]
    async with PostgresStore(pg_database) as shared:
        connectors = []
        for client in nodes:
            connector = client.app[CONNECTORS]["telegram"]
            assert isinstance(connector, TelegramConnector)
            connector.pace = PgPace(shared.engine)  # as on PostgreSQL (router.server.cluster.share_state)
            connectors.append(connector)
        await connectors[0].send(_reply("msg_1", USER))
        with pytest.raises(RateLimited):
            await connectors[1].send(_reply("msg_2", USER + 1))
    assert [c.params["chat_id"] for c in tg_api.sent("sendMessage")] == [str(USER)]


def _reply(message_id: str, chat: int) -> OutboundMessage:
    return OutboundMessage(message_id=message_id, channel="telegram", recipient=str(chat), author=Author.AGENT,
                           text="Your order ships today", created_at=utcnow())


async def _is(leader: Callable[[], Awaitable[str | None]], node: str) -> bool:
    return await leader() == node
