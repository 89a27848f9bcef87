"""Telegram's own way to know a customer: a contact of the sender's own
account is proven by Telegram and links at once; the bot can ask for it with
the request-contact button.

The whole service runs against the local fakes of the Telegram Bot API and of
Twilio (WhatsApp); updates are shaped as Telegram documents a Message with a
``contact`` (https://core.telegram.org/bots/api#contact: ``phone_number``,
often without "+", ``first_name``, ``user_id`` when it is a Telegram user's)."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from router.bus import Event, Subscription
from router.config import Settings
from router.models import Author, ConversationStatus, Customer, IdentityRef, Message
from router.server.app import BUS, ROUTER, STORE
from tests.conftest import HANG, eventually
from tests.connectors import test_telegram as tg
from tests.connectors import twilio_helpers as tw
from tests.connectors.two_channels import serve
from tests.fakes.rasa_bot import FakeRasa
from tests.fakes.telegram_api import Call, FakeTelegram
from tests.fakes.twilio_api import FakeTwilio

Client = TestClient[web.Request, web.Application]
REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"
PHONE = "+79123456789"  # tw.CUSTOMER: the WhatsApp customer's number
OWN = {"phone_number": PHONE.lstrip("+"), "first_name": "Ivan", "last_name": "Petrov", "user_id": tg.USER}
OTHER_USER = 6667777


# -- fixtures ----------------------------------------------------------------------------------


Maker = Callable[..., Awaitable[Client]]


@pytest.fixture
def start(both: Settings, aiohttp_client: Callable[..., Awaitable[Client]], tmp_path: Path) -> Maker:
    """The whole service with both connectors; ``config_dir`` for rules, a bot and identity.yaml.
    ``both`` (the settings) before the apps, so torn down after them: on PostgreSQL it holds the
    test's database, which would otherwise be dropped while the app's outbox still uses it."""

    async def make(config_dir: Path | None = None) -> Client:
        return await serve(aiohttp_client, both, config_dir, tmp_path)

    return make


@pytest.fixture
async def svc(start: Maker) -> Client:
    return await start()


# -- helpers ---------------------------------------------------------------------------------------


async def whatsapp(client: Client, body: str, sender: str = PHONE) -> None:
    assert await tw.post(client, "whatsapp", tw.whatsapp_form(body, sender=sender)) == 200


async def telegram(client: Client, message_id: int, user_id: int = tg.USER, **fields: Any) -> None:
    assert await tg.post(client, tg.update(message=tg.message(message_id, user_id, **fields))) == 200


async def customer_of(client: Client, kind: str, value: str) -> Customer:
    found = await client.app[STORE].find_identity(IdentityRef(kind=kind, value=value))
    assert found is not None
    return found


async def console(client: Client) -> aiohttp.ClientSession:
    return await tw.console(client)


async def api(http: aiohttp.ClientSession, method: str, path: str, body: Any = None) -> Any:
    async with http.request(method, path, json=body) as resp:
        assert resp.status in (200, 201), await resp.text()
        return await resp.json()


# -- a contact of one's own links at once ------------------------------------------------------------


async def test_an_own_contact_joins_the_whatsapp_customer_and_one_conversation_goes_on(svc: Client,
                                                                                      tg_api: FakeTelegram) -> None:
    await whatsapp(svc, "Где мой заказ 1042?")
    known = await customer_of(svc, "whatsapp", PHONE)
    await telegram(svc, 1, text="Здравствуйте, это снова я")
    assert (await customer_of(svc, "telegram", str(tg.USER))).id != known.id  # nothing proven yet

    await telegram(svc, 2, contact=OWN)
    assert (await customer_of(svc, "telegram", str(tg.USER))).id == known.id
    http = await console(svc)
    try:
        detail = await api(http, "GET", f"/api/customers/{known.id}")
        kinds = {i["ref"]["kind"]: i for i in detail["identities"]}
        assert kinds["telegram"]["key"] == f"phone:{PHONE}" and kinds["telegram"]["verified"]
        assert [m["source"] for m in detail["merges"]] == ["platform"]
        assert [c["verified_at"] is not None for c in detail["claims"]] == [True]
        opened = [c for c in detail["conversations"] if c["status"] != ConversationStatus.RESOLVED.value]
        assert len(opened) == 1
        shown = (await api(http, "GET", f"/api/conversations/{opened[0]['id']}/messages"))["messages"]
        assert [(m["channel"], m["text"]) for m in shown if m["author"] == "customer"] == [
            ("whatsapp", "Где мой заказ 1042?"), ("telegram", "Здравствуйте, это снова я"), ("telegram", "")]
        # the agent answers where the customer wrote last: Telegram
        await api(http, "POST", f"/api/conversations/{opened[0]['id']}/messages", {"text": "Заказ в пути"})
        sent = await eventually(lambda: _sent_text(tg_api, "Заказ в пути"), "the reply on Telegram")
        assert int(sent.params["chat_id"]) == tg.USER
    finally:
        await http.close()


async def _sent_text(fake: FakeTelegram, text: str) -> Call | None:
    return next((c for c in fake.sent("sendMessage") if c.params.get("text") == text), None)


async def test_the_console_hears_of_the_link_as_it_happens(svc: Client) -> None:
    await whatsapp(svc, "Привет")
    known = await customer_of(svc, "whatsapp", PHONE)
    async with svc.app[BUS].subscribe() as sub:
        await telegram(svc, 1, contact=OWN)
        merged = await eventually(lambda: _next_of(sub, "customer.merged"), "the merge event")
    assert merged.data["merge"]["survivor_id"] == known.id and merged.data["merge"]["source"] == "platform"


async def _next_of(sub: Subscription, kind: str) -> Event | None:
    while not sub.queue.empty():
        event = sub.queue.get_nowait()
        if event is not None and event.type == kind:
            return event
    await asyncio.sleep(0)
    return None


async def test_a_redelivered_contact_links_once(svc: Client) -> None:
    await whatsapp(svc, "Привет")
    known = await customer_of(svc, "whatsapp", PHONE)
    body = tg.update(message=tg.message(2, contact=OWN))
    assert await tg.post(svc, body) == 200
    assert await tg.post(svc, body) == 200  # Telegram retries when it missed our answer
    [merge] = await svc.app[STORE].customer_merges(known.id)
    assert [e.action for e in await svc.app[STORE].identity_audit(known.id, 10)] == ["merge"]
    # the proof is recorded once, on the Telegram customer it was given to
    assert [(e.action, e.source) for e in await svc.app[STORE].identity_audit(merge.merged_id, 10)] == [
        ("merge", "platform"), ("link", "platform")]


async def test_someone_elses_contact_never_links_nor_claims(svc: Client) -> None:
    await whatsapp(svc, "Привет")
    known = await customer_of(svc, "whatsapp", PHONE)
    # a friend's card (their user_id), and a card typed from the address book (no user_id)
    await telegram(svc, 1, user_id=OTHER_USER, contact=OWN)
    await telegram(svc, 2, user_id=OTHER_USER, contact={k: v for k, v in OWN.items() if k != "user_id"})
    stranger = await customer_of(svc, "telegram", str(OTHER_USER))
    assert stranger.id != known.id
    assert await svc.app[STORE].customer_claims(stranger.id) == []
    assert await svc.app[STORE].customer_merges(known.id) == []
    assert {i.key for i in await svc.app[STORE].customer_identities(stranger.id)} == {None}


async def test_an_own_contact_of_a_blocked_number_links_nothing(svc: Client) -> None:
    await telegram(svc, 1, contact={**OWN, "phone_number": "79990001234"})  # config/identity.yaml blocks +7999000*
    customer = await customer_of(svc, "telegram", str(tg.USER))
    assert await svc.app[STORE].customer_claims(customer.id) == []
    assert {i.key for i in await svc.app[STORE].customer_identities(customer.id)} == {None}


async def test_the_link_is_undone_exactly_by_the_ordinary_unmerge(svc: Client) -> None:
    await whatsapp(svc, "Где мой заказ 1042?")
    known = await customer_of(svc, "whatsapp", PHONE)
    await telegram(svc, 1, text="Это я из телеграма")
    mine = await customer_of(svc, "telegram", str(tg.USER))
    before = await _histories(svc, known.id, mine.id)
    await telegram(svc, 2, contact=OWN)
    [merge] = await svc.app[STORE].customer_merges(known.id)
    http = await console(svc)
    try:
        await api(http, "POST", f"/api/merges/{merge.id}/undo", {"reason": "разные люди"})
    finally:
        await http.close()
    assert (await customer_of(svc, "telegram", str(tg.USER))).id == mine.id
    after = await _histories(svc, known.id, mine.id)
    # each side has what it had, and the contact went back to whoever sent it
    assert after[0] == before[0]
    assert after[1] == [*before[1], ("telegram", "")]


async def _histories(client: Client, *customer_ids: str) -> list[list[tuple[str, str]]]:
    out = []
    for cid in customer_ids:
        messages = await client.app[STORE].customer_messages(cid, 100)
        out.append([(m.channel, m.text) for m in messages if m.author is Author.CUSTOMER])
    return out


async def test_a_later_whatsapp_message_from_the_proven_number_joins_the_telegram_customer(svc: Client) -> None:
    await telegram(svc, 1, text="Добрый день")
    await telegram(svc, 2, contact=OWN)
    mine = await customer_of(svc, "telegram", str(tg.USER))
    await whatsapp(svc, "Пишу теперь из WhatsApp")
    assert (await customer_of(svc, "whatsapp", PHONE)).id == mine.id
    messages: list[Message] = await svc.app[STORE].customer_messages(mine.id, 100)
    assert len({m.conversation_id for m in messages}) == 1
    assert [m.channel for m in messages if m.author is Author.CUSTOMER] == ["telegram", "telegram", "whatsapp"]


# -- the bot asks with the request-contact button ---------------------------------------------------------


@pytest.fixture
async def rasa() -> AsyncIterator[FakeRasa]:
    async with FakeRasa() as fake:
        yield fake


def bot_config(tmp_path: Path, rasa: FakeRasa, ask_phone: bool) -> Path:
    """The shipped rules (chat questions go to the bot), a bot behind Rasa's REST channel, and identity.yaml."""
    config = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, config)
    (config / "bot.yaml").write_text(f"engine: external\nexternal:\n  url: {rasa.webhook_url}\n")
    identity = (config / "identity.yaml").read_text()
    assert "\nask_phone: false\n" in identity  # off as shipped
    setting = f"\nask_phone: {str(ask_phone).lower()}\n"
    (config / "identity.yaml").write_text(identity.replace("\nask_phone: false\n", setting))
    return config


