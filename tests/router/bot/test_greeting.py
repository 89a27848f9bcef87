"""A greeting, or a bot command such as Telegram's /start (every Telegram
conversation opens with it), is no question: the bot greets back and invites
one, in the customer's language, and keeps the conversation. It was handed
to people as low_confidence, and the customer's real question, asked next,
then waited for a person. A greeting before a question is left out of the
matching: the question is answered as if asked alone."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from router.bot import FaqBot, HandoffReason, ReplyKind, load_bot_config
from router.bot.base import BotTurn
from router.bot.config import BotFile, Messages
from tests.router.bot.conftest import ANNA, turn

GREETED = Messages().greeting


@pytest.mark.parametrize(("text", "language"), [
    ("Здравствуйте", "ru"), ("Здравствуйте!", "ru"), ("привет", "ru"), ("Привет, бот!", "ru"),
    ("Добрый день!", "ru"), ("добрый вечер", "ru"), ("Доброе утро 🙂", "ru"), ("Доброго времени суток!", "ru"),
    ("Здравствуйте, Анна!", "ru"), ("Привет, как дела?", "ru"), ("Здравствуйте, у меня вопрос", "ru"),
    ("Приветствую всех", "ru"), ("ЗДРАВСТВУЙТЕ!!!", "ru"), ("Здрасте", "ru"),
    ("Hi", "en"), ("hello!", "en"), ("Hey there", "en"), ("Good morning", "en"), ("Good afternoon :)", "en"),
    ("good evening, bot", "en"), ("Hi Anna", "en"), ("Hello, I have a question", "en"),
    ("/start", "ru"), ("/start ref_12345", "ru"), ("/help", "ru"), ("/help@shop_bot", "ru"),
    ("/start привет", "ru"), ("/start hello there", "en"),
])
def test_a_greeting_or_a_command_alone_is_greeted_back(faq: FaqBot, text: str, language: str) -> None:
    reply = faq.decide(turn(text))
    assert (reply.kind, reply.reason) == (ReplyKind.GREETING, None), reply
    assert reply.texts == [GREETED[language]]
    assert reply.language == language


def test_a_command_is_greeted_in_the_channels_language(faq: FaqBot) -> None:
    """/start has no words: Telegram's app language says which."""
    reply = faq.decide(BotTurn("conv_test", ANNA, "/start", [], hint="en"))
    assert (reply.kind, reply.texts) == (ReplyKind.GREETING, [GREETED["en"]])


@pytest.mark.parametrize(("text", "alone", "intent"), [
    ("Здравствуйте, сколько стоит доставка?", "сколько стоит доставка?", "delivery_cost"),
    ("Добрый день! Подскажите, сколько стоит доставка", "Подскажите, сколько стоит доставка", "delivery_cost"),
    ("Привет! Где мой заказ?", "Где мой заказ?", "order_status"),
    ("Hi, how much is delivery?", "how much is delivery?", "delivery_cost"),
    ("Hello there! Where is my order?", "Where is my order?", "order_status"),
    ("/start где мой заказ", "где мой заказ", "order_status"),
    ("Здравствуйте\nсколько стоит доставка?", "сколько стоит доставка?", "delivery_cost"),  # two quick messages
])
def test_a_greeting_before_a_question_does_not_lower_its_match(faq: FaqBot, text: str, alone: str, intent: str
                                                               ) -> None:
    reply = faq.decide(turn(text))
    assert (reply.kind, reply.intent) == (ReplyKind.ANSWER, intent), reply
    assert reply.confidence == faq.decide(turn(alone)).confidence


@pytest.mark.parametrize("text", ["Здравствуйте, позовите оператора", "Hi, I want to talk to a real person"])
def test_a_greeting_with_a_request_for_a_person_hands_off(faq: FaqBot, text: str) -> None:
    reply = faq.decide(turn(text))
    assert (reply.kind, reply.reason) == (ReplyKind.HANDOFF, HandoffReason.ASKED_FOR_HUMAN), reply


