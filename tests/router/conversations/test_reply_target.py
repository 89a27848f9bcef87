"""An agent's reply goes to the channel the customer last wrote from, also
after two customers' conversations fold into one by a merge: the folded
conversation's latest customer message decides, whichever side it came from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.core import Router
from router.models import Agent, IdentityRef, InboundMessage, Role
from router.store.sqlite import SQLiteStore
from tests.router.identity.merging import merger
from tests.router.identity.test_flow import make_router

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(tmp_path / "reply.db") as s:
        yield s


def msg(kind: str, value: str, external_id: str, text: str) -> InboundMessage:
    return InboundMessage(channel=kind, external_id=external_id, sender=IdentityRef(kind=kind, value=value), text=text)


async def two_customers_folded(store: SQLiteStore, survivor_first: bool) -> tuple[Router, Clock, Agent, str]:
    """A WhatsApp customer writes, then a site-chat visitor; an agent merges
    them (either into the other): one open conversation holds both."""
    clock = Clock()
    router = make_router(store)
    router.clock = clock
    wa = await router.on_message(msg("whatsapp", "+79123456789", "wa-1", "Где мой заказ?"))
    clock.now = T0 + timedelta(hours=1)
    site = await router.on_message(msg("webchat", "visitor-1", "w-1", "Я теперь пишу с сайта"))
    a = (await store.get_conversation(str(wa.conversation_id))).customer_id
    b = (await store.get_conversation(str(site.conversation_id))).customer_id
    agent = await store.create_agent("ann", "Ann", Role.AGENT, "x")
    clock.now = T0 + timedelta(hours=2)
    survivor, merged = (a, b) if survivor_first else (b, a)
    await merger(router).merge_customers(survivor, merged, agent, "the same person")
    (open_conv,) = [c for c in await store.customer_conversations(survivor) if c.status.value != "resolved"]
    return router, clock, agent, open_conv.id


@pytest.mark.parametrize("survivor_first", [True, False], ids=["into-the-whatsapp-side", "into-the-site-side"])
async def test_a_reply_after_a_merge_goes_where_the_customer_wrote_last(store: SQLiteStore, survivor_first: bool
                                                                       ) -> None:
    router, clock, agent, conv = await two_customers_folded(store, survivor_first)
    first = await router.conversations.reply(conv, agent, "Смотрю ваш заказ")
    assert (first.channel, (await store.pending_outbox(10))[-1].payload.recipient) == ("webchat", "visitor-1")

    clock.now = T0 + timedelta(hours=3)  # the customer moves back to WhatsApp
    await router.on_message(msg("whatsapp", "+79123456789", "wa-2", "Я снова тут"))
    second = await router.conversations.reply(conv, agent, "Заказ в пути")
    assert second.conversation_id == conv
    outbox = await store.pending_outbox(10)
    assert (second.channel, outbox[-1].payload.recipient) == ("whatsapp", "+79123456789")
