"""Identity through the real pipeline: a real store (SQLite, or PostgreSQL with
OMNIROUTER_TEST_STORE=postgres), bus and router."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.bus import EventBus
from router.config import OutboxConfig, RoutingConfig
from router.connector import PermanentError
from router.core import Router
from router.identity.service import IdentityConfig, IdentityRules
from router.identity.types import MergeRequest
from router.identity.verification import VerificationRefused
from router.metrics import Metrics
from router.models import Agent, Delivery, IdentityRef, InboundMessage, Role
from router.outbox.service import OutboxWorker
from router.routing.decide import DefaultTeamRouting
from router.store.base import Store
from router.store.errors import ConflictError, NotFound
from router.store.postgres import PostgresStore
from router.store.sqlite import SQLiteStore
from tests.conftest import TEST_STORE
from tests.fakes.scripted import ScriptedPlatform
from tests.router.identity.merging import merger


def make_router(store: Store, **config: object) -> Router:
    rules = IdentityRules(IdentityConfig.model_validate(config))
    return Router(store, EventBus(), DefaultTeamRouting(RoutingConfig()), Metrics(), identity=rules)


@pytest.fixture
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    backend: Store = (PostgresStore(request.getfixturevalue("pg_database")) if TEST_STORE == "postgres"
                      else SQLiteStore(tmp_path / "identity.db"))
    async with backend as s:
        yield s


@pytest.fixture
def router(store: Store) -> Router:
    return make_router(store)


@pytest.fixture
async def agent(router: Router) -> Agent:
    return await router.store.create_agent("ann", "Ann", Role.AGENT, "x")


OFFER_RU = ("Если номер +79123456789 уже есть у нас, мы отправили на него код. Введите его здесь — и продолжим "
            "с того места, где вы остановились. Не нужно — напишите «нет, спасибо».")


def msg(kind: str, value: str, external_id: str, text: str = "Здравствуйте", **keys: str) -> InboundMessage:
    """``keys``: the claims and proofs beside the text (``claimed_phone=…``, ``proven_phone=…``)."""
    return InboundMessage(channel=kind, external_id=external_id, sender=IdentityRef(kind=kind, value=value),
                          text=text, **keys)


@pytest.mark.parametrize(("number", "typed"), [
    ("+78005553535", "Звоните нам: 8 800 555-35-35"),      # toll-free: a business's line
    ("+79999999999", "Мой телефон +7 999 999-99-99"),      # a placeholder
])
async def test_a_number_that_is_nobodys_links_no_one(router: Router, number: str, typed: str) -> None:
    """Two people writing from (or typing) the shop's 8 800 line or a
    placeholder never become one customer, nor get it as a claim."""
    first = await router.on_message(msg("whatsapp", f"whatsapp:{number}", "wa-1", typed))
    second = await router.on_message(msg("sms", number, "sms-1", "Это по SMS"))
    assert second.conversation_id != first.conversation_id
    for accepted in (first, second):
        assert accepted.conversation_id is not None
        conv = await router.store.get_conversation(accepted.conversation_id)
        assert await router.store.customer_claims(conv.customer_id) == []


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
    # her message and the bot's offer of a code: nothing of the WhatsApp customer's
    assert [m.text for m in history] == ["Привет", OFFER_RU]


async def test_a_claim_merged_by_config_still_shows_only_ones_own_messages(store: Store) -> None:
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


async def test_a_reply_to_an_identity_merged_in_without_proof_stays_its_own(store: Store, agent: Agent) -> None:
    """One conversation, two identities joined by config without proof: an
    agent's reply to the WhatsApp one came after the site's message, and the
    site's history showed it (an answer followed whoever wrote last)."""
    router = make_router(store, phone={"kinds": ["whatsapp"], "merge_claims": True})
    await router.on_message(msg("whatsapp", "+79123456789", "wa-1", "Мой баланс?"))
    site = await router.on_message(msg("webchat", "visitor-1", "w-1", "Мой номер 8 912 345 67 89"))
    assert site.conversation_id is not None
    await router.conversations.reply(site.conversation_id, agent, "Ваш баланс 9000 ₽", channel="whatsapp")
    await router.conversations.reply(site.conversation_id, agent, "Здравствуйте! Чем помочь?", channel="webchat")
    shown = await router.history(IdentityRef(kind="webchat", value="visitor-1"))
    assert [m.text for m in shown] == ["Мой номер 8 912 345 67 89", "Здравствуйте! Чем помочь?"]
    phone = await router.history(IdentityRef(kind="whatsapp", value="whatsapp:+79123456789"))
    assert [m.text for m in phone] == ["Мой баланс?", "Ваш баланс 9000 ₽"]


async def test_after_a_proven_link_the_history_is_whole(router: Router, agent: Agent) -> None:
    a = await router.on_message(msg("webchat", "visitor-1", "w-1", "С сайта"))
    b = await router.on_message(msg("telegram", "555", "tg-1", "Из телеграма"))
    web = await router.store.get_conversation(a.conversation_id or "")
    tg = await router.store.get_conversation(b.conversation_id or "")
    await router.store.merge_customers(MergeRequest(web.customer_id, tg.customer_id, "code", None, "code confirmed",
                                                    verified=True), router.clock())
    history = await router.history(IdentityRef(kind="webchat", value="visitor-1"))
    assert [m.text for m in history] == ["С сайта", "Из телеграма"]


