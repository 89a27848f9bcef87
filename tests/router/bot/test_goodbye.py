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


@pytest.mark.parametrize(("text", "language"), [
    ("ок", "ru"), ("Понятно!", "ru"), ("ясно, хорошо", "ru"), ("👍", "ru"), ("🙏🙂", "ru"), ("ок))", "ru"),
    ("got it", "en"), ("ok", "en"),
])
async def test_a_customer_who_got_the_answer_is_not_handed_to_people(router: Router, text: str, language: str
                                                                       ) -> None:
    """«Ок», «Понятно» or a thumbs up after the bot's answer: the customer got it, nothing more to do.
    Before, each went to people as low_confidence (an agent called to read «ок»)."""
    question = "Как вернуть товар?" if language == "ru" else "How do I return an item?"
    await router.on_message(say(1, question))
    assert router.bot_desk is not None
    await router.bot_desk.drain()
    accepted = await router.on_message(say(2, text))
    await router.bot_desk.drain()
    conv = await router.store.get_conversation(accepted.conversation_id)
    assert conv.status is ConversationStatus.BOT
    messages = await router.store.list_messages(conv.id, 10)
    assert messages[-1].author is Author.BOT and messages[-1].text == GOODBYE[language]


@pytest.mark.parametrize("text", ["ок", "понятно", "👍"])
def test_an_ok_with_no_answer_before_it_is_not_taken_for_one(faq: FaqBot, text: str) -> None:
    """With nothing answered («ок» first, or after a clarifying question) it says nothing the bot can use."""
    assert faq.decide(turn(text)).kind is not ReplyKind.GOODBYE


@pytest.mark.parametrize("text", ["😡", "ок, а сколько стоит доставка?", "понятно, но заказ так и не пришёл"])
async def test_more_than_an_ok_after_an_answer_is_read_as_usual(router: Router, text: str) -> None:
    await router.on_message(say(1, "Как вернуть товар?"))
    assert router.bot_desk is not None
    await router.bot_desk.drain()
    accepted = await router.on_message(say(2, text))
    await router.bot_desk.drain()
    messages = await router.store.list_messages(accepted.conversation_id, 10)
    assert messages[-1].author is Author.BOT and messages[-1].text != GOODBYE["ru"]
