"""A thanks that asks nothing more («Спасибо!», "thanks a lot") gets a "you're
welcome" and the conversation stays with the bot. Before, the shipped
knowledge base had no answer for it: «Спасибо!» after an answer went to
people as low_confidence, and an agent was asked to read a thank-you."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.bot import FaqBot, HandoffReason, ReplyKind
from router.bot.config import Messages
from tests.router.bot.conftest import turn
from tests.router.bot.test_greeting import OWN, own_bot

THANKED = Messages().thanks

THANKS_INTENT = """\
  - name: thanks
    title: {ru: благодарность, en: thanks}
    handoff_on_repeat: false
    examples:
      ru: ["Спасибо!"]
      en: ["Thank you"]
    answer: {ru: "Рады помочь! Ваша «Ромашка».", en: "Glad to help! Romashka."}
"""


@pytest.mark.parametrize(("text", "language"), [
    ("Спасибо!", "ru"), ("спасибо большое", "ru"), ("Большое спасибо 🙏", "ru"), ("Ок, спасибо, понятно", "ru"),
    ("Благодарю вас, всего доброго", "ru"), ("спс", "ru"), ("spasibo", "ru"), ("Спасибо, бот!", "ru"),
    ("Thanks!", "en"), ("thank you very much", "en"), ("ok thanks, got it", "en"), ("Thanks a lot :)", "en"),
])
def test_a_thanks_alone_is_answered_and_kept_by_the_bot(faq: FaqBot, text: str, language: str) -> None:
    reply = faq.decide(turn(text))
    assert (reply.kind, reply.reason, reply.texts) == (ReplyKind.THANKS, None, [THANKED[language]]), reply


@pytest.mark.parametrize(("text", "intent"), [
    ("Спасибо! А сколько стоит доставка?", "delivery_cost"), ("thanks, but where is my order?", "order_status"),
])
def test_a_thanks_with_a_question_is_the_question(faq: FaqBot, text: str, intent: str) -> None:
    reply = faq.decide(turn(text))
    assert (reply.kind, reply.intent) == (ReplyKind.ANSWER, intent), reply


@pytest.mark.parametrize("text", ["ok", "хорошо", "понятно"])
def test_contentment_without_a_thanks_is_no_thanks(faq: FaqBot, text: str) -> None:
    assert faq.decide(turn(text)).kind is not ReplyKind.THANKS


def test_a_thanks_and_a_request_for_a_person_hands_off(faq: FaqBot) -> None:
    reply = faq.decide(turn("Спасибо, но позовите оператора"))
    assert (reply.kind, reply.reason) == (ReplyKind.HANDOFF, HandoffReason.ASKED_FOR_HUMAN), reply


def test_an_admins_own_thanks_intent_wins(tmp_path: Path) -> None:
    bot = own_bot(tmp_path, OWN + THANKS_INTENT)
    reply = bot.decide(turn("Большое спасибо!"))
    assert (reply.kind, reply.intent, reply.texts) == (ReplyKind.THANKS, "thanks", ["Рады помочь! Ваша «Ромашка»."])


@pytest.mark.parametrize(("text", "kind"), [
    ("спасиб большое", ReplyKind.THANKS), ("Спосибо!", ReplyKind.THANKS), ("благодорю", ReplyKind.THANKS),
    ("сапсибо", ReplyKind.THANKS), ("Спасиба!", ReplyKind.THANKS), ("досвидание", ReplyKind.GOODBYE),
])
def test_a_misspelt_thanks_or_goodbye_is_one(faq: FaqBot, text: str, kind: ReplyKind) -> None:
    """A typo in the closing word («спасиб», «спосибо», «благодорю»): was handed to people as low_confidence."""
    assert faq.decide(turn(text)).kind is kind


@pytest.mark.parametrize("text", ["спасибо, оплачено", "хорошо, привезите завтра", "оплачено"])
def test_a_word_near_a_closing_one_is_not_taken_for_it(faq: FaqBot, text: str) -> None:
    assert faq.decide(turn(text)).kind not in (ReplyKind.THANKS, ReplyKind.GOODBYE)
