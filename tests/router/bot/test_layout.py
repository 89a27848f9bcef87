"""A customer who forgot to switch the keyboard layout is answered as if they
had not: «ghbdtn» («привет») is greeted back, «crjkmrj cnjbn ljcnfdrf?»
(«сколько стоит доставка?») answered, «jgthfnjh» («оператор») handed to a
person, each in the language meant. Read as typed, each went to people as
low_confidence, told so in English."""

from __future__ import annotations

import pytest

from router.bot.config import Messages
from router.core import Router
from router.models import Author, ConversationStatus
from tests.router.bot.conftest import say


async def _conversation(router: Router, *texts: str) -> tuple[ConversationStatus, list[str], dict[str, object]]:
    accepted = None
    for n, text in enumerate(texts, 1):
        accepted = await router.on_message(say(n, text))
        assert router.bot_desk is not None
        await router.bot_desk.drain()
    assert accepted is not None
    conv = await router.store.get_conversation(accepted.conversation_id)
    messages = await router.store.list_messages(conv.id, 20)
    trace = await router.store.conversation_route(conv.id)
    return conv.status, [m.text for m in messages if m.author is Author.BOT], trace.facts if trace else {}


async def test_a_greeting_on_the_wrong_layout_is_greeted_back_in_russian(router: Router) -> None:
    status, said, _ = await _conversation(router, "ghbdtn")
    assert (status, said) == (ConversationStatus.BOT, [Messages().greeting["ru"]])


@pytest.mark.parametrize(("typed", "answer"), [
    ("crjkmrj cnjbn ljcnfdrf?", "Доставка курьером — 290 ₽"),  # «сколько стоит доставка?»
    ("рщц ьгср шы вудшмукн", "Courier delivery is 290 ₽"),  # "how much is delivery" on the Russian layout
])
async def test_a_question_on_the_wrong_layout_is_answered_in_the_language_meant(
    router: Router, typed: str, answer: str
) -> None:
    status, said, _ = await _conversation(router, typed)
    assert status is ConversationStatus.BOT
    assert len(said) == 1 and said[0].startswith(answer), said


async def test_thanks_on_the_wrong_layout_after_an_answer_keeps_the_conversation(router: Router) -> None:
    status, said, _ = await _conversation(router, "Как вернуть товар?", "cgfcb,j")  # «спасибо»
    assert status is ConversationStatus.BOT
    assert said[-1] == Messages().thanks["ru"]


async def test_asking_for_a_person_on_the_wrong_layout_reaches_one_told_in_russian(router: Router) -> None:
    status, said, facts = await _conversation(router, "jgthfnjh")  # «оператор»
    assert status is ConversationStatus.QUEUED
    assert facts["asked_for_human"] is True
    assert said == [Messages().handoff["ru"]]
