"""The durable outbox: retries with backoff, retry_after, dead letters,
per-recipient order and resuming after a restart. The clock is ours, so no
test sleeps."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.bus import EventBus
from router.config import OutboxConfig, RoutingConfig
from router.connector import PermanentError, RateLimited, TransientError
from router.core import Router
from router.metrics import Metrics
from router.models import Agent, Delivery, IdentityRef, InboundMessage, Role
from router.outbox.service import OutboxWorker, backoff_delay
from router.routing.decide import DefaultTeamRouting
from router.store.sqlite import SQLiteStore
from tests.conftest import HANG
from tests.fakes.scripted import ScriptedPlatform


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Rig:
    def __init__(self, store: SQLiteStore, clock: Clock) -> None:
        self.clock = clock
        self.platform = ScriptedPlatform()
        self.router = Router(store, EventBus(), DefaultTeamRouting(RoutingConfig()), Metrics(), clock)
        config = OutboxConfig(max_attempts=3, backoff_initial=2, backoff_max=60)
        self.worker = OutboxWorker(
            store, self.router.bus, {"scripted": self.platform}, config, self.router.metrics,
            self.router.outbox_wakeup, clock,
        )

    async def conversation(self, sender: str = "chat-1") -> str:
        accepted = await self.router.on_message(
            InboundMessage(channel="scripted", external_id=f"in-{sender}", sender=IdentityRef(kind="x", value=sender))
        )
        assert accepted.conversation_id
        return accepted.conversation_id

    async def agent(self) -> Agent:
        return await self.router.store.create_agent("ann", "Ann", Role.AGENT, "x")

    async def deliveries(self, conv_id: str) -> list[tuple[str, Delivery, str | None]]:
        messages = await self.router.store.list_messages(conv_id, 100)
        return [(m.text, m.delivery, m.delivery_error) for m in messages if m.direction == "out"]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with SQLiteStore(tmp_path / "outbox.db") as store:
        yield Rig(store, Clock())


async def test_transient_failure_is_retried_with_backoff(rig: Rig) -> None:
    conv = await rig.conversation()
    await rig.router.conversations.reply(conv, await rig.agent(), "hello")
    rig.platform.fail_next(TransientError("HTTP 502"))
    wait = await rig.worker.run_once()
    assert 1 <= wait <= 2  # first backoff step, with jitter
    assert await rig.deliveries(conv) == [("hello", Delivery.PENDING, None)]
    assert await rig.worker.run_once() > 0 and rig.platform.delivered == []  # not due yet
    rig.clock.advance(wait)
    await rig.worker.run_once()
    assert [m.text for m in rig.platform.delivered] == ["hello"]
    assert await rig.deliveries(conv) == [("hello", Delivery.SENT, None)]


async def test_rate_limit_retry_after_is_honoured(rig: Rig) -> None:
    conv = await rig.conversation()
    await rig.router.conversations.reply(conv, await rig.agent(), "hello")
    rig.platform.fail_next(RateLimited(retry_after=25))
    assert await rig.worker.run_once() == 25
    rig.clock.advance(24)
    await rig.worker.run_once()
    assert rig.platform.delivered == []
    rig.clock.advance(1)
    await rig.worker.run_once()
    assert len(rig.platform.delivered) == 1


async def test_last_failure_dead_letters_with_the_reason_and_tells_the_console(rig: Rig) -> None:
    conv = await rig.conversation()
    await rig.router.conversations.reply(conv, await rig.agent(), "hello")
    rig.platform.fail_next(*(TransientError("connection refused") for _ in range(3)))
    events: list[str] = []

    async def watch() -> None:
        async with rig.router.bus.subscribe() as sub:
            async for event in sub:
                if event.type == "message.updated":
                    events.append(event.data["message"]["delivery_error"])
                    return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0)
    for _ in range(3):
        await rig.worker.run_once()
        rig.clock.advance(120)
    await asyncio.wait_for(watcher, HANG)
    [(_, delivery, error)] = await rig.deliveries(conv)
    assert delivery is Delivery.FAILED and error == "gave up after 3 attempts: [unavailable] connection refused"
    assert events == [error]
    assert await rig.router.store.pending_outbox(10) == []


async def test_permanent_error_dead_letters_at_once(rig: Rig) -> None:
    conv = await rig.conversation()
    await rig.router.conversations.reply(conv, await rig.agent(), "hello")
    rig.platform.fail_next(PermanentError("Forbidden: bot was blocked by the user"))
    await rig.worker.run_once()
    assert await rig.deliveries(conv) == [("hello", Delivery.FAILED, "Forbidden: bot was blocked by the user")]
    assert len(rig.platform.attempts) == 1


async def test_a_refusal_quoting_the_customers_address_keeps_it_out_of_the_log(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    """The agent is shown the platform's words whole; the log line is not given the customer's address."""
    conv = await rig.conversation()
    await rig.router.conversations.reply(conv, await rig.agent(), "hello")
    rig.platform.fail_next(TransientError("451 try later for <ivan.petrov@mail.ru>"),
                           PermanentError("550 5.1.1 <ivan.petrov@mail.ru>: no such user; +7 916 123-45-67"))
    with caplog.at_level(logging.INFO):
        await rig.worker.run_once()
        rig.clock.advance(120)
        await rig.worker.run_once()
    [(_, delivery, error)] = await rig.deliveries(conv)
    assert delivery is Delivery.FAILED and "ivan.petrov@mail.ru" in error and "+7 916 123-45-67" in error
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "no such user" in logged and "try later" in logged
    assert "ivan.petrov" not in logged and "916" not in logged


async def test_one_recipients_messages_keep_their_order(rig: Rig) -> None:
    conv_a = await rig.conversation("chat-a")
    conv_b = await rig.conversation("chat-b")
    agent = await rig.agent()
    for text in ("a1", "a2", "a3"):
        await rig.router.conversations.reply(conv_a, agent, text)
    await rig.router.conversations.reply(conv_b, agent, "b1")
    rig.platform.fail_next(TransientError("timeout"))  # a1 fails once
    await rig.worker.run_once()
    # b1 is not held up by chat-a's trouble, a2 and a3 wait behind a1
    assert [m.text for m in rig.platform.delivered] == ["b1"]
    rig.clock.advance(60)
    await rig.worker.run_once()
    assert [m.text for m in rig.platform.delivered] == ["b1", "a1", "a2", "a3"]


async def test_unsent_messages_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "restart.db"
    async with SQLiteStore(path) as store:
        rig = Rig(store, Clock())
        conv = await rig.conversation()
        await rig.router.conversations.reply(conv, await rig.agent(), "before the crash")
    async with SQLiteStore(path) as store:
        rig = Rig(store, Clock())
        await rig.worker.run_once()
        assert [m.text for m in rig.platform.delivered] == ["before the crash"]
        assert await rig.deliveries(conv) == [("before the crash", Delivery.SENT, None)]


async def test_unknown_channel_is_dead_lettered_not_dropped(rig: Rig) -> None:
    accepted = await rig.router.on_message(
        InboundMessage(channel="gone", external_id="1", sender=IdentityRef(kind="x", value="y"))
    )
    conv = accepted.conversation_id or ""
    await rig.router.conversations.reply(conv, await rig.agent(), "hello")
    await rig.worker.run_once()
    assert await rig.deliveries(conv) == [("hello", Delivery.FAILED, "[account] no enabled connector named 'gone'")]


def test_backoff_grows_and_is_capped() -> None:
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (10, 30.0)]:
        delay = backoff_delay(attempt, 1.0, 30.0)
        assert ceiling / 2 <= delay <= ceiling
