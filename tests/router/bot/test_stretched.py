"""A letter stretched for emphasis («приииивет», «оператооооор», «спасибооо»)
is read once (router.words): the bot greets back, thanks back and hands over
to a person as it does for the word written plainly. Before, each went to
people as low_confidence: a greeting or a thank-you called an agent for
nothing, and the rules did not see a request for a person."""

from __future__ import annotations

import pytest

from router.bot import FaqBot, HandoffReason, ReplyKind
from router.bot.config import Messages
from router.human_request import HumanRequest
from router.words import words
from tests.router.bot.conftest import turn


@pytest.mark.parametrize(("text", "read"), [
    ("Приииивет!", ["привет"]), ("спасибооооо", ["спасибо"]), ("ОПЕРАТОООР", ["оператор"]),
    ("pleeease", ["please"]), ("скоооолько стоит доставкааа", ["сколько", "стоит", "доставка"]),
    # a doubled letter is a word's own: kept
    ("ссылка масса", ["ссылка", "масса"]), ("good 1000", ["good", "1000"]),
])
def test_a_stretched_letter_is_read_once(text: str, read: list[str]) -> None:
    assert words(text) == read


@pytest.mark.parametrize("text", ["приииивет", "Добрыыый день!", "helloooo"])
def test_a_stretched_greeting_is_greeted_back(faq: FaqBot, text: str) -> None:
    reply = faq.decide(turn(text))
    assert reply.kind is ReplyKind.GREETING, reply


def test_a_stretched_thanks_is_thanked_back(faq: FaqBot) -> None:
    reply = faq.decide(turn("спасибооооо!!!"))
    assert (reply.kind, reply.texts) == (ReplyKind.THANKS, [Messages().thanks["ru"]])


@pytest.mark.parametrize("text", ["оператооооор", "ОПЕРАТОРААА!!!", "human pleeease"])
def test_a_stretched_request_for_a_person_is_one(faq: FaqBot, text: str) -> None:
    assert HumanRequest().find(text) is not None
    assert faq.decide(turn(text)).reason is HandoffReason.ASKED_FOR_HUMAN
