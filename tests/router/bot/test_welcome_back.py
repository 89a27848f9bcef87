"""Show me you know me, through the real app: Twilio's webhooks (and the
local fake of its API), the real SQLite store, the rules and the bot of the
shipped bot.yaml (read by words: no model to load). The router's clock is
ours: "a day later" is a day on it, never a wait, and every step is far from
the pause's edge (4 hours: 1 hour within it, a day past it)."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from agents_ui import contacts_api
from router.appkeys import ROUTER, STORE
from router.bot.config import Messages
from router.config import Settings
from router.core import Router
from router.models import Author, IdentityRef, InboundMessage, Message, Role
from router.server.app import create_app
from tests.conftest import ADMIN_PASSWORD
from tests.connectors.twilio_helpers import ACCOUNT, CUSTOMER, PUBLIC_URL, TOKEN, post, section, sms_form, whatsapp_form
from tests.fakes.twilio_api import FakeTwilio
from tests.router.bot.conftest import SHIPPED, T0, Clock
from tests.router.identity.merging import merger
from tests.router.routing.rules.conftest import write_config

Client = TestClient[web.Request, web.Application]
NAME = "Иван Петров"  # the ProfileName of tests.connectors.twilio_helpers's WhatsApp payloads


@pytest.fixture
async def app(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, twilio_api: FakeTwilio, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, clock: Clock,
) -> Client:
    monkeypatch.setenv("OMNIROUTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("OMNIROUTER_TWILIO_ACCOUNT_SID", ACCOUNT)
    monkeypatch.setenv("OMNIROUTER_TWILIO_AUTH_TOKEN", TOKEN)
    settings.server.public_url = PUBLIC_URL
    settings.connectors["whatsapp"] = section(twilio_api, "whatsapp")
    settings.connectors["sms"] = section(twilio_api, "sms", messages_per_second=50)
    folder = write_config(tmp_path / "config").parent
    # the shipped bot, read by words: the same intents and texts without loading the model
    shipped = SHIPPED.read_text(encoding="utf-8")
    assert "method: hybrid" in shipped
    (folder / "bot.yaml").write_text(shipped.replace("method: hybrid", "method: lexical"), encoding="utf-8")
    shutil.copy(SHIPPED.parent / "identity.yaml", folder / "identity.yaml")
    client = await aiohttp_client(create_app(settings, folder, base_dir=tmp_path))
    client.app[ROUTER].clock = clock
    return client


async def settle(router: Router) -> None:
    assert router.bot_desk is not None
    await router.bot_desk.drain()


async def bot_answer(app: Client, clock: Clock, channel: str, form: dict[str, str]) -> Message:
    """The customer writes now (on ``clock``); the bot's answer to it."""
    assert await post(app, channel, form) == 200
    await settle(app.app[ROUTER])
    customer = await app.app[STORE].find_identity(IdentityRef(kind="whatsapp", value=CUSTOMER))
    assert customer is not None
    last = (await app.app[STORE].customer_messages(customer.id, 100))[-1]
    assert last.author is Author.BOT and last.created_at == clock.now, last
    return last


async def test_a_customer_back_after_the_pause_is_greeted_by_name_with_where_they_left_off(
    app: Client, clock: Clock,
) -> None:
    first = await bot_answer(app, clock, "whatsapp", whatsapp_form("Сколько идет доставка?"))
    assert first.core.bot["intent"] == "delivery_time"
    assert NAME not in first.text  # a first contact: nothing to recall

    clock.now = T0 + timedelta(hours=1)  # well within the pause, by SMS: the same number, one customer
    within = await bot_answer(app, clock, "sms", sms_form("Как можно оплатить?"))
    assert within.core.bot["intent"] == "payment"
    assert within.channel == "sms" and NAME not in within.text and "Вы писали" not in within.text

    clock.now = T0 + timedelta(days=1, hours=1)  # a day later, on WhatsApp again
    back = await bot_answer(app, clock, "whatsapp", whatsapp_form("Когда привезут заказ?"))
    greeting = f"Здравствуйте, {NAME}! Вы писали нам 1 день назад по SMS о способах оплаты — продолжим?\n\n"
    assert back.text.startswith(greeting), back.text
    assert back.channel == "whatsapp"
    # the rest is the bot's answer as always
    assert len(back.text) > len(greeting)

    # the agent's panel: the last contact on each channel, what it was about (the console's
    # cookie is a secure one here, with an https public URL: read as its endpoint reads it)
    contacts = await contacts_api.last_contacts(app.app, back.customer_id or "")
    assert [(c.channel, c.label["en"], c.intent, c.topic) for c in contacts] == [
        ("whatsapp", "WhatsApp", "delivery_time", {"ru": "сроки доставки", "en": "delivery times"}),
        ("sms", "SMS", "payment", {"ru": "способы оплаты", "en": "payment methods"}),
    ]
    assert contacts[1].preview == "Как можно оплатить?"