# -- verified linking by a one-time code an agent sends ------------------------------------
# (the bot offers none here: tests/router/identity/test_selfservice.py has the bot's offer, and both together)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def agents(store: Store) -> Router:
    """A router whose bot offers no code by itself: codes come from an agent's "Send code"."""
    return make_router(store, verification={"self_service": False})


@pytest.fixture
def clock(agents: Router) -> Clock:
    c = Clock()
    agents.clock = c
    return c


async def claimed(router: Router) -> tuple[str, str]:
    """A WhatsApp customer, and a site visitor claiming their number: (visitor's customer id, claim id)."""
    await router.on_message(msg("whatsapp", "whatsapp:+79123456789", "wa-1", "Мой заказ 1234 — секрет"))
    hello = await router.on_message(msg("webchat", "visitor-1", "w-1", "Привет", claimed_phone="8 912 345 67 89"))
    visitor = (await router.store.get_conversation(hello.conversation_id or "")).customer_id
    claim = next(c for c in await router.store.customer_claims(visitor) if c.kind == "phone")
    return visitor, claim.id


async def sent_code(router: Router) -> str:
    """The digits in the latest code message waiting in the outbox (what the phone receives)."""
    entry = (await router.store.pending_outbox(10))[-1]
    assert entry.payload.channel == "whatsapp" and entry.payload.recipient == "whatsapp:+79123456789"
    code = "".join(ch for ch in entry.payload.text.split(":")[1].split(".")[0] if ch.isdigit())
    assert len(code) == 6
    return code


async def test_the_right_code_links_the_profiles_and_opens_the_history(agents: Router, clock: Clock) -> None:
    router = agents
    visitor, claim_id = await claimed(router)
    verification = await router.verifier.start(visitor, claim_id)
    assert (verification.status, verification.channel) == ("pending", "whatsapp")
    code = await sent_code(router)
    # the stored copy (what agents and histories show) never carries the digits
    owner = await router.store.find_identity(IdentityRef(kind="whatsapp", value="+79123456789"))
    assert owner is not None
    shown = [m.text for m in await router.store.customer_messages(owner.id, 10)]
    assert not any(code in text for text in shown) and any("••••••" in text for text in shown)

    wrong = "000000" if code != "000000" else "111111"
    await router.on_message(msg("webchat", "visitor-1", "w-2", wrong))
    assert (await router.store.find_identity(IdentityRef(kind="webchat", value="visitor-1")) or owner).id == visitor
    await router.on_message(msg("webchat", "visitor-1", "w-3", f" {code[:3]} {code[3:]} "))
    linked = await router.store.find_identity(IdentityRef(kind="webchat", value="visitor-1"))
    assert linked is not None and linked.id == owner.id
    assert (await router.store.customer_merges(owner.id))[0].source == "code"
    assert (await router.store.customer_claims(owner.id))[0].verified_at is not None
    history = [m.text for m in await router.history(IdentityRef(kind="webchat", value="visitor-1"))]
    assert "Мой заказ 1234 — секрет" in history


async def test_codes_expire_and_die_after_too_many_wrong_tries(agents: Router, clock: Clock) -> None:
    router = agents
    visitor, claim_id = await claimed(router)
    await router.verifier.start(visitor, claim_id)
    code = await sent_code(router)
    clock.advance(601)
    await router.on_message(msg("webchat", "visitor-1", "w-2", code))
    assert (await router.store.customer_merges(visitor)) == []

    await router.verifier.start(visitor, claim_id)  # a fresh code after the old one expired
    code = await sent_code(router)
    wrong = "000000" if code != "000000" else "111111"
    for n in range(5):
        await router.on_message(msg("webchat", "visitor-1", f"x-{n}", wrong))
    await router.on_message(msg("webchat", "visitor-1", "w-9", code))
    assert (await router.store.customer_merges(visitor)) == []


async def test_resends_are_throttled_and_a_new_code_replaces_the_old(agents: Router, clock: Clock) -> None:
    router = agents
    visitor, claim_id = await claimed(router)
    await router.verifier.start(visitor, claim_id)
    first = await sent_code(router)
    with pytest.raises(ConflictError, match="try again in 60 s"):
        await router.verifier.start(visitor, claim_id)
    clock.advance(61)
    again = await router.verifier.start(visitor, claim_id)
    assert again.sends == 2
    second = await sent_code(router)
    if first != second:
        await router.on_message(msg("webchat", "visitor-1", "w-2", first))
        assert (await router.store.customer_merges(visitor)) == []
    await router.on_message(msg("webchat", "visitor-1", "w-3", second))
    assert len(await router.store.customer_merges(visitor)) == 1


