"""Two nodes on one PostgreSQL database sending one table of deliveries at
once: the receiver gets each event once, and each conversation's in order."""

from __future__ import annotations

import asyncio

from aiohttp.resolver import DefaultResolver

from router.bus import EventBus
from router.config import WebhooksConfig
from router.metrics import Metrics
from router.store.postgres import PostgresStore
from router.webhooks.service import Webhooks
from router.webhooks.types import Queued, WebhookEvent
from router.webhooks.worker import WebhookWorker
from tests.conftest import HANG
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.router.store.test_contract import T0

EVENTS, CONVERSATIONS = 120, 12


async def _drain(worker: WebhookWorker, store: PostgresStore) -> None:
    while await store.list_webhook_deliveries(None, "pending", 1):
        await worker.run_once()
        await asyncio.sleep(0)  # the other node gets its turn


async def test_two_nodes_send_each_event_once_and_each_conversation_in_order(
        pg_database: str, receiver: WebhookReceiver) -> None:
    config = WebhooksConfig(max_attempts=1)
    async with PostgresStore(pg_database) as a, PostgresStore(pg_database) as b:
        _, secret = await Webhooks(a, EventBus(), config, DefaultResolver(), asyncio.Event()).subscribe(
            receiver.url("/hook"), ["message.created"], allow_private=True)
        receiver.secrets.append(secret)
        queued = [Queued(event=WebhookEvent(id=f"evt_{i:04d}", type="message.created", created_at=T0,
                                            data={"n": i}),
                         order_key=f"conversation:c{i % CONVERSATIONS}") for i in range(EVENTS)]
        await a.enqueue_webhooks(queued, T0)
        async with (WebhookWorker(a, config, Metrics(), asyncio.Event(), node="node-a") as one,
                    WebhookWorker(b, config, Metrics(), asyncio.Event(), node="node-b") as two):
            async with asyncio.timeout(HANG):
                await asyncio.gather(_drain(one, a), _drain(two, b))
    ids = [r.event["id"] for r in receiver.accepted]
    assert sorted(ids) == [q.event.id for q in queued]  # every one, once
    for c in range(CONVERSATIONS):
        seen = [r.event["data"]["n"] for r in receiver.accepted if r.event["data"]["n"] % CONVERSATIONS == c]
        assert seen == sorted(seen)
