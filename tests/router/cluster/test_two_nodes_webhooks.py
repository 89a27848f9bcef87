"""Outbound webhooks on two ``omnirouter run`` nodes against one real
PostgreSQL: the admin subscribes on node B, a customer writes on node A. Every
event reaches both nodes' buses (B's through the event log), yet the receiver
gets each one once: only the node that published an event queues it."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import aiohttp

from tests.conftest import eventually
from tests.e2e.conftest import ADMIN_PASSWORD
from tests.e2e.test_webhooks import customer_writes
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.router.cluster.test_two_nodes import node


def inbound_texts(receiver: WebhookReceiver) -> list[str]:
    return [e["data"]["message"]["text"] for e in receiver.events("message.created")
            if e["data"]["message"]["direction"] == "in"]


async def test_an_event_relayed_to_another_node_is_delivered_once(
        tmp_path: Path, pg_database: str, receiver: WebhookReceiver) -> None:
    async with node(tmp_path, pg_database, "a") as a, node(tmp_path, pg_database, "b") as b, \
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as admin:
        login = await admin.post(f"{b}/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert login.status == 200, await login.text()
        resp = await admin.post(f"{b}/api/webhooks", json={
            "url": receiver.url("/hook"), "events": ["conversation.opened", "message.created"],
            "allow_private": True})
        assert resp.status == 201, await resp.text()
        receiver.secrets.append((await resp.json())["secret"])

        # node A hears of the subscription through the event log: until a first delivery shows it has,
        # the customer's first words may go unheard (the README says so), so they are a probe
        visitor = await customer_writes(a, "probe 0")
        probes = 1

        async def heard() -> bool:
            nonlocal probes
            if any(t.startswith("probe") for t in inbound_texts(receiver)):
                return True
            await customer_writes(a, f"probe {probes}", visitor)
            probes += 1
            await asyncio.sleep(0.2)
            return False

        await eventually(heard, "node A queueing for the subscription made on node B")
        for n in range(5):
            await customer_writes(a, f"m{n}", visitor)
        await eventually(lambda: _all_of(receiver), "the five messages delivered")
    ids = Counter(r.event["id"] for r in receiver.accepted)
    assert max(ids.values()) == 1, "an event was delivered twice"
    texts = Counter(inbound_texts(receiver))
    assert [texts[f"m{n}"] for n in range(5)] == [1] * 5  # once each, not once per node
    assert [t for t in inbound_texts(receiver) if t.startswith("m")] == [f"m{n}" for n in range(5)]
    assert len(receiver.events("conversation.opened")) == 1


async def _all_of(receiver: WebhookReceiver) -> bool:
    return {f"m{n}" for n in range(5)} <= set(inbound_texts(receiver))
