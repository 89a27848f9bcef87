"""The greeting of a returning customer, composed from facts alone: their
name (only a real one), when and where they wrote, what the bot answered.
The clock is given: nothing here reads the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.bot import load_bot_config
from router.bot.config import Intent, Messages
from router.bot.welcome import LeftOff, Recall, greeting, real_name
from router.connector import ChannelLabel
from tests.router.bot.test_config import GOOD, problems

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
WHATSAPP = ChannelLabel(name={"ru": "WhatsApp", "en": "WhatsApp"}, where={"ru": "в WhatsApp", "en": "on WhatsApp"})
SITE = ChannelLabel(name={"ru": "чат на сайте", "en": "site chat"},
                    where={"ru": "в чате на сайте", "en": "in the site chat"})
DELIVERY = Intent.model_validate({
    "name": "delivery_time", "title": {"ru": "сроки доставки", "en": "delivery times"},
    "topic": {"ru": "о сроках доставки", "en": "about delivery times"},
    "examples": {"ru": ["Сколько идет доставка?"]}, "answer": {"ru": "3 дня"},
})
NO_TOPIC = DELIVERY.model_copy(update={"topic": None})


def test_by_name_with_where_they_left_off_in_russian() -> None:
    recall = Recall("Анна Петрова", LeftOff(NOW - timedelta(days=1, hours=2), WHATSAPP, DELIVERY))
    assert greeting(recall, Messages(), "ru", NOW) == (
        "Здравствуйте, Анна Петрова! Вы писали нам 1 день назад в WhatsApp о сроках доставки — продолжим?")


def test_by_name_with_where_they_left_off_in_english() -> None:
    recall = Recall("Anna", LeftOff(NOW - timedelta(hours=5), SITE, DELIVERY))
    assert greeting(recall, Messages(), "en", NOW) == (
        "Hello, Anna! You wrote to us 5 hours ago in the site chat about delivery times: shall we continue?")


def test_without_a_known_topic_the_about_part_is_left_out() -> None:
    recall = Recall("Anna", LeftOff(NOW - timedelta(days=3), WHATSAPP, None))
    assert greeting(recall, Messages(), "en", NOW) == (
        "Hello, Anna! You wrote to us 3 days ago on WhatsApp: shall we continue?")
    assert greeting(recall, Messages(), "ru", NOW) == (
        "Здравствуйте, Anna! Вы писали нам 3 дня назад в WhatsApp — продолжим?")


def test_an_intent_without_its_own_topic_is_named_by_its_title() -> None:
    recall = Recall("Anna", LeftOff(NOW - timedelta(days=1), SITE, NO_TOPIC))
    assert greeting(recall, Messages(), "ru", NOW) == (
        "Здравствуйте, Anna! Вы писали нам 1 день назад в чате на сайте на тему «сроки доставки» — продолжим?")
    assert greeting(recall, Messages(), "en", NOW) == (
        "Hello, Anna! You wrote to us 1 day ago in the site chat about delivery times: shall we continue?")


def test_a_closed_conversation_gets_the_name_only_and_no_name_no_past_nothing() -> None:
    assert greeting(Recall("Anna"), Messages(), "en", NOW) == "Hello, Anna!"
    assert greeting(Recall(None), Messages(), "en", NOW) is None
    recall = Recall(None, LeftOff(NOW - timedelta(days=1), WHATSAPP, DELIVERY))
    assert greeting(recall, Messages(), "ru", NOW) == (
        "Здравствуйте! Вы писали нам 1 день назад в WhatsApp о сроках доставки — продолжим?")


def test_a_language_without_texts_falls_back_and_texts_come_from_the_config() -> None:
    messages = Messages.model_validate({"welcome_back": {"en": "Welcome back, {name}."}})
    assert greeting(Recall("Anna"), messages, "de", NOW) == "Welcome back, Anna."


@pytest.mark.parametrize(("display_name", "expected"), [
    ("Анна Петрова", "Анна Петрова"), ("  Anna   Smith ", "Anna Smith"), ("Jean-Luc", "Jean-Luc"),
    ("O'Brien", "O'Brien"), ("Иван Петров", "Иван Петров"),
    (None, None), ("", None), ("   ", None),
    ("+79123456789", None), ("8 912 345-67-89", None), ("anna@example.com", None),
    ("v_3f9a2c0d1e", None), ("3f9a2c0d-1e4b-4c8a-9d2e-5f6a7b8c9d0e", None), ("user123", None),
    ("Anna " * 20, None),
])
def test_only_a_real_name_is_used(display_name: str | None, expected: str | None) -> None:
    assert real_name(display_name) == expected


def test_welcome_back_and_topics_in_bot_yaml_are_checked_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text(GOOD + "welcome_back: {pause: 30m}\n", encoding="utf-8")
    assert load_bot_config(path).welcome_back.pause == 1800
    with_topic = GOOD.replace("    title: {en: payment}\n", "    title: {en: payment}\n    topic: {en: about paying}\n")
    path.write_text(with_topic, encoding="utf-8")
    topic = load_bot_config(path).intents[1].topic
    assert topic is not None and topic["en"] == "about paying"
    assert problems(tmp_path, GOOD + "welcome_back: {pause: 0}\n") == [
        "14: welcome_back: pause must be more than 0 seconds"]
    assert problems(tmp_path, GOOD + "welcome_back: {after: 4h}\n")[0].startswith(
        "14: welcome_back.after: unknown key: the keys here are enabled, pause")
    assert problems(tmp_path, with_topic.replace("topic: {en: about paying}", "topic: {en: '  '}"))[0].startswith(
        "11: intents.1.topic.en: must not be empty")