async def test_a_customer_back_who_only_says_hello_is_greeted_once(app: Client, clock: Clock) -> None:
    """A greeting is greeted back: with where they left off when there is
    something to go on with, never with two hellos one under the other."""
    first = await bot_answer(app, clock, "whatsapp", whatsapp_form("Сколько идет доставка?"))
    assert first.core.bot["intent"] == "delivery_time"
    clock.now = T0 + timedelta(days=1)
    back = await bot_answer(app, clock, "whatsapp", whatsapp_form("Здравствуйте!"))
    assert back.text == f"Здравствуйте, {NAME}! Вы писали нам 1 день назад в WhatsApp о сроках доставки — продолжим?"
    assert back.core.bot["kind"] == "greeting"
    clock.now += timedelta(minutes=1)  # within the pause: the bot's own greeting, the conversation still its own
    again = await bot_answer(app, clock, "whatsapp", whatsapp_form("Привет"))
    assert again.text == Messages().greeting["ru"]


async def test_an_identity_linked_without_proof_is_not_greeted_nor_told_the_other_sides_past(
    app: Client, clock: Clock,
) -> None:
    router, store = app.app[ROUTER], app.app[STORE]
    await bot_answer(app, clock, "whatsapp", whatsapp_form("Сколько идет доставка?"))
    # a question the bot answers: the visitor's conversation stays with it (a greeting alone is handed
    # to people, and a merge keeps the conversation people are waiting on)
    visitor = InboundMessage(channel="webchat", external_id="w-1", sender=IdentityRef(kind="webchat", value="v-1"),
                             text="Во сколько вы открываетесь?")
    accepted = await router.on_message(visitor)
    await settle(router)
    owner = await store.find_identity(IdentityRef(kind="whatsapp", value=CUSTOMER))
    site = await store.find_identity(IdentityRef(kind="webchat", value="v-1"))
    assert owner is not None and site is not None and owner.id != site.id
    agent = await store.create_agent("ann", "Ann", Role.AGENT, "x")
    # an agent's word: no proof
    await merger(router).merge_customers(owner.id, site.id, agent, "the same person, I think")

    clock.now = T0 + timedelta(days=1)
    # the visitor's own name: it becomes the profile's name, but is no proof of anything
    again = visitor.model_copy(update={"external_id": "w-2", "text": "Как можно оплатить?",
                                       "sender_name": "Мария Сидорова"})
    await router.on_message(again)
    await settle(router)
    messages = await store.customer_messages(owner.id, 100)
    answer = messages[-1]
    assert answer.author is Author.BOT and answer.channel == "webchat" and answer.created_at == clock.now
    assert answer.core.bot["intent"] == "payment"  # answered, as anyone
    for secret in (NAME, "Иван", "WhatsApp", "доставк", "Здравствуйте", "Вы писали"):
        assert secret not in answer.text, answer.text
    assert accepted.conversation_id is not None

    # the proven side, back after the pause by SMS (the same number: proven by the platform),
    # is still greeted: the check is per identity
    clock.now = T0 + timedelta(days=2)
    back = await bot_answer(app, clock, "sms", sms_form("Сроки доставки в регионы"))
    assert back.text.startswith(
        f"Здравствуйте, {NAME}! Вы писали нам 2 дня назад в WhatsApp о сроках доставки — продолжим?\n\n"), back.text
    # the name the unproven side gave is the profile's now (an SMS carries none), and is never
    # said to the proven side: its name is the one its own platform gave
    assert (await store.get_customer(owner.id)).display_name == "Мария Сидорова"
    assert "Мария" not in back.text