@pytest.mark.parametrize("text", ["Привет, вакансии у вас есть?", "Hello, recommend a gaming laptop"])
def test_a_greeting_before_a_question_it_does_not_know_still_goes_to_people(faq: FaqBot, text: str) -> None:
    reply = faq.decide(turn(text))
    assert (reply.kind, reply.reason) == (ReplyKind.HANDOFF, HandoffReason.LOW_CONFIDENCE), reply


async def test_a_greeting_is_answered_without_waiting_for_the_model(shipped: BotFile) -> None:
    """The model not loaded yet (its warm-up takes seconds): a greeting needs none, as a request for a person."""
    bot = FaqBot(shipped)
    reply = await bot.respond(turn("/start"))
    assert reply.kind is ReplyKind.GREETING
    assert bot.readiness == "starting"


OWN = """\
matching: {method: lexical}
messages:
  greeting: {ru: "Привет! Спросите меня о доставке.", en: "Hi! Ask me about delivery."}
intents:
  - name: delivery
    title: {ru: доставка, en: delivery}
    examples:
      ru: ["Сколько стоит доставка?"]
      en: ["How much is delivery?"]
    answer: {ru: "300 рублей.", en: "300 roubles."}
"""

HELLO_INTENT = """\
  - name: hello
    title: {ru: приветствие, en: greeting}
    handoff_on_repeat: false
    examples:
      ru: ["Привет!", "/start"]
      en: ["Hello"]
    answer: {ru: "Добро пожаловать в «Ромашку»!", en: "Welcome to Romashka!"}
"""


def own_bot(tmp_path: Path, text: str) -> FaqBot:
    path = tmp_path / "bot.yaml"
    path.write_text(dedent(text), encoding="utf-8")
    return FaqBot(load_bot_config(path))


def test_the_greeting_is_the_admins_text_when_bot_yaml_gives_one(tmp_path: Path) -> None:
    bot = own_bot(tmp_path, OWN)
    assert bot.decide(turn("Здравствуйте")).texts == ["Привет! Спросите меня о доставке."]
    assert bot.decide(turn("hello")).texts == ["Hi! Ask me about delivery."]


@pytest.mark.parametrize(("text", "answer"), [
    ("/start", "Добро пожаловать в «Ромашку»!"), ("Здравствуйте!", "Добро пожаловать в «Ромашку»!"),
    ("Привет, бот", "Добро пожаловать в «Ромашку»!"), ("Good evening", "Welcome to Romashka!"),
])
def test_an_admins_own_greeting_intent_wins(tmp_path: Path, text: str, answer: str) -> None:
    bot = own_bot(tmp_path, OWN + HELLO_INTENT)
    reply = bot.decide(turn(text))
    assert (reply.kind, reply.intent, reply.texts) == (ReplyKind.GREETING, "hello", [answer]), reply
    question = bot.decide(turn("Привет, сколько стоит доставка?"))
    assert (question.kind, question.intent) == (ReplyKind.ANSWER, "delivery"), question


@pytest.mark.parametrize("text", [
    "Здрасвуйте", "Здравсвтуйте!", "здраствуйте", "Приветствуюю", "прив", "приветики", "добрый вечерок",
    "Хелло", "ДОБРЫЙ ДЕНЬ",
])
def test_a_misspelt_or_familiar_greeting_is_greeted_back(faq: FaqBot, text: str) -> None:
    """A typo in a long greeting or a familiar one: was handed to people as low_confidence."""
    reply = faq.decide(turn(text))
    assert (reply.kind, reply.texts) == (ReplyKind.GREETING, [GREETED["ru"]]), reply


def test_a_word_one_letter_from_a_short_greeting_is_no_greeting(faq: FaqBot) -> None:
    """«привез» is one letter from «привет»: only long greetings are read through a typo."""
    assert faq.decide(turn("привез не тот товар")).kind is not ReplyKind.GREETING
