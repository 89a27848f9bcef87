"""Rasa's buttons, images and custom payloads through the whole pipeline: a
local bot speaking Rasa's REST channel, a real SQLite store, the real rules.

Before, a Rasa answer with buttons reached the customer as its text alone
(«Выберите:» and no choices, on every channel): they could not answer it.
Now the buttons are a numbered list in the text, and a reply picking one by
its number or title reaches Rasa as that button's payload, as a press would."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from router.bot import RasaBot
from router.bot.config import ExternalBot
from router.core import Router
from router.models import Author, ConversationStatus
from router.routing.rules import RulesRouting
from router.store.sqlite import SQLiteStore
from tests.conftest import HANG
from tests.fakes.rasa_bot import FakeRasa
from tests.router.bot.conftest import Clock, make_router, say

CHOOSE: list[dict[str, Any]] = [{"text": "Выберите:", "buttons": [
    {"title": "Доставка", "payload": "/delivery"},
    {"title": "Оплата", "payload": "/payment"},
]}]


def external(rasa: FakeRasa) -> RasaBot:
    return RasaBot(ExternalBot.model_validate({"url": rasa.webhook_url, "timeout": HANG}))


async def settle(router: Router) -> None:
    assert router.bot_desk is not None
    await router.bot_desk.drain()


async def bot_texts(store: SQLiteStore, conversation_id: str) -> list[str]:
    return [m.text for m in await store.list_messages(conversation_id, 50) if m.author is Author.BOT]


async def asked(store: SQLiteStore, routing: RulesRouting, clock: Clock, rasa: FakeRasa,
                answer: list[dict[str, Any]], *replies: str) -> tuple[str, list[str]]:
    """The customer writes, the bot answers ``answer``, then the customer
    sends each of ``replies`` in turn (the bot echoes them): the
    conversation, and what the bot was sent for each reply."""
    rasa.script = [answer]
    async with external(rasa) as bot:
        router = make_router(store, routing, clock, bot, None)
        accepted = await router.on_message(say(1, "хочу спросить"))
        await settle(router)
        for n, reply in enumerate(replies, 2):
            await router.on_message(say(n, reply))
            await settle(router)
    conversation_id = str(accepted.conversation_id)
    assert (await store.get_conversation(conversation_id)).status is ConversationStatus.BOT
    return conversation_id, [r["message"] for r in rasa.requests[1:]]


async def test_the_buttons_reach_the_customer_as_a_numbered_list_in_the_text(
    store: SQLiteStore, routing: RulesRouting, clock: Clock, rasa: FakeRasa
) -> None:
    conversation_id, _ = await asked(store, routing, clock, rasa, CHOOSE)
    assert await bot_texts(store, conversation_id) == ["Выберите:\n1) Доставка\n2) Оплата"]
    # that text is what every channel's connector is handed
    [entry] = await store.pending_outbox(10)
    assert entry.payload.text == "Выберите:\n1) Доставка\n2) Оплата"


@pytest.mark.parametrize("reply", ["2", "2.", "вариант 2", "второй", "the second one", "Оплата", "оплата!", "ОПЛАТА"])
async def test_a_pick_by_number_or_title_is_sent_as_the_buttons_payload(
    store: SQLiteStore, routing: RulesRouting, clock: Clock, rasa: FakeRasa, reply: str
) -> None:
    conversation_id, sent = await asked(store, routing, clock, rasa, CHOOSE, reply)
    assert sent == ["/payment"]
    assert (await bot_texts(store, conversation_id))[-1] == "You said: /payment"


@pytest.mark.parametrize("reply", ["3", "оплата картой", "а сколько стоит доставка?", "0"])
async def test_anything_else_is_sent_as_typed(
    store: SQLiteStore, routing: RulesRouting, clock: Clock, rasa: FakeRasa, reply: str
) -> None:
    _, sent = await asked(store, routing, clock, rasa, CHOOSE, reply)
    assert sent == [reply]


async def test_the_buttons_hold_until_the_bots_next_answer_only(
    store: SQLiteStore, routing: RulesRouting, clock: Clock, rasa: FakeRasa
) -> None:
    # the echo after the pick offers no buttons: a later "1" is the customer's words again
    _, sent = await asked(store, routing, clock, rasa, CHOOSE, "1", "1")
    assert sent == ["/delivery", "1"]


async def test_the_buttons_survive_a_restart(
    store: SQLiteStore, routing: RulesRouting, clock: Clock, rasa: FakeRasa
) -> None:
    """They are kept with the bot's stored message, not in the process: a
    restarted node (or another one of a cluster) reads the pick the same way."""
    conversation_id, _ = await asked(store, routing, clock, rasa, CHOOSE)
    async with external(rasa) as bot:
        restarted = make_router(store, routing, clock, bot, None)
        await restarted.on_message(say(2, "доставка"))
        await settle(restarted)
    assert rasa.requests[-1] == {"sender": conversation_id, "message": "/delivery"}


async def test_a_button_without_a_title_shows_its_payload(
    store: SQLiteStore, routing: RulesRouting, clock: Clock, rasa: FakeRasa
) -> None:
    answer = [{"text": "Оцените ответ", "buttons": [{"payload": "/affirm"}, {"title": "  ", "payload": "/deny"},
                                                     {"title": "Позже", "payload": "/later"}]}]
    conversation_id, sent = await asked(store, routing, clock, rasa, answer, "2")
    assert (await bot_texts(store, conversation_id))[0] == "Оцените ответ\n1) /affirm\n2) /deny\n3) Позже"
    assert sent == ["/deny"]


async def test_more_than_ten_buttons_are_all_offered_and_picked_by_number(
    store: SQLiteStore, routing: RulesRouting, clock: Clock, rasa: FakeRasa
) -> None:
    cities = [{"title": f"Город {n}", "payload": f'/city{{"n": {n}}}'} for n in range(1, 13)]
    conversation_id, sent = await asked(store, routing, clock, rasa, [{"text": "Ваш город?", "buttons": cities}],
                                        "12", "11")
    shown = (await bot_texts(store, conversation_id))[0].split("\n")
    assert shown[0] == "Ваш город?" and shown[1:] == [f"{n}) Город {n}" for n in range(1, 13)]
    # "12" is the twelfth, not the first or second; the echo offered nothing, so "11" is words again
    assert sent == ['/city{"n": 12}', "11"]


async def test_malformed_buttons_are_left_out_and_the_text_kept(
    store: SQLiteStore, routing: RulesRouting, clock: Clock, rasa: FakeRasa
) -> None:
    answer: list[dict[str, Any]] = [
        {"text": "Выберите:", "buttons": ["Доставка", None, 42, {"title": "Без payload"}, {"title": "x", "payload": 7},
                                          {"title": ["x"], "payload": "/list_title"},
                                          {"title": "Оплата", "payload": "/payment"}]},
        {"text": "Ещё вопрос", "buttons": {"title": "not a list", "payload": "/nope"}},
    ]
    conversation_id, sent = await asked(store, routing, clock, rasa, answer, "оплата")
    assert await bot_texts(store, conversation_id) == [
        "Выберите:\n1) /list_title\n2) Оплата", "Ещё вопрос", "You said: /payment"]
    assert sent == ["/payment"]


async def test_buttons_of_several_messages_are_numbered_on(
    store: SQLiteStore, routing: RulesRouting, clock: Clock, rasa: FakeRasa
) -> None:
    answer: list[dict[str, Any]] = [
        {"text": "Что вас интересует?", "buttons": [{"title": "Доставка", "payload": "/delivery"}]},
        {"buttons": [{"title": "Оплата", "payload": "/payment"}]},
    ]
    conversation_id, sent = await asked(store, routing, clock, rasa, answer, "2")
    assert await bot_texts(store, conversation_id) == [
        "Что вас интересует?\n1) Доставка", "2) Оплата", "You said: /payment"]
    assert sent == ["/payment"]


async def test_an_image_is_sent_as_its_link_and_a_custom_payload_is_skipped(
    store: SQLiteStore, routing: RulesRouting, clock: Clock, rasa: FakeRasa, caplog: pytest.LogCaptureFixture
) -> None:
    answer: list[dict[str, Any]] = [{"text": "Вот схема проезда"}, {"image": "https://example.com/map.png"},
              {"custom": {"blocks": [{"type": "datepicker"}]}}, {"attachment": "https://example.com/price.pdf"},
              {"image": "/srv/rasa/local.png"}]
    with caplog.at_level(logging.DEBUG, logger="router.bot.rasa"):
        conversation_id, _ = await asked(store, routing, clock, rasa, answer)
    assert await bot_texts(store, conversation_id) == [
        "Вот схема проезда", "https://example.com/map.png", "https://example.com/price.pdf"]
    assert any("custom payload" in r.getMessage() for r in caplog.records)


async def test_an_answer_of_a_custom_payload_alone_goes_to_people(
    store: SQLiteStore, routing: RulesRouting, clock: Clock, rasa: FakeRasa
) -> None:
    rasa.script = [[{"custom": {"blocks": []}}]]
    async with external(rasa) as bot:
        router = make_router(store, routing, clock, bot, None)
        accepted = await router.on_message(say(1, "хочу спросить"))
        await settle(router)
    conv = await store.get_conversation(str(accepted.conversation_id))
    assert conv.status is ConversationStatus.QUEUED
    assert conv.route_reason is not None and "had no answer" in conv.route_reason
