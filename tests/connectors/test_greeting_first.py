"""Self-service from the first message: Telegram's /start (every Telegram
conversation opens with it: the Start button) or a greeting in the site chat
is greeted back by the bot, which keeps the conversation, and the question
that follows is answered. It was handed to people: «Передаю ваш вопрос…»,
and the real question then got no answer at all, waiting for a person. The
whole service on the shipped config, over Telegram's webhook (the fake Bot
API) and a real site-chat websocket."""

from __future__ import annotations

import pytest

from router.bot import load_bot_config
from router.bot.config import Messages
from router.server.app import ROUTER, STORE
from tests.connectors.test_handoff_notices import (  # noqa: F401  (start: the fixture)
    SHIPPED,
    Case,
    SiteVisitor,
    TelegramUser,
    reached,
    settle,
    start,
)
from tests.connectors.test_reply_language import Start
from tests.connectors.test_telegram import message, post, update

GREETED = Messages().greeting


def answer(intent: str, language: str) -> str:
    config = load_bot_config(SHIPPED / "bot.yaml")
    return next(i for i in config.intents if i.name == intent).answer[language]


@pytest.mark.parametrize(("language", "question"), [("ru", "Сколько стоит доставка?"),
                                                    ("en", "How much is delivery?")])
async def test_the_first_message_gets_a_greeting_and_the_question_after_it_its_answer(
        start: Start, language: str, question: str) -> None:  # noqa: F811
    client, customer = await start(Case("greeting first", language, "", ""))
    if isinstance(customer, TelegramUser):
        # the Start button: "/start" with its bot_command entity, in the app's language
        start_ = message(1, text="/start", entities=[{"type": "bot_command", "offset": 0, "length": 6}])
        start_["from"]["language_code"] = language
        customer.n = 1
        assert await post(client, update(message=start_)) == 200
    else:
        assert isinstance(customer, SiteVisitor)
        await customer.write("Здравствуйте!" if language == "ru" else "Hi!")
    assert await reached(customer, 1, "the greeting") == [GREETED[language]]
    await customer.write(question)
    texts = await reached(customer, 2, "the answer")
    assert texts == [GREETED[language], answer("delivery_cost", language)]
    await settle(client.app[ROUTER])
    [conversation] = await client.app[STORE].list_conversations(None, 10)
    assert conversation.status.value == "bot"  # still the bot's: no handoff, nobody queued


async def test_a_greeting_and_a_question_in_one_message_is_answered(start: Start) -> None:  # noqa: F811
    _, customer = await start(Case("greeting and question", "ru", "", ""))
    await customer.write("Здравствуйте, сколько стоит доставка?")
    assert await reached(customer, 1, "the answer") == [answer("delivery_cost", "ru")]



@pytest.mark.parametrize(("language", "question", "thanks"), [("ru", "Сколько стоит доставка?", "Спасибо!"),
                                                              ("en", "How much is delivery?", "Thanks a lot!")])
async def test_a_thanks_after_an_answer_is_answered_and_nobody_is_called(
        start: Start, language: str, question: str, thanks: str) -> None:  # noqa: F811
    client, customer = await start(Case("thanks after an answer", language, "", ""))
    await customer.write(question)
    assert await reached(customer, 1, "the answer") == [answer("delivery_cost", language)]
    await customer.write(thanks)
    texts = await reached(customer, 2, "the you're welcome")
    assert texts[-1] == Messages().thanks[language]
    await settle(client.app[ROUTER])
    [conversation] = await client.app[STORE].list_conversations(None, 10)
    assert conversation.status.value == "bot"  # no colleague was asked to read a thank-you
