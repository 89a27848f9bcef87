"""The language a customer is answered in (router.language): the profile's,
else their words', else the conversation's words before, else the channel's
hint, else Russian."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from router.language import answer_language, language_named, written_language
from router.models import Author, CoreMeta, Customer, Direction, Message

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def msg(text: str, author: Author = Author.CUSTOMER, **core: object) -> Message:
    direction = Direction.IN if author is Author.CUSTOMER else Direction.OUT
    return Message(id=f"m{abs(hash(text))}", conversation_id="c", customer_id="cus", direction=direction,
                   author=author, channel="webchat", text=text, core=CoreMeta.model_validate(core), created_at=T0)


def customer(**attributes: object) -> Customer:
    return Customer(id="cus", attributes=attributes, created_at=T0, updated_at=T0)


@pytest.mark.parametrize(("text", "language"), [
    ("Где мой заказ?", "ru"), ("where is my order?", "en"), ("Заказ 55 на iPhone 15", "ru"),
    ("5", None), ("👍", None), ("+7 916 123-45-67", None), ("", None), ("/start", None), ("/help@shop_bot", None),
    ("/start ref_12345", None), ("/start@shop_bot promo-2026", None),
    ("/start привет", "ru"),
    # an address or a link is no word, whatever its letters («моя почта …» was answered in English)
    ("http://x.ru/a/b", None), ("моя почта family.kuznetsovy@example.ru", "ru"), ("anna@mail.ru", None),
    ("вот ссылка https://shop.example.com/orders/AB-123456?utm_source=mail", "ru"), ("пишите на shop.ru", "ru"),
    ("my email is anna.petrova@mail.ru", "en"), ("т.е. завтра", "ru"),
    # Russian carries Latin brands and models; English seldom carries Cyrillic
    ("Хочу купить iPhone 15 Pro Max", "ru"), ("Where is my order from Москва?", "en"),
    # Russian typed in Latin letters (a phone without the Cyrillic layout) is Russian
    ("dostavka skolko stoit", "ru"), ("vozvrat tovara kak sdelat", "ru"), ("soedinite s operatorom", "ru"),
    ("pozovite operatora", "ru"), ("spasibo!", "ru"), ("Zdravstvuyte, gde moy zakaz?", "ru"), ("zhdu otveta", "ru"),
    # and English stays English: one English word is enough, and names or models are no Russian words
    ("Delivery?", "en"), ("Refund status", "en"), ("order 12345", "en"), ("operator please", "en"), ("Hi", "en"),
    ("Moscow", "en"), ("Natalya", "en"), ("Kazakhstan shipping", "en"), ("iPhone 15 Pro", "en"),
    ("where is the tovar I ordered", "en"), ("Zhukovsky street", "en"),
])
def test_the_words_tell_a_language_only_when_there_are_letters(text: str, language: str | None) -> None:
    assert written_language(text) == language


@pytest.mark.parametrize(("value", "language"), [
    ("ru", "ru"), ("ru-RU", "ru"), ("uk", "ru"), ("kk", "ru"), ("en", "en"), ("en-US", "en"), ("de", "en"),
    ("Русский", "ru"), ("English", "en"), ("", None), (None, None), (7, None), ("не знаю", None),
])
def test_a_language_tag_or_name_is_read_as_one_of_ours(value: object, language: str | None) -> None:
    assert language_named(value) == language


def test_a_message_without_words_is_answered_in_the_conversations_language() -> None:
    """"5", "👍", a photo or "/start" were answered in English, whatever the customer had written before."""
    russian_before = [msg("Хочу вернуть товар")]
    assert answer_language(msg("👍"), customer(), russian_before) == "ru"
    assert answer_language(msg("5"), customer(), [msg("I want a refund")]) == "en"
    # the bot's or an agent's words count (the customer's "1" answers the bot's «Уточните…»)
    assert answer_language(msg("1"), customer(), [msg("Уточните: 1) доставка 2) оплата", Author.BOT)]) == "ru"
    # newest first: the last words decide
    assert answer_language(msg("5"), customer(), [msg("thanks"), msg("Где заказ?")]) == "en"
    # our own notices are in the language we chose, not a sign of the customer's
    notice = msg("I am passing your question to a colleague", Author.BOT, automatic="handoff")
    assert answer_language(msg("5"), customer(), [notice, msg("Где заказ?")]) == "ru"


def test_the_channels_hint_then_russian_when_nothing_was_written() -> None:
    assert answer_language(msg("/start", language="en"), customer()) == "en"
    assert answer_language(msg("/start", language="ru-RU"), customer()) == "ru"
    assert answer_language(msg("👍"), customer()) == "ru"  # the market's first language
    # words beat the hint: a Russian on an English-language phone writes Russian
    assert answer_language(msg("Где заказ?", language="en"), customer()) == "ru"
    assert answer_language(msg("5", language="en"), customer(), [msg("Где заказ?")]) == "ru"


def test_the_profiles_language_comes_first() -> None:
    assert answer_language(msg("ok"), customer(language="ru")) == "ru"
    assert answer_language(msg("Привет"), customer(language="English")) == "en"
    assert answer_language(msg("Привет"), customer(language="??")) == "ru"  # no language: as if unset
