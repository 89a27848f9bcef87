"""A message whose sender went away (a webhook's client hung up, a tab
closed) still goes through the pipeline, and if the pipeline fails the log
says so (without the customer's words): nobody else is left to say it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from router.bus import EventBus
from router.config import RoutingConfig
from router.core import Router
from router.metrics import Metrics
from router.models import Customer, CustomerHistory, Message, RouteDecision
from router.routing.decide import DefaultTeamRouting
from router.store.sqlite import SQLiteStore
from tests.conftest import HANG
from tests.router.test_core import msg


class BrokenRouting(DefaultTeamRouting):
    """A routing step with a bug (a rule's KeyError, say), which repeats the customer's words."""

    def decide(self, message: Message, customer: Customer, history: CustomerHistory | None = None) -> RouteDecision:
        raise KeyError(f"a bug in routing: {message.text}")


async def test_a_failure_after_the_sender_left_is_logged_without_their_words(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with SQLiteStore(tmp_path / "core.db") as store:
        router = Router(store, EventBus(), BrokenRouting(RoutingConfig(default_team="sales")), Metrics())
        with caplog.at_level(logging.ERROR, logger="router.ingest.service"):
            caller = asyncio.create_task(router.on_message(msg(text="секретный текст клиента")))
            await asyncio.sleep(0)
            caller.cancel()  # the webhook's client hung up
            with pytest.raises(asyncio.CancelledError):
                await caller
            await asyncio.wait_for(router.ingest.drain(), HANG)
        logged = [r for r in caplog.records if r.name == "router.ingest.service"]
        assert [r.getMessage().splitlines()[0] for r in logged] == [
            "a message whose sender had gone failed in the pipeline"]
        assert "KeyError" in logged[0].getMessage()
        assert "секретный" not in caplog.text
        stored = await store.unrouted_messages(10)
        assert [m.text for m in stored] == ["секретный текст клиента"]  # stored: routed again at the next start
