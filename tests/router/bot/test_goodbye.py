"""A goodbye with no thanks («Всё, пока», «Понятно, до свидания», "bye") is
said goodbye back and the conversation stays with the bot. Before, it went
to people as low_confidence («Передаю ваш вопрос коллеге…»): the customer
who was leaving was told a colleague would answer, and an agent was called
to read a goodbye."""

from __future__ import annotations

import pytest

from router.bot import FaqBot, HandoffReason, ReplyKind
from router.bot.config import Messages
from router.core import Router
from router.models import Author, ConversationStatus
from tests.router.bot.conftest import say, turn

GOODBYE = Messages().goodbye


@pytest.mark.parametrize(("text", "language"), [
    ("Всё, пока", "ru"), ("пока", "ru"), ("Понятно, до свидания", "ru"), ("До свидания!", "ru"),
    ("ок, всего доброго", "ru"), ("Хорошего дня 🙂", "ru"), ("poka", "ru"),
    ("bye", "en"), ("ok, goodbye", "en"), ("Got it, see you", "en"),
])
def test_a_goodbye_alone_is_said_goodbye_back(faq: FaqBot, text: str, language: str) -> None:
    reply = faq.decide(turn(text))
    assert (reply.kind, reply.reason, reply.texts) == (ReplyKind.GOODBYE, None, [GOODBYE[language]]), reply


def test_a_goodbye_with_thanks_is_a_thanks(faq: FaqBot) -> None:
    reply = faq.decide(turn("Спасибо, до свидания"))
    assert (reply.kind, reply.texts) == (ReplyKind.THANKS, [Messages().thanks["ru"]])


@pytest.mark.parametrize("text", ["пока не пришёл заказ", "Пока, а когда привезут заказ?"])
def test_a_goodbye_with_a_question_is_the_question(faq: FaqBot, text: str) -> None:
    """«пока» is also "yet": a message that says more is no goodbye."""
    assert faq.decide(turn(text)).kind is not ReplyKind.GOODBYE


def test_a_goodbye_with_a_request_for_a_person_hands_off(faq: FaqBot) -> None:
    assert faq.decide(turn("пока, позовите оператора")).reason is HandoffReason.ASKED_FOR_HUMAN


async def test_a_goodbye_after_an_answer_keeps_the_conversation_with_the_bot(router: Router) -> None:
    await router.on_message(say(1, "Сколько стоит доставка?"))
    assert router.bot_desk is not None
    await router.bot_desk.drain()
    accepted = await router.on_message(say(2, "всё, пока"))
    await router.bot_desk.drain()
    conv = await router.store.get_conversation(accepted.conversation_id)
    assert conv.status is ConversationStatus.BOT
    messages = await router.store.list_messages(conv.id, 10)
    assert [m.author for m in messages] == [Author.CUSTOMER, Author.BOT, Author.CUSTOMER, Author.BOT]
    assert messages[-1].text == GOODBYE["ru"]