def asks(fake: FakeTelegram) -> list[Call]:
    return [c for c in fake.sent("sendMessage") if "reply_markup" in c.params]


async def test_the_bot_asks_once_with_the_request_contact_button(start: Maker, tg_api: FakeTelegram,
                                                                rasa: FakeRasa, twilio_api: FakeTwilio,
                                                                tmp_path: Path) -> None:
    svc = await start(bot_config(tmp_path, rasa, ask_phone=True))
    await telegram(svc, 1, text="Какие у вас часы работы?")
    [ask] = await eventually(lambda: _some(asks(tg_api)), "the phone request")
    assert int(ask.params["chat_id"]) == tg.USER
    assert ask.params["reply_markup"] == {
        "keyboard": [[{"text": "Поделиться номером", "request_contact": True}]],
        "resize_keyboard": True, "one_time_keyboard": True,
    }
    assert "Поделиться номером" in ask.params["text"]
    await eventually(lambda: _some(rasa.requests), "the bot's answer")
    # a later conversation with the bot: not asked again
    customer = await customer_of(svc, "telegram", str(tg.USER))
    await _resolve_all(svc, customer.id)
    await telegram(svc, 2, text="И ещё вопрос")
    await eventually(lambda: _some(rasa.requests[1:]), "the bot's second answer")
    assert len(await svc.app[STORE].customer_conversations(customer.id)) == 2
    # WhatsApp cannot ask with a button: its customers are not asked there
    await whatsapp(svc, "What are your opening hours?")
    await eventually(lambda: _some(rasa.requests[2:]), "the bot's answer on WhatsApp")
    assert not await svc.app[STORE].automatic_sent((await customer_of(svc, "whatsapp", PHONE)).id, "ask_phone")
    # the customer presses the button: Telegram sends their own contact, which links
    await telegram(svc, 3, contact=OWN)
    assert (await customer_of(svc, "telegram", str(tg.USER))).id == (await customer_of(svc, "whatsapp", PHONE)).id
    assert len(asks(tg_api)) == 1