async def test_a_turn_with_an_unproven_identitys_message_in_it_recalls_nothing(app: Client, clock: Clock) -> None:
    """The greeting is for whoever the answer goes to: the last writer. A
    verified WhatsApp message and a site-chat one of the same customer
    (linked by an agent, unproven) in one turn: the site chat hears nothing
    of the WhatsApp side."""
    router, store = app.app[ROUTER], app.app[STORE]
    await bot_answer(app, clock, "whatsapp", whatsapp_form("Сколько идет доставка?"))
    # a question the bot answers: the visitor's conversation stays with it (a greeting alone is handed
    # to people, and a merge keeps the conversation people are waiting on)
    visitor = InboundMessage(channel="webchat", external_id="w-1", sender=IdentityRef(kind="webchat", value="v-1"),
                             text="Во сколько вы открываетесь?")
    await router.on_message(visitor)
    await settle(router)
    owner = await store.find_identity(IdentityRef(kind="whatsapp", value=CUSTOMER))
    site = await store.find_identity(IdentityRef(kind="webchat", value="v-1"))
    assert owner is not None and site is not None
    agent = await store.create_agent("ann", "Ann", Role.AGENT, "x")
    await merger(router).merge_customers(owner.id, site.id, agent, "the same person, I think")
    await settle(router)  # the merge's own turn (nothing to answer) ends before this test stages its own

    clock.now = T0 + timedelta(days=1)
    # both write before the bot's turn: WhatsApp (verified) first, the site chat last
    desk, router.ingest.bot_desk = router.ingest.bot_desk, None
    assert desk is not None
    await post(app, "whatsapp", whatsapp_form("Когда привезут заказ?"))
    accepted = await router.on_message(visitor.model_copy(update={"external_id": "w-2", "text": "Как оплатить?"}))
    router.ingest.bot_desk = desk
    assert accepted.conversation_id is not None
    await desk.turn(accepted.conversation_id)
    answer = (await store.customer_messages(owner.id, 100))[-1]
    assert answer.author is Author.BOT and answer.channel == "webchat"
    assert answer.core.bot["kind"] == "answer"
    for secret in (NAME, "Иван", "WhatsApp", "Вы писали", "Здравствуйте"):
        assert secret not in answer.text, answer.text


async def test_a_turn_with_a_code_offer_beside_it_greets_by_name_but_asks_no_shall_we_continue(
    app: Client, clock: Clock,
) -> None:
    """«нет» after the turn must mean one thing: no to the code."""
    await bot_answer(app, clock, "whatsapp", whatsapp_form("Сколько идет доставка?"))
    clock.now = T0 + timedelta(days=1)
    back = await bot_answer(app, clock, "whatsapp", whatsapp_form("Можно оплатить картой? Моя почта ivan@example.org"))
    store = app.app[STORE]
    told = [m.text for m in await store.customer_messages(back.customer_id or "", 100) if m.author is Author.BOT]
    assert told[-2].startswith("Если адрес ivan@example.org уже есть у нас"), told  # the offer, aside
    assert back.text.startswith(f"Здравствуйте, {NAME}!\n\n"), told
    assert "продолжим" not in back.text, told
    assert back.core.bot["kind"] == "answer"  # answered, not handed off


async def test_an_aside_before_the_pause_leaves_the_greeting_whole(app: Client, clock: Clock) -> None:
    """«Спасибо, номер сохранили» (said aside to a shared contact) before the pause
    took "where you left off" from the next day's greeting: only this turn's asides count."""
    router = app.app[ROUTER]
    first = await bot_answer(app, clock, "whatsapp", whatsapp_form("Сколько идет доставка?"))
    # the platform's proof of the number, without words (Telegram's contact of one's own, say)
    await router.on_message(InboundMessage(channel="whatsapp", external_id="proof-1", text="",
                                           sender=IdentityRef(kind="whatsapp", value=CUSTOMER),
                                           description="[contact]", proven_phone=CUSTOMER.removeprefix("whatsapp:")))
    await settle(router)
    said = [m for m in await app.app[STORE].customer_messages(first.customer_id or "", 100)
            if m.author is not Author.CUSTOMER]
    assert said[-1].core.aside, [m.text for m in said]
    clock.now = T0 + timedelta(days=1)
    back = await bot_answer(app, clock, "whatsapp", whatsapp_form("Можно оплатить картой?"))
    assert back.text.startswith(
        f"Здравствуйте, {NAME}! Вы писали нам 1 день назад в WhatsApp о сроках доставки — продолжим?\n\n"), back.text
