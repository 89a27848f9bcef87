"""A platform down for minutes, with the outbox's shipped settings: what an
agent sees once it is back. The clock is ours, so no test sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from router.bus import EventBus
from router.config import OutboxConfig, RoutingConfig
from router.connector import SendProgress, SendResult, TransientError
from router.core import Router
from router.metrics import Metrics
from router.models import Delivery, IdentityRef, InboundMessage, OutboundMessage, Role
from router.outbox.service import OutboxWorker
from router.routing.decide import DefaultTeamRouting
from router.store.sqlite import SQLiteStore
from tests.fakes.scripted import ScriptedPlatform
from tests.router.outbox.test_service import Clock

SHIPPED = Path(__file__).parents[3] / "config" / "omnirouter.yaml"


class DownFor(ScriptedPlatform):
    """A platform that answers 502 until ``up_at`` on the worker's clock, then takes everything."""

    def __init__(self, clock: Clock, minutes: float) -> None:
        super().__init__()
        self.clock = clock
        self.up_at = clock() + timedelta(minutes=minutes)
        self.refused: list[str] = []

    async def send(self, message: OutboundMessage, progress: SendProgress | None = None) -> SendResult:
        if self.clock() < self.up_at:
            self.refused.append(message.text)
            raise TransientError("scripted: HTTP 502")
        return await super().send(message, progress)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(tmp_path / "outbox.db") as store:
        yield store


def shipped_outbox() -> OutboxConfig:
    return OutboxConfig.model_validate(yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))["outbox"])


@pytest.mark.parametrize("config", [OutboxConfig(), shipped_outbox()], ids=["defaults", "shipped-yaml"])
@pytest.mark.parametrize("minutes", [3, 10])
async def test_an_outage_of_minutes_delivers_every_reply_in_order_once_the_platform_is_back(
        store: SQLiteStore, config: OutboxConfig, minutes: float) -> None:
    """With 8 attempts a platform down for about two minutes dead-lettered the
    first reply of every conversation (the agent read «Не доставлено: попытки
    кончились (8)») and then sent the replies after it: the customer got the
    second answer without the first."""
    clock = Clock()
    platform = DownFor(clock, minutes)
    router = Router(store, EventBus(), DefaultTeamRouting(RoutingConfig()), Metrics(), clock)
    worker = OutboxWorker(store, router.bus, {"scripted": platform}, config, router.metrics,
                          router.outbox_wakeup, clock)
    accepted = await router.on_message(InboundMessage(channel="scripted", external_id="in-1",
                                                      sender=IdentityRef(kind="x", value="chat-1")))
    assert accepted.conversation_id
    agent = await store.create_agent("ann", "Ann", Role.AGENT, "x")
    for text in ("first", "second", "third"):
        await router.conversations.reply(accepted.conversation_id, agent, text)
    for _ in range(1000):
        wait = await worker.run_once()
        if len(platform.delivered) == 3:
            break
        clock.advance(max(wait, 0.001))
    messages = await store.list_messages(accepted.conversation_id, 100)
    assert [(m.text, m.delivery) for m in messages if m.direction == "out"] == [
        ("first", Delivery.SENT), ("second", Delivery.SENT), ("third", Delivery.SENT)]
    assert [m.text for m in platform.delivered] == ["first", "second", "third"]
    assert set(platform.refused) == {"first"}  # the rest waited behind it, in order
