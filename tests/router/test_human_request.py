"""One vocabulary of "let me talk to a person": the bot and the rules'
``asked_for_human`` read the same one, so they never disagree on a message."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.appkeys import RULES_RELOADER
from router.bot.base import HandoffReason
from router.bot.config import BotFile, load_bot_config
from router.bot.faq import FaqBot
from router.config import Settings
from router.human_request import HumanRequest
from router.models import Customer, CustomerHistory, IdentityRef, Message
from router.routing.rules import RulesRouting, load_rules
from router.server.app import ROUTER, create_app
from tests.router.bot.conftest import SHIPPED, turn
from tests.router.routing.rules.conftest import write_config

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

ASKS = [
    "позовите оператора", "позовите человека", "позовите менеджера", "соедините с сотрудником",
    "хочу поговорить с живым человеком", "менеджер", "сотрудник", "можно со специалистом?",
    "позавите чиловека", "OPERATOR!!!", "pozovite operatora",
    "I want to talk to a real person", "talk to someone please", "human", "let me talk to an agent", "operator",
    "real persn please", "get me a humon", "can I speak to a person", "I need a person", "нужен человек",
    "переключите на человека", "чат с человеком", "can I chat with a person",
    # the shop's support: was answered with the opening hours
    "свяжите с поддержкой", "как связаться с поддержкой?", "соедините с поддержкой", "служба поддержки, ответьте",
    "connect me to support", "how do I contact support",
    # asking whether a person reads them: was handed over only as low_confidence, and not by the rules
    "ты бот?", "Вы робот или человек?", "это бот отвечает?", "are you a bot?", "is this a bot",
]
DOES_NOT_ASK = [
    "где мой заказ", "нас пять человек, есть столик?", "сколько стоит доставка", "нужна консультация по доставке",
    "операция по карте не прошла", "where is my order", "my personal data", "again please", "are you open",
    "sent to a personal address", "сколько человек работает в пункте выдачи?", "pay with a personal card",
    "доставка на человека оформлена?",
    # words that share a stem or most letters with a word that asks on its own
    "I need to manage my subscription", "which travel agency do you work with", "how to operate the app",
    "specialty coffee", "сотрудничаете ли вы с DHL", "is the operation complete",
    "do you support Apple Pay", "есть ли поддержка Apple Pay", "служба доставки работает в субботу?",
    "When can I reach someone from customer service?", "до скольки работает поддержка",  # the opening hours
    "Привет, бот!", "спасибо, бот", "thank you bot", "робот-пылесос есть в наличии?",
]


def message(text: str) -> Message:
    return Message(id="m1", conversation_id=None, customer_id=None, direction="in", author="customer",
                   channel="webchat", text=text, created_at=T0, sender=IdentityRef(kind="webchat", value="v1"))


@pytest.fixture(scope="module")
def lexical_bot() -> FaqBot:
    config = load_bot_config(SHIPPED).model_copy(deep=True)
    config.matching.method = "lexical"  # the vocabulary is read before any matching: no model needed
    return FaqBot(config)


def asked_for_human_fact(rules_path: Path, text: str) -> bool:
    ruleset = load_rules(rules_path)
    customer = Customer(id="c", created_at=T0, updated_at=T0)
    return bool(ruleset.facts(message(text), customer, CustomerHistory(), T0)["asked_for_human"])


@pytest.mark.parametrize("text", ASKS)
def test_the_bot_and_the_rules_both_hear_a_request_for_a_person(
    text: str, tmp_path: Path, lexical_bot: FaqBot
) -> None:
    assert HumanRequest().find(text) is not None
    assert asked_for_human_fact(write_config(tmp_path / "config"), text) is True
    reply = lexical_bot.decide(turn(text))
    assert reply.reason is not None and reply.reason.value == "asked_for_human", reply


@pytest.mark.parametrize("text", DOES_NOT_ASK)
def test_ordinary_questions_are_not_a_request_for_a_person(text: str, tmp_path: Path) -> None:
    assert HumanRequest().find(text) is None
    assert asked_for_human_fact(write_config(tmp_path / "config"), text) is False


def test_phrases_added_in_either_file_extend_the_one_vocabulary(tmp_path: Path) -> None:
    rules = write_config(tmp_path / "config", "human_request: [позовите старшего]\n" + (
        "default:\n  queue: {team: support}\n"))
    assert asked_for_human_fact(rules, "позовите старшего смены") is True
    assert asked_for_human_fact(rules, "позовите оператора") is True  # the built-in ones stay
    bot = BotFile.model_validate({"engine": "builtin", "matching": {"method": "lexical"},
                                  "human_request": ["хочу к начальнику"],
                                  "intents": [{"name": "x", "title": {"en": "x"}, "examples": {"en": ["x y z"]},
                                               "answer": {"en": "x"}}]})
    assert FaqBot(bot).vocabulary().find("хочу к начальнику отдела") is not None


def test_the_service_gives_the_bot_and_the_rules_each_others_phrases(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    shutil.copytree(SHIPPED.parent, folder)
    rules = (folder / "rules.yaml").read_text(encoding="utf-8")
    (folder / "rules.yaml").write_text("human_request: [позовите старшего]\n" + rules, encoding="utf-8")
    bot = (folder / "bot.yaml").read_text(encoding="utf-8")
    (folder / "bot.yaml").write_text(bot.replace("human_request: []", "human_request: [хочу к начальнику]"),
                                     encoding="utf-8")
    settings = Settings()
    settings.store.path = str(tmp_path / "x.db")
    router = create_app(settings, folder, base_dir=tmp_path)[ROUTER]
    assert isinstance(router.routing, RulesRouting) and router.bot_desk is not None
    assert isinstance(router.bot_desk.bot, FaqBot)
    bot = router.bot_desk.bot
    for text in ("позовите старшего смены", "хочу к начальнику отдела", "позовите оператора"):
        assert router.routing.human_request.find(text) is not None, text
        assert bot.vocabulary().find(text) is not None, text
    assert not (tmp_path / "x.db").exists()


def test_a_phrase_added_to_the_running_rules_reaches_the_bot(tmp_path: Path) -> None:
    """rules.yaml reloads while the service runs: the bot steps aside on its
    new phrase as the rules do, without a restart."""
    folder = tmp_path / "config"
    shutil.copytree(SHIPPED.parent, folder)
    settings = Settings()
    settings.store.path = str(tmp_path / "x.db")
    app = create_app(settings, folder, base_dir=tmp_path)
    bot = app[ROUTER].bot_desk.bot if app[ROUTER].bot_desk is not None else None
    assert isinstance(bot, FaqBot)
    assert bot.person_requested(turn("а где дежурный по смене")) is None
    rules = (folder / "rules.yaml").read_text(encoding="utf-8")
    (folder / "rules.yaml").write_text("human_request: [дежурный по смене]\n" + rules, encoding="utf-8")
    assert app[RULES_RELOADER].check()
    asked = bot.person_requested(turn("а где дежурный по смене"))
    assert asked is not None and asked.reason is HandoffReason.ASKED_FOR_HUMAN
