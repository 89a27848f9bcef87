"""The store goes down just after the platform accepted a send, so the node
cannot record it as sent (the cluster sweep: PostgreSQL stopped under load,
and node c sent a WhatsApp reply twice). No node crashed, so the customer
must get it once: the node records it once the store is back, within its
lease, or, when the outage outlasts the lease, at its next claim of the
entry, and never sends it again.

The outage is real on both backends: on SQLite, SQLite's own connections fail
their COMMITs (``tests/router/test_store_outage.py``'s switch); on PostgreSQL
the link to the server refuses connections and ends those open, as a stopped
server does (``tests/router/cluster/helpers.py``'s ``Link``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from router.bus import EventBus
from router.config import OutboxConfig
from router.connector import Connector, ConnectorOptions, SendProgress, SendResult
from router.metrics import Metrics
from router.models import Delivery, OutboundMessage, utcnow
from router.outbox.service import LEASE, OutboxWorker
from router.store.base import Store
from router.store.postgres import PostgresStore
from router.store.sqlite import SQLiteStore
from tests.conftest import eventually
from tests.router.cluster.helpers import Link
from tests.router.outbox.entries import delivery, queue
from tests.router.store.test_pg_connections_ended import _host_port
from tests.router.test_store_outage import Fault

PLATFORM_ID = "SM0001"  # the platform's id of the one message it accepted


@dataclass
class Outage:
    """Switches the store's backend down and up again."""

    down: Callable[[], None]
    up: Callable[[], object]  # a coroutine on PostgreSQL (the link listens again), None on SQLite


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path,
                  monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Store, Outage]]:
    if request.param == "sqlite":
        fault = Fault()
        monkeypatch.setattr(sqlite3, "connect", fault.connect)  # before the store opens its connections

        def full() -> None:
            fault.error = "database or disk is full"

        def room() -> None:
            fault.error = None

        async with SQLiteStore(tmp_path / "outbox.db") as store:
            yield store, Outage(full, room)
        return
    pg_database: str = request.getfixturevalue("pg_database")
    host, port = _host_port(pg_database)
    link = Link(host, port)
    through = pg_database.replace(f"{host}:{port}", f"127.0.0.1:{await link.start()}")
    async with PostgresStore(through, pool_size=2) as store:
        try:
            yield store, Outage(link.refuse, link.start)
        finally:
            await link.close()


class Platform(Connector[ConnectorOptions]):
    """Accepts every message; the store goes down the moment it accepted the first."""

    type_name = "scripted"

    def __init__(self, outage: Outage) -> None:
        super().__init__("scripted", ConnectorOptions(), None)  # type: ignore[arg-type]
        self.outage = outage
        self.got: list[str] = []

    async def send(self, message: OutboundMessage, progress: SendProgress | None = None) -> SendResult:
        self.got.append(message.text)
        if len(self.got) == 1:
            self.outage.down()
        return SendResult(external_id=PLATFORM_ID)


class Clock:
    """The worker's clock, which the test moves past a lease."""

    def __init__(self) -> None:
        self.ahead = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.ahead


def resends(worker: OutboxWorker) -> float:
    value = worker.metrics.registry.get_sample_value("omnirouter_outbox_resends_total", {"channel": "scripted"})
    return value or 0.0


@contextlib.asynccontextmanager
async def running(worker: OutboxWorker) -> AsyncIterator[None]:
    task = asyncio.create_task(worker.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def worker_for(store: Store, platform: Platform, clock: Callable[[], datetime] = utcnow) -> OutboxWorker:
    config = OutboxConfig(backoff_initial=0.05, backoff_max=0.2)
    return OutboxWorker(store, EventBus(), {"scripted": platform}, config, Metrics(), asyncio.Event(),
                        clock=clock, node="node-c")


async def until_up(outage: Outage) -> None:
    if asyncio.iscoroutine(started := outage.up()):
        await started


async def test_a_send_the_store_could_not_record_is_recorded_once_it_is_back_and_never_sent_again(
    backend: tuple[Store, Outage],
) -> None:
    store, outage = backend
    await queue(store, "+79130000002", "your order left the warehouse", utcnow() - timedelta(seconds=1))
    message_id = (await store.pending_outbox(1))[0].message_id
    platform = Platform(outage)
    worker = worker_for(store, platform)
    async with running(worker):
        async def tried_again() -> bool:
            return store.outage.failures >= 3  # the record failed, and was tried again meanwhile

        await eventually(tried_again, "the worker to try recording the send again")
        await until_up(outage)

        async def recorded() -> bool:
            return not await store.pending_outbox(1)

        await eventually(recorded, "the delivered send recorded once the store is back")
    assert platform.got == ["your order left the warehouse"], "a live node sent it twice"
    assert await delivery(store, message_id) == (Delivery.SENT, PLATFORM_ID)  # the platform's id kept with it
    assert resends(worker) == 0


async def test_an_outage_that_outlasts_the_lease_leaves_the_send_to_be_recorded_at_the_next_claim_not_resent(
    backend: tuple[Store, Outage], caplog: pytest.LogCaptureFixture,
) -> None:
    """The store is down past the node's lease: the node stops holding the
    entry (another node may take it once the store is back), keeps what the
    platform answered, and its next claim of the entry records that rather
    than sending it again as a resend."""
    caplog.set_level(logging.INFO, "router.outbox")
    store, outage = backend
    await queue(store, "+79130000002", "your order left the warehouse", utcnow() - timedelta(seconds=1))
    message_id = (await store.pending_outbox(1))[0].message_id
    platform = Platform(outage)
    clock = Clock()
    worker = worker_for(store, platform, clock)
    async with running(worker):
        async def failing() -> bool:
            return store.outage.failures >= 1

        await eventually(failing, "the record to meet the outage")
        clock.ahead = LEASE  # the outage lasts past the lease
        failed = store.outage.failures

        async def passes_failing() -> bool:  # the entry given up: passes claim, and meet the outage
            return store.outage.failures >= failed + 3

        await eventually(passes_failing, "the worker's passes to go on failing past the lease")
        await until_up(outage)

        async def recorded() -> bool:
            return not await store.pending_outbox(1)

        await eventually(recorded, "the kept send recorded at the next claim")
    assert platform.got == ["your order left the warehouse"], "a live node sent it twice"
    assert await delivery(store, message_id) == (Delivery.SENT, PLATFORM_ID)
    assert resends(worker) == 0
    assert not [r for r in caplog.records if "resumed after the lease" in r.getMessage()]
    assert [r for r in caplog.records if "when this node next claims it" in r.getMessage()]