async def _resolve_all(client: Client, customer_id: str) -> None:
    for conversation in await client.app[STORE].customer_conversations(customer_id):
        await client.app[STORE].set_conversation_state(conversation.id, ConversationStatus.RESOLVED, None,
                                                       conversation.updated_at)


async def _some(items: list[Any]) -> list[Any] | None:
    return list(items) or None


async def test_the_bot_does_not_ask_unless_an_admin_turns_it_on(start: Maker, tg_api: FakeTelegram,
                                                              rasa: FakeRasa, tmp_path: Path) -> None:
    svc = await start(bot_config(tmp_path, rasa, ask_phone=False))
    await telegram(svc, 1, text="What are your opening hours?")
    await eventually(lambda: _some(tg_api.sent("sendMessage")), "the bot's answer")
    assert asks(tg_api) == []
    customer = await customer_of(svc, "telegram", str(tg.USER))
    assert not await svc.app[STORE].automatic_sent(customer.id, "ask_phone")


async def test_a_customer_whose_phone_is_proven_is_not_asked(start: Maker, tg_api: FakeTelegram,
                                                            rasa: FakeRasa, tmp_path: Path) -> None:
    svc = await start(bot_config(tmp_path, rasa, ask_phone=True))
    await telegram(svc, 1, contact=OWN)
    await telegram(svc, 2, text="What are your opening hours?")
    await eventually(lambda: _some(tg_api.sent("sendMessage")), "the bot's answer")
    assert asks(tg_api) == []
    customer = await customer_of(svc, "telegram", str(tg.USER))
    assert not await svc.app[STORE].automatic_sent(customer.id, "ask_phone")


