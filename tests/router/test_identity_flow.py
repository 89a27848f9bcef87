"""Identity through the real pipeline: a real SQLite store, bus and router."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from router.bus import EventBus
from router.config import RoutingConfig
from router.core import Router
from router.identity import IdentityConfig, IdentityRules
from router.metrics import Metrics
from router.models import Agent, IdentityRef, InboundMessage, Role
from router.routing import DefaultTeamRouting
from router.store.base import MergeRequest
from router.store.sqlite import SQLiteStore


def make_router(store: SQLiteStore, **config: object) -> Router:
    rules = IdentityRules(IdentityConfig.model_validate(config))
    return Router(store, EventBus(), DefaultTeamRouting(RoutingConfig()), Metrics(), identity=rules)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(tmp_path / "identity.db") as s:
        yield s


@pytest.fixture
def router(store: SQLiteStore) -> Router:
    return make_router(store)


@pytest.fixture
async def agent(router: Router) -> Agent:
    return await router.store.create_agent("ann", "Ann", Role.AGENT, "x")


def msg(kind: str, value: str, external_id: str, text: str = "Здравствуйте", **extras: str) -> InboundMessage:
    return InboundMessage(channel=kind, external_id=external_id, sender=IdentityRef(kind=kind, value=value),
                          text=text, extras=extras)


async def test_messy_formats_of_one_phone_on_two_channels_continue_one_conversation(router: Router) -> None:
    first = await router.on_message(msg("whatsapp", "whatsapp:+79123456789", "wa-1", "Где заказ?"))
    second = await router.on_message(msg("sms", "8 (912) 345-67-89", "sms-1", "Это я, по SMS"))
    assert second.conversation_id == first.conversation_id
    conv = await router.store.get_conversation(first.conversation_id or "")
    identities = await router.store.customer_identities(conv.customer_id)
    assert {(i.ref.kind, i.ref.value) for i in identities} == {("whatsapp", "+79123456789"), ("sms", "+79123456789")}
    # each message shows the channel it came by
    assert [m.channel for m in await router.store.list_messages(conv.id, 10)] == ["whatsapp", "sms"]


async def test_two_channels_of_one_customer_at_once_make_one_customer_one_conversation(router: Router) -> None:
    messages = [msg("whatsapp", "+7 912 345-67-89", f"wa-{n}") for n in range(5)]
    messages += [msg("sms", "89123456789", f"sms-{n}") for n in range(5)]
    messages += messages[:3]  # and some redeliveries on top
    accepted = await asyncio.gather(*(router.on_message(m) for m in messages))
    assert len({a.conversation_id for a in accepted}) == 1
    assert sum(a.duplicate for a in accepted) == 3
    conv = await router.store.get_conversation(accepted[0].conversation_id or "")
    assert len(await router.store.list_messages(conv.id, 100)) == 10
    assert len(await router.store.customer_identities(conv.customer_id)) == 2
    counts = await router.store.count_conversations()
    assert sum(counts.values()) == 1


async def test_a_claimed_phone_shows_nothing_of_the_other_profile(router: Router) -> None:
    await router.on_message(msg("whatsapp", "+79123456789", "wa-1", "Мой диагноз — секрет"))
    hello = await router.on_message(msg("webchat", "visitor-1", "w-1", "Привет", claimed_phone="8 912 345 67 89"))
    web = await router.store.get_conversation(hello.conversation_id or "")
    claims = await router.store.customer_claims(web.customer_id)
    assert [(c.value, c.source) for c in claims] == [("+79123456789", "webchat:claimed_phone")]
    history = await router.history(IdentityRef(kind="webchat", value="visitor-1"))
    assert [m.text for m in history] == ["Привет"]


async def test_a_claim_merged_by_config_still_shows_only_ones_own_messages(store: SQLiteStore) -> None:
    router = make_router(store, phone={"kinds": ["whatsapp"], "merge_claims": True})
    await router.on_message(msg("whatsapp", "+79123456789", "wa-1", "Мой диагноз — секрет"))
    await router.on_message(msg("webchat", "visitor-1", "w-1", "Мой номер 8 912 345 67 89"))
    owner = await store.find_identity(IdentityRef(kind="webchat", value="visitor-1"))
    wa = await store.find_identity(IdentityRef(kind="whatsapp", value="+79123456789"))
    assert owner is not None and wa is not None and owner.id == wa.id  # merged, as configured
    site = await router.history(IdentityRef(kind="webchat", value="visitor-1"))
    assert [m.text for m in site] == ["Мой номер 8 912 345 67 89"]
    phone = await router.history(IdentityRef(kind="whatsapp", value="whatsapp:+79123456789"))
    assert [m.text for m in phone] == ["Мой диагноз — секрет"]


async def test_after_a_proven_link_the_history_is_whole(router: Router, agent: Agent) -> None:
    a = await router.on_message(msg("webchat", "visitor-1", "w-1", "С сайта"))
    b = await router.on_message(msg("telegram", "555", "tg-1", "Из телеграма"))
    web = await router.store.get_conversation(a.conversation_id or "")
    tg = await router.store.get_conversation(b.conversation_id or "")
    await router.store.merge_customers(MergeRequest(web.customer_id, tg.customer_id, "code", None, "code confirmed",
                                                    verified=True), router.clock())
    history = await router.history(IdentityRef(kind="webchat", value="visitor-1"))
    assert [m.text for m in history] == ["С сайта", "Из телеграма"]
