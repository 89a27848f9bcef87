"""The sender as a pipeline: a receiver that accepts the connection and
never answers (blackholed) holds back its own conversations only. Its
deliveries, queued first and more of them than the sender keeps in flight,
are still waiting for their (long) timeout when a healthy receiver has
already got every one of its events, each conversation's in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from router.config import WebhooksConfig
from router.metrics import Metrics
from router.store.sqlite import SQLiteStore
from router.webhooks.types import Queued, Subscription, WebhookEvent
from router.webhooks.worker import PER_HOST, WebhookWorker
from tests.conftest import HANG
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.router.store.test_contract import T0
from tests.router.webhooks.test_guard import FakeDns


class Blackhole:
    """A TCP server that accepts every connection, reads, and never answers."""

    def __init__(self) -> None:
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._held: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._hold, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._held.append(writer)
        await reader.read()  # until the client gives up

    async def close(self) -> None:
        for writer in self._held:
            writer.close()
        if self._server is not None:
            self._server.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(tmp_path / "pipeline.db") as s:
        yield s


async def test_a_blackholed_receiver_holds_back_only_its_own_conversations(store: SQLiteStore) -> None:
    healthy, dead = WebhookReceiver(), Blackhole()
    await healthy.start()
    dead_port = await dead.start()
    healthy.secrets.append("whsec_crm")
    dns = FakeDns({"crm.test": ["127.0.0.1"], "dead.test": ["127.0.0.1"]})
    subs = [("wh_dead", f"http://dead.test:{dead_port}/hook", "conversation.opened"),
            ("wh_crm", healthy.url("/hook").replace("127.0.0.1", "crm.test"), "message.created")]
    for sub_id, url, kind in subs:
        await store.create_webhook(Subscription(id=sub_id, url=url, events=[kind],  # type: ignore[list-item]
                                                allow_private=True, created_at=T0, updated_at=T0), "whsec_crm")
    config = WebhooksConfig(timeout=10 * HANG, batch=4 * PER_HOST)  # the dead one never times out in this test
    # the dead receiver's first and more than the sender keeps in flight, then the healthy one's
    dead_events = [_event(f"d{n}", "conversation.opened", f"c{n}") for n in range(6 * PER_HOST)]
    crm_events = [_event(f"m{c}-{n}", "message.created", f"k{c}") for n in range(5) for c in range(10)]
    await store.enqueue_webhooks(dead_events + crm_events, T0)
    worker = WebhookWorker(store, config, Metrics(), asyncio.Event(), resolver=dns)
    async with worker:
        sending = asyncio.create_task(worker.run())
        try:
            got = await healthy.wait_for(len(crm_events), HANG)
            pending = await store.list_webhook_deliveries("wh_dead", "pending", 500)
            assert len(pending) == len(dead_events)  # none of them ended: each still waits for its answer
            assert 0 < dead.connections <= 2 * PER_HOST  # the dead host has its share, not every slot
        finally:
            sending.cancel()
            await asyncio.gather(sending, return_exceptions=True)
            await dead.close()
            await healthy.close()
    assert sorted(r.event["id"] for r in got) == sorted(q.event.id for q in crm_events)
    for c in range(10):
        assert [r.event["id"] for r in got if r.event["data"]["k"] == f"k{c}"] == [f"m{c}-{n}" for n in range(5)]


def _event(event_id: str, kind: str, key: str) -> Queued:
    event = WebhookEvent(id=event_id, type=kind, created_at=T0, data={"k": key})  # type: ignore[arg-type]
    return Queued(event=event, order_key=f"conversation:{key}")