# -- a proven phone is a channel a code can go to ------------------------------------------------------------


async def test_a_code_for_the_proven_phone_goes_to_the_telegram_chat(svc: Client, tg_api: FakeTelegram,
                                                                     twilio_api: FakeTwilio) -> None:
    await telegram(svc, 1, text="Добрый день")
    await telegram(svc, 2, contact=OWN)
    mine = await customer_of(svc, "telegram", str(tg.USER))
    # someone on another WhatsApp number says the phone is theirs
    await whatsapp(svc, "Мой номер 8 912 345-67-89", sender="+79161234567")
    claimant = await customer_of(svc, "whatsapp", "+79161234567")
    assert claimant.id != mine.id
    # the bot offers a code by itself (self-service, on as shipped); an agent's
    # "Send code" takes the same path (tests/router/identity/test_flow.py)
    code = await eventually(lambda: _code_sent(tg_api), "the code on Telegram")
    assert int(code.params["chat_id"]) == tg.USER  # the proven holder of the phone gets it
    assert all(_CODE.search(c.get("Body") or "") is None for c in twilio_api.sent())
    # the right code typed on WhatsApp proves the claimant holds that Telegram account
    digits = code.params["text"].split(": ", 1)[1].split(".", 1)[0]
    await whatsapp(svc, digits, sender="+79161234567")
    assert (await customer_of(svc, "whatsapp", "+79161234567")).id == mine.id


# the code message, in the holder's language (config/identity.yaml verification.text)
_CODE = re.compile(r"(?:verification code|код подтверждения): \d{6}")


async def _code_sent(fake: FakeTelegram) -> Call | None:
    return next((c for c in fake.sent("sendMessage") if _CODE.search(str(c.params.get("text")))), None)


async def test_an_english_speaker_is_asked_in_english(start: Maker, tg_api: FakeTelegram, rasa: FakeRasa,
                                                      tmp_path: Path) -> None:
    svc = await start(bot_config(tmp_path, rasa, ask_phone=True))
    await telegram(svc, 1, text="Hi, do you deliver on Sundays?")
    [ask] = await eventually(lambda: _some(asks(tg_api)), "the phone request")
    assert ask.params["reply_markup"]["keyboard"] == [[{"text": "Share my phone number", "request_contact": True}]]
    assert ask.params["text"].startswith("So that we know you on every channel")
    # and the bot answers the question itself
    await eventually(lambda: _some([c for c in tg_api.sent("sendMessage") if "Sundays" in str(c.params.get("text"))]),
                     "the bot's answer")


