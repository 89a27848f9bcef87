"""A customer who swears is angry: the rules' asked_for_human and the bot
hand the conversation to people (router.swearing, read by router.human_request).
Before, «заебали, верните деньги» got the returns FAQ, «какого хрена заказ до
сих пор не пришёл» the order-status one, and "wtf where is my fucking order"
its canned answer too: an angry customer left with a bot."""

from __future__ import annotations

import pytest

from router.bot import FaqBot, HandoffReason
from router.core import Router
from router.human_request import HumanRequest
from router.models import Author, ConversationStatus
from router.swearing import swearing
from tests.router.bot.conftest import say, turn

SWEARING = [
    "заебали, верните деньги", "какого хрена заказ до сих пор не пришёл", "вы мудаки, где доставка",
    "вы там совсем охренели? где мой заказ, блять", "ОХУЕЛИ?", "нихуя не пришло", "пиздец", "выёбываетесь",
    "отъебитесь", "долбоёбы", "Это просто говно, а не сервис", "сука где заказ", "ЗАЕБАЛИИИ",
    "wtf where is my fucking order", "this is bullshit", "shit service",
]
# words that hold a root's letters and swear at nobody
CLEAN = [
    "застрахуйте посылку", "себестоимость доставки", "хлеба нет", "небо", "требую возврат", "ребята, где заказ",
    "учеба", "мебель", "закажу на ebay", "Хуан", "служебный вход", "убедительно прошу", "скрапбукинг", "shiitake",
    "Сколько стоит доставка?", "I want a refund", "пока",
]


@pytest.mark.parametrize("text", SWEARING)
def test_swearing_asks_for_a_person(text: str) -> None:
    assert swearing(text) is not None
    assert HumanRequest().find(text) is not None


@pytest.mark.parametrize("text", CLEAN)
def test_clean_words_are_no_swearing(text: str) -> None:
    assert swearing(text) is None
    assert HumanRequest().find(text) is None


@pytest.mark.parametrize("text", ["заебали, верните деньги", "wtf where is my fucking order"])
def test_the_bot_hands_a_swearing_customer_to_people(faq: FaqBot, text: str) -> None:
    reply = faq.decide(turn(text))
    assert reply.reason is HandoffReason.ASKED_FOR_HUMAN, reply


@pytest.mark.parametrize(("text", "told"), [
    ("заебали, верните деньги", "Передаю ваш вопрос коллеге — он скоро ответит здесь же."),
    ("wtf where is my fucking order", "I am passing your question to a colleague, who will answer here soon."),
])
async def test_a_swearing_customer_reaches_people_and_is_told_so(router: Router, text: str, told: str) -> None:
    accepted = await router.on_message(say(1, text))
    assert router.bot_desk is not None
    await router.bot_desk.drain()
    conv = await router.store.get_conversation(accepted.conversation_id)
    assert conv.status is ConversationStatus.QUEUED
    trace = await router.store.conversation_route(conv.id)
    assert trace is not None and trace.facts["asked_for_human"] is True
    messages = await router.store.list_messages(conv.id, 10)
    assert [m.text for m in messages if m.author is Author.BOT] == [told]
