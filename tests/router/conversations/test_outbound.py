"""The one way a message goes out, seen from the one-time code: the code's
message is published like every other (``message.created``, with the stored,
masked text: never the digits) and goes back in the thread of the message
the claimed address wrote (a mail's headers)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from router.bus import Event, EventBus
from router.config import RoutingConfig
from router.core import Router
from router.identity.service import IdentityConfig, IdentityRules
from router.metrics import Metrics
from router.models import IdentityRef, InboundMessage
from router.routing.decide import DefaultTeamRouting
from router.store.sqlite import SQLiteStore

THREAD = {"message_id": "<order-1234@shop.example>", "references": ["<welcome@shop.example>"]}


@pytest.fixture
async def router(tmp_path: Path) -> AsyncIterator[Router]:
    async with SQLiteStore(tmp_path / "outbound.db") as store:
        # codes only from an agent's "Send code": the bot offers none by itself here
        rules = IdentityRules(IdentityConfig.model_validate({"verification": {"self_service": False}}))
        yield Router(store, EventBus(), DefaultTeamRouting(RoutingConfig()), Metrics(), identity=rules)


async def claim(router: Router) -> tuple[str, str]:
    """A WhatsApp customer (whose message carries thread data), and a site
    visitor claiming their number: (visitor's customer id, claim id)."""
    await router.on_message(InboundMessage(
        channel="whatsapp", external_id="wa-1", sender=IdentityRef(kind="whatsapp", value="whatsapp:+79123456789"),
        text="Мой заказ 1234", thread=THREAD))
    hello = await router.on_message(InboundMessage(
        channel="webchat", external_id="w-1", sender=IdentityRef(kind="webchat", value="visitor-1"), text="Привет",
        claimed_phone="8 912 345 67 89"))
    visitor = (await router.store.get_conversation(hello.conversation_id or "")).customer_id
    found = next(c for c in await router.store.customer_claims(visitor) if c.kind == "phone")
    return visitor, found.id


async def test_a_code_message_is_published_masked_and_sent_in_the_claimed_address_thread(router: Router) -> None:
    visitor, claim_id = await claim(router)
    published: list[Event] = []
    async with router.bus.subscribe() as events:
        await router.verifier.start(visitor, claim_id)
        while not events.queue.empty():
            event = events.queue.get_nowait()
            assert event is not None
            published.append(event)
    [entry] = [e for e in await router.store.pending_outbox(10) if e.payload.channel == "whatsapp"]
    code = "".join(ch for ch in entry.payload.text.split(":")[1].split(".")[0] if ch.isdigit())
    assert len(code) == 6  # the phone gets the digits
    assert entry.payload.thread == THREAD
    [created] = [e for e in published if e.type == "message.created"]
    assert json.loads(created.json)["data"]["message"]["id"] == entry.message_id
    assert "••••••" in json.loads(created.json)["data"]["message"]["text"]
    assert code not in created.json