# -- the button's answer is ours to answer, never the bot's --------------------------------------------------------

LINKED_RU = "Готово: мы связали ваши обращения. Продолжим с того места, где вы остановились."
SAVED_RU = "Спасибо, номер сохранили."


async def _settled(client: Client) -> None:
    desk = client.app[ROUTER].bot_desk
    assert desk is not None
    await desk.drain()


def _texts_to_customer(fake: FakeTelegram) -> list[str]:
    return [str(c.params["text"]) for c in fake.sent("sendMessage") if int(c.params["chat_id"]) == tg.USER]


async def _told(client: Client, count: int) -> list[str] | None:
    """What the bot said on Telegram, in order, once it is ``count`` messages."""
    mine = await customer_of(client, "telegram", str(tg.USER))
    told = [m.text for m in await client.app[STORE].customer_messages(mine.id, 100)
            if m.channel == "telegram" and m.author is Author.BOT]
    return told if len(told) >= count else None


async def _open_status(client: Client, customer_id: str) -> ConversationStatus:
    [opened] = [c for c in await client.app[STORE].customer_conversations(customer_id)
                if c.status is not ConversationStatus.RESOLVED]
    return opened.status


async def test_pressing_the_button_links_and_the_customer_hears_so_in_their_language_not_from_an_agent(
        start: Maker, tg_api: FakeTelegram, rasa: FakeRasa, tmp_path: Path) -> None:
    svc = await start(bot_config(tmp_path, rasa, ask_phone=True))
    await whatsapp(svc, "Где мой заказ 1042?")
    await telegram(svc, 1, text="Здравствуйте, подскажите часы работы")
    await eventually(lambda: _some(asks(tg_api)), "the phone request")
    await _settled(svc)
    asked = len(rasa.requests)

    await telegram(svc, 2, contact=OWN)  # the customer presses "Поделиться номером"
    await eventually(lambda: _some([t for t in _texts_to_customer(tg_api) if t == LINKED_RU]), "the link's answer")
    await _settled(svc)
    known = await customer_of(svc, "whatsapp", PHONE)
    assert (await customer_of(svc, "telegram", str(tg.USER))).id == known.id
    # nobody was handed the customer for a message without words, and the bot was not asked about it
    assert await _open_status(svc, known.id) is ConversationStatus.BOT
    assert len(rasa.requests) == asked
    assert _texts_to_customer(tg_api)[-1] == LINKED_RU
    # the answer reached the console too, in the conversation that was kept
    [said] = [m for m in await svc.app[STORE].customer_messages(known.id, 100) if m.text == LINKED_RU]
    assert said.channel == "telegram" and said.author is Author.BOT


async def test_a_button_press_that_links_nobody_is_thanked(start: Maker, tg_api: FakeTelegram, rasa: FakeRasa,
                                                           tmp_path: Path) -> None:
    svc = await start(bot_config(tmp_path, rasa, ask_phone=True))
    await telegram(svc, 1, text="Здравствуйте, подскажите часы работы")
    await eventually(lambda: _some(asks(tg_api)), "the phone request")
    await _settled(svc)
    asked = len(rasa.requests)
    await telegram(svc, 2, contact=OWN)
    await eventually(lambda: _some([t for t in _texts_to_customer(tg_api) if t == SAVED_RU]), "the thanks")
    await _settled(svc)
    mine = await customer_of(svc, "telegram", str(tg.USER))
    assert await _open_status(svc, mine.id) is ConversationStatus.BOT and len(rasa.requests) == asked
    # and the next question is the bot's as usual, which reads no empty message into it
    await telegram(svc, 3, text="А в субботу?")
    await eventually(lambda: _some(rasa.requests[asked:]), "the bot's answer")
    assert [r["message"] for r in rasa.requests[asked:]] == ["А в субботу?"]