def database_text(path: Path) -> str:
    """Every table's every row, as SQL (what a copy of the database file gives away)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return "\n".join(conn.iterdump())


def holds(text: str, code: str) -> bool:
    # ten digits standing alone: no timestamp, id or hash has such a run
    return re.search(rf"(?<!\d){code}(?!\d)", text) is not None


async def test_a_code_is_in_no_table_once_sent_or_dead_lettered(tmp_path: Path) -> None:
    path = tmp_path / "codes.db"
    async with SQLiteStore(path) as store:
        router = make_router(store, verification={"code_length": 10, "resend_after_seconds": 0, "self_service": False})
        phone, chat = ScriptedPlatform("whatsapp"), ScriptedPlatform("webchat")
        worker = OutboxWorker(store, router.bus, {"whatsapp": phone, "webchat": chat}, OutboxConfig(max_attempts=1),
                              router.metrics, router.outbox_wakeup)
        visitor, claim_id = await claimed(router)
        for outcome in ("sent", "dead"):
            await router.verifier.start(visitor, claim_id)
            [entry] = [e for e in await store.pending_outbox(10) if e.payload.channel == "whatsapp"]
            code = re.findall(r"\d{10}", entry.payload.text)[0]
            assert holds(database_text(path), code)  # waiting to go, the outbox must have it
            if outcome == "dead":
                phone.fail_next(PermanentError("whatsapp: the number is not on WhatsApp"))
            await worker.run_once()
            if outcome == "sent":
                assert code in phone.delivered[-1].text  # the phone got the digits
            shown = await store.list_messages(entry.conversation_id or "", 100)
            assert [m.delivery for m in shown if m.id == entry.message_id] == [
                Delivery.SENT if outcome == "sent" else Delivery.FAILED]
            assert not holds(database_text(path), code), f"the code is still stored after it was {outcome}"


async def test_a_claim_nobody_can_reach_is_refused_with_the_reason(agents: Router, clock: Clock) -> None:
    router = agents
    hello = await router.on_message(msg("webchat", "visitor-1", "w-0", "Пишите на anna@mail.ru"))
    visitor = (await router.store.get_conversation(hello.conversation_id or "")).customer_id
    claim = (await router.store.customer_claims(visitor))[0]
    with pytest.raises(VerificationRefused, match=r"no connected channel can reach email anna@mail\.ru"):
        await router.verifier.start(visitor, claim.id)
    # the number has written on WhatsApp, but this installation runs no WhatsApp connector
    other, claim_id = await claimed(router)
    router.verifier.channels = frozenset({"webchat"})
    with pytest.raises(VerificationRefused, match="no connected channel can reach phone"):
        await router.verifier.start(other, claim_id)
    with pytest.raises(NotFound):
        await router.verifier.start(other, "clm_missing")
    assert await router.store.pending_outbox(10) == []


async def test_messages_sent_while_merged_go_back_with_their_sender_on_unmerge(router: Router, agent: Agent) -> None:
    a = await router.on_message(msg("webchat", "visitor-1", "w-1", "С сайта"))
    b = await router.on_message(msg("whatsapp", "whatsapp:+79123456789", "wa-1", "Из WhatsApp"))
    conv_a, conv_b = (await router.store.get_conversation(a.conversation_id or ""),
                      await router.store.get_conversation(b.conversation_id or ""))
    merge = await merger(router).merge_customers(conv_a.customer_id, conv_b.customer_id, agent, "same person")
    during_b = await router.on_message(msg("whatsapp", "8 912 345 67 89", "wa-2", "Снова из WhatsApp"))
    during_a = await router.on_message(msg("webchat", "visitor-1", "w-2", "Снова с сайта"))
    assert during_a.conversation_id == during_b.conversation_id == conv_a.id  # one conversation while merged

    await merger(router).unmerge_customers(merge.id, agent, "two people")
    assert [m.text for m in await router.store.list_messages(conv_b.id, 10)] == ["Из WhatsApp", "Снова из WhatsApp"]
    assert [m.text for m in await router.store.list_messages(conv_a.id, 10)] == ["С сайта", "Снова с сайта"]
    assert (await router.store.get_conversation(conv_b.id)).customer_id == conv_b.customer_id


async def test_an_agents_merge_joins_the_conversation_but_not_the_histories(router: Router, agent: Agent) -> None:
    a = await router.on_message(msg("webchat", "visitor-1", "w-1", "С сайта"))
    b = await router.on_message(msg("telegram", "555", "tg-1", "Из телеграма"))
    conv_a = await router.store.get_conversation(a.conversation_id or "")
    conv_b = await router.store.get_conversation(b.conversation_id or "")
    await merger(router).merge_customers(conv_a.customer_id, conv_b.customer_id, agent, "said so on the phone")
    later = await router.on_message(msg("telegram", "555", "tg-2", "Это снова я"))
    assert later.conversation_id == conv_a.id  # continuity for the agent
    # the customer proved nothing: each channel still sees only its own messages
    assert [m.text for m in await router.history(IdentityRef(kind="webchat", value="visitor-1"))] == ["С сайта"]
    assert [m.text for m in await router.history(IdentityRef(kind="telegram", value="555"))] == [
        "Из телеграма", "Это снова я"]
