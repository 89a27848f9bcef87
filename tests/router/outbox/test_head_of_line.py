"""A platform that does not answer holds only its own recipients' messages:
a reply on another channel, queued while that send hangs, goes at once. The
worker sent a claimed batch and waited for all of it, so one stalled VK call
kept every Telegram reply for up to its 30 s timeout."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from router.bus import EventBus
from router.config import OutboxConfig
from router.connector import Connector, ConnectorOptions, RateLimited, SendProgress, SendResult
from router.metrics import Metrics
from router.models import OutboundMessage, utcnow
from router.outbox.service import OutboxWorker
from router.store.sqlite import SQLiteStore
from tests.conftest import eventually
from tests.router.outbox.entries import queue


class Platform(Connector[ConnectorOptions]):
    """Answers at once, or, while ``stalled``, not until ``answer`` is set."""

    type_name = "scripted"

    def __init__(self, name: str, stalled: bool) -> None:
        super().__init__(name, ConnectorOptions(), None)  # type: ignore[arg-type]
        self.stalled = stalled
        self.answer = asyncio.Event()
        self.got: list[str] = []
        self.sent: list[str] = []
        self.cut_off = False  # the worker gave up waiting (its send timeout)

    async def send(self, message: OutboundMessage, progress: SendProgress | None = None) -> SendResult:
        self.got.append(message.text)
        if self.stalled:
            try:
                await self.answer.wait()
            except asyncio.CancelledError:
                self.cut_off = True
                raise
        self.sent.append(message.text)
        return SendResult(external_id=f"ext-{message.text}")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(tmp_path / "outbox.db") as s:
        yield s


async def test_a_reply_on_another_channel_does_not_wait_for_a_stalled_send(store: SQLiteStore) -> None:
    vk, telegram = Platform("vk", stalled=True), Platform("telegram", stalled=False)
    wakeup = asyncio.Event()
    worker = OutboxWorker(store, EventBus(), {"vk": vk, "telegram": telegram}, OutboxConfig(), Metrics(), wakeup,
                          node="node-a")
    past = utcnow() - timedelta(seconds=5)
    await queue(store, "anna", "to anna on vk", past, channel="vk")
    running = asyncio.create_task(worker.run())
    try:
        async def vk_in_flight() -> bool:
            return vk.got == ["to anna on vk"]

        await eventually(vk_in_flight, "the VK send to start (and hang)")
        await queue(store, "boris", "to boris on telegram", utcnow(), channel="telegram")
        await queue(store, "anna", "anna's second, on vk", utcnow(), channel="vk")
        wakeup.set()  # as the outbound path does when it queues

        async def telegram_sent() -> bool:
            return telegram.sent == ["to boris on telegram"]

        await eventually(telegram_sent, "the Telegram reply sent while VK hangs")
        # sent while the VK send still hung, not after the worker gave up on it
        assert not vk.cut_off
        # Anna's next message waits for her first: one in flight per recipient, in order
        assert vk.got == ["to anna on vk"] and vk.sent == []
        vk.answer.set()

        async def vk_sent() -> bool:
            return vk.sent == ["to anna on vk", "anna's second, on vk"]

        await eventually(vk_sent, "Anna's messages, in order, once VK answers")
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


class Throttled(Connector[ConnectorOptions]):
    """The platform's flood control: "wait" so many times, then it takes the message."""

    type_name = "scripted"

    def __init__(self, waits: int) -> None:
        super().__init__("vk", ConnectorOptions(), None)  # type: ignore[arg-type]
        self.waits = waits
        self.tries = 0

    async def send(self, message: OutboundMessage, progress: SendProgress | None = None) -> SendResult:
        self.tries += 1
        if self.tries <= self.waits:
            raise RateLimited(0.01, "vk: [9] Flood control")
        return SendResult(external_id="ext-1")


async def test_being_asked_to_wait_is_no_failed_attempt(store: SQLiteStore) -> None:
    """VK's flood control five times with max_attempts 3 dead-lettered a reply
    the platform would have taken: every try had waited as it was asked."""
    vk = Throttled(waits=5)
    worker = OutboxWorker(store, EventBus(), {"vk": vk}, OutboxConfig(max_attempts=3, backoff_initial=0.01,
                          backoff_max=0.02), Metrics(), asyncio.Event(), node="node-a")
    entry = await queue(store, "anna", "hello", utcnow() - timedelta(seconds=5), channel="vk")
    running = asyncio.create_task(worker.run())
    try:
        async def settled() -> str | None:
            with contextlib.closing(sqlite3.connect(store.path)) as conn:
                row = conn.execute("SELECT status FROM outbox WHERE id = ?", (entry,)).fetchone()
            return str(row[0]) if row[0] != "pending" else None

        assert await eventually(settled, "the reply sent or dead-lettered") == "sent"
        assert vk.tries == 6
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