async def test_the_bots_answer_to_the_question_before_the_button_survives_the_fold(
        start: Maker, tg_api: FakeTelegram, rasa: FakeRasa, tmp_path: Path) -> None:
    svc = await start(bot_config(tmp_path, rasa, ask_phone=False))
    await whatsapp(svc, "Где мой заказ 1042?")  # the older conversation: the one a fold keeps
    await _settled(svc)
    rasa.stall = True
    rasa.started.clear()
    await telegram(svc, 1, text="Когда вы открываетесь?")
    await asyncio.wait_for(rasa.started.wait(), HANG)  # the bot is thinking about it…
    await telegram(svc, 2, contact=OWN)  # …when the customer presses the button: the conversations fold
    rasa.release.set()
    await _settled(svc)
    await eventually(lambda: _some([t for t in _texts_to_customer(tg_api) if t == "You said: Когда вы открываетесь?"]),
                     "the bot's answer on Telegram")


async def test_a_typed_number_gets_one_offer_no_button_and_the_button_then_ends_the_offer(
        start: Maker, tg_api: FakeTelegram, rasa: FakeRasa, twilio_api: FakeTwilio, tmp_path: Path) -> None:
    svc = await start(bot_config(tmp_path, rasa, ask_phone=True))
    await whatsapp(svc, "Где мой заказ 1042?")
    await _settled(svc)
    asked = len(rasa.requests)
    await telegram(svc, 1, text="Мой номер 8 912 345-67-89, где заказ?")
    await _settled(svc)
    # what the customer receives: the offer, then the bot's answer; never the button for the number they gave
    got = await eventually(lambda: _told(svc, 2), "the offer and the answer")
    assert [t.startswith("Если номер +79123456789 уже есть у нас") for t in got] == [True, False], got
    assert got[1].startswith("You said: Мой номер")
    assert not await svc.app[STORE].automatic_sent((await customer_of(svc, "telegram", str(tg.USER))).id, "ask_phone")
    code = await eventually(lambda: _some([b for c in twilio_api.sent() if (b := _CODE.search(c.get("Body") or ""))]),
                            "the code on WhatsApp")
    digits = code[0].group(0).rsplit(" ", 1)[1]

    await telegram(svc, 2, contact=OWN)  # the button proves it at once: the code is needless now
    await eventually(lambda: _some([t for t in _texts_to_customer(tg_api) if t == LINKED_RU]), "the link's answer")
    mine = await customer_of(svc, "telegram", str(tg.USER))
    conversations = await svc.app[STORE].customer_conversations(mine.id)
    offers = [v for c in conversations for v in await svc.app[STORE].conversation_verifications(c.id)]
    assert [v.status for v in offers] == ["declined"]
    # digits typed later are an ordinary message: the bot's
    await telegram(svc, 3, text=digits)
    await _settled(svc)
    assert [r["message"] for r in rasa.requests[asked:]] == ["Мой номер 8 912 345-67-89, где заказ?", digits]


async def test_the_phone_request_says_what_identity_yaml_says(start: Maker, tg_api: FakeTelegram, rasa: FakeRasa,
                                                             tmp_path: Path) -> None:
    config = bot_config(tmp_path, rasa, ask_phone=True)
    with (config / "identity.yaml").open("a", encoding="utf-8") as f:
        f.write("phone_request:\n  text: {ru: \"Оставьте номер, пожалуйста\", en: \"Your number, please\"}\n"
                "  button: {ru: \"Дать номер\", en: \"Give my number\"}\n"
                "  saved: {ru: \"Номер у нас, спасибо\", en: \"Got your number, thanks\"}\n")
    svc = await start(config)
    await telegram(svc, 1, text="Здравствуйте, подскажите часы работы")
    [ask] = await eventually(lambda: _some(asks(tg_api)), "the phone request")
    assert ask.params["text"] == "Оставьте номер, пожалуйста"
    assert ask.params["reply_markup"]["keyboard"] == [[{"text": "Дать номер", "request_contact": True}]]
    await telegram(svc, 2, contact=OWN)
    await eventually(lambda: _some([t for t in _texts_to_customer(tg_api) if t == "Номер у нас, спасибо"]),
                     "the configured thanks")
