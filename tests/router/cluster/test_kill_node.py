"""Two ``omnirouter run`` nodes on one PostgreSQL, as real processes (issue 21).

One node is killed with SIGKILL in the middle of site-chat and webhook load.
Customers and the platform do what they do when a node dies behind a load
balancer: the widget reconnects (to the other node) and re-sends what was not
acknowledged, Telegram delivers an unanswered update again. Then nothing
acknowledged is lost, nothing is stored twice, no customer has a second
conversation, and the survivor finishes the dead node's outbox."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.conftest import HANG, eventually
from tests.connectors import test_telegram as tg
from tests.e2e.conftest import ADMIN_PASSWORD, TELEGRAM_ENV, free_port, wait_healthy
from tests.fakes.telegram_api import FakeTelegram

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
VISITORS, MESSAGES_EACH = 12, 12
TELEGRAM_USERS, UPDATES_EACH = 6, 8


@dataclass
class Node:
    name: str
    port: int
    proc: asyncio.subprocess.Process

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None


def node_yaml(port: int, telegram_api: FakeTelegram) -> str:
    return (
        f"server:\n  port: {port}\n  public_url: http://127.0.0.1:{port}\nstore:\n  backend: postgres\n"
        "connectors:\n  webchat:\n    type: webchat\n    rate_limit: 1000/second\n"
        "    new_visitors_per_address: 100000/second\n    rate_limit_per_address: 100000/second\n"
        f"  telegram:\n    type: telegram\n    api_base: {telegram_api.base_url}\n"
    )


async def start_node(folder: Path, name: str, dsn: str, telegram_api: FakeTelegram) -> Node:
    await asyncio.to_thread(folder.mkdir)
    port = free_port()
    (folder / "omnirouter.yaml").write_text(node_yaml(port, telegram_api), encoding="utf-8")
    env = {**os.environ, **TELEGRAM_ENV, "OMNIROUTER_ADMIN_PASSWORD": ADMIN_PASSWORD,
           "OMNIROUTER_DATABASE_URL": dsn, "OMNIROUTER_NODE_ID": name}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "router.cli", "run", "--config", str(folder), env=env, start_new_session=True,
    )
    node = Node(name, port, proc)
    await wait_healthy(node.base, proc)
    return node


@contextlib.asynccontextmanager
async def two_nodes(tmp_path: Path, dsn: str, telegram_api: FakeTelegram) -> AsyncIterator[list[Node]]:
    nodes: list[Node] = []
    try:
        # one after the other: the second finds the schema migrated (two at once: tests/router/store/)
        for name in ("node-a", "node-b"):
            nodes.append(await start_node(tmp_path / name, name, dsn, telegram_api))
        yield nodes
    finally:
        for node in nodes:
            if node.alive:
                node.proc.terminate()
                await asyncio.wait_for(node.proc.wait(), HANG)


@dataclass
class Load:
    """What the platform and the customers were told was stored."""

    acked_chat: dict[str, str] = field(default_factory=dict)  # text -> message id
    acked_updates: set[str] = field(default_factory=set)  # texts of updates answered 200
    reconnects: int = 0
    redelivered: int = 0


def live(nodes: list[Node], prefer: int) -> list[Node]:
    """The nodes a load balancer would try, the preferred first."""
    ordered = nodes[prefer % len(nodes):] + nodes[:prefer % len(nodes)]
    return [n for n in ordered if n.alive]


async def visitor(http: aiohttp.ClientSession, nodes: list[Node], v: int, load: Load) -> None:
    """A widget: hello, then messages one at a time, each re-sent with its
    client_id after a reconnect until acknowledged (as widget.js does)."""
    visitor_id: str | None = None
    pending = [(f"c{m}", f"visitor {v} message {m}") for m in range(MESSAGES_EACH)]
    attempt = 0
    while pending:
        node = live(nodes, v + attempt)[0]
        attempt += 1
        try:
            async with http.ws_connect(f"ws://127.0.0.1:{node.port}/chat/ws") as ws:
                await ws.send_json({"type": "hello", **({"visitor_id": visitor_id} if visitor_id else {})})
                welcome = await ws.receive_json(timeout=HANG)
                assert welcome["type"] == "welcome", welcome
                visitor_id = welcome["visitor_id"]
                while pending:
                    client_id, text = pending[0]
                    await ws.send_json({"type": "message", "text": text, "client_id": client_id})
                    while True:
                        frame = await ws.receive_json(timeout=HANG)
                        if frame.get("type") == "ack" and frame.get("client_id") == client_id:
                            break
                        assert frame.get("type") != "error", frame
                    load.acked_chat[text] = frame["id"]
                    pending.pop(0)
                    await asyncio.sleep(0.02)
        except (aiohttp.ClientError, ConnectionError, TypeError):  # TypeError: a closed socket's frame
            load.reconnects += 1
            await asyncio.sleep(0.1)


async def telegram_user(http: aiohttp.ClientSession, nodes: list[Node], u: int, load: Load) -> None:
    """Telegram: each update POSTed until a node answers 200, the same update each time."""
    user_id = tg.USER + 1000 + u
    for m in range(UPDATES_EACH):
        text = f"telegram {u} update {m}"
        body = tg.text_update(m + 1, text, user_id)
        for attempt in itertools.count():
            node = live(nodes, u + attempt)[0]
            try:
                async with http.post(node.base + tg.PATH, json=body, headers={SECRET_HEADER: tg.SECRET}) as resp:
                    if resp.status == 200:
                        load.acked_updates.add(text)
                        break
            except (aiohttp.ClientError, ConnectionError):
                pass
            load.redelivered += 1
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.02)


async def agent_replies(base: str, count: int) -> list[str]:
    """An agent on ``base`` answers every Telegram conversation; the texts sent."""
    texts = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # cookies for 127.0.0.1
        async with http.post(f"{base}/api/login", json={"username": "admin", "password": ADMIN_PASSWORD}) as r:
            assert r.status == 200, await r.text()
        async with http.get(f"{base}/api/conversations", params={"status": "all", "limit": "500"}) as r:
            assert r.status == 200, await r.text()
            conversations = (await r.json())["conversations"]
        for conv in [c for c in conversations if c["channel"] == "telegram"][:count]:
            text = f"reply to {conv['id']}"
            async with http.post(f"{base}/api/conversations/{conv['id']}/messages", json={"text": text}) as r:
                assert r.status in (200, 201), await r.text()
            texts.append(text)
    return texts


async def rows(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


@pytest.fixture
async def telegram_api() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(tg.TOKEN) as fake:
        yield fake


async def test_a_node_killed_mid_load_loses_nothing_stores_nothing_twice_and_the_survivor_sends_its_outbox(
    tmp_path: Path, pg_database: str, telegram_api: FakeTelegram
) -> None:
    load = Load()
    async with two_nodes(tmp_path, pg_database, telegram_api) as nodes, aiohttp.ClientSession() as http:
        a, b = nodes
        # Telegram users write first, so that node A has replies to send when it dies
        await asyncio.gather(*(telegram_user(http, nodes, u, load) for u in range(TELEGRAM_USERS)))
        telegram_api.delay = 1.0  # A's sends are in flight when it is killed
        replies = await agent_replies(a.base, TELEGRAM_USERS)
        traffic = [asyncio.create_task(visitor(http, nodes, v, load)) for v in range(VISITORS)]
        traffic += [asyncio.create_task(telegram_user(http, nodes, TELEGRAM_USERS + u, load))
                    for u in range(TELEGRAM_USERS)]
        try:
            await eventually(lambda: _some(load), "load under way on both nodes")
            os.killpg(a.proc.pid, signal.SIGKILL)
            await asyncio.wait_for(a.proc.wait(), HANG)
            await asyncio.wait_for(asyncio.gather(*traffic), HANG * 2)
        finally:
            for task in traffic:
                task.cancel()
        telegram_api.delay = 0.0

        # nothing acknowledged lost, nothing stored twice
        stored = Counter(r["text"] for r in await rows(pg_database, "SELECT text FROM messages WHERE direction = 'in'"))
        for text in [*load.acked_chat, *load.acked_updates]:
            assert stored[text] == 1, f"{text!r} stored {stored[text]} times"
        assert len(load.acked_chat) == VISITORS * MESSAGES_EACH
        assert len(load.acked_updates) == 2 * TELEGRAM_USERS * UPDATES_EACH
        # one customer per sender, one open conversation each
        per_sender = await rows(pg_database, "SELECT kind, value, count(DISTINCT customer_id) AS n FROM identities"
                                             " GROUP BY kind, value HAVING count(DISTINCT customer_id) > 1")
        assert per_sender == []
        open_per_customer = await rows(pg_database, "SELECT customer_id FROM conversations WHERE status <> 'resolved'"
                                                    " GROUP BY customer_id HAVING count(*) > 1")
        assert open_per_customer == []

        # the survivor routes every message and finishes the outbox, each reply sent
        async def settled() -> bool:
            unrouted = await rows(pg_database, "SELECT 1 FROM messages WHERE conversation_id IS NULL")
            pending = await rows(pg_database, "SELECT 1 FROM outbox WHERE status = 'pending'")
            return not unrouted and not pending

        await eventually(settled, "the survivor to route every message and send the outbox")
        sent = Counter(str(c.params.get("text")) for c in telegram_api.sent("sendMessage"))
        for text in replies:
            # a send in flight when its node died may go once more (the at-most-one resend)
            assert 1 <= sent[text] <= 2, f"{text!r} sent {sent[text]} times"
        assert b.alive
        # the kill hit the load, not a quiet moment: A's visitors came back through B
        assert load.reconnects > 0


async def _some(load: Load) -> bool:
    return len(load.acked_chat) >= VISITORS * 2 and len(load.acked_updates) >= TELEGRAM_USERS * UPDATES_EACH + 4
