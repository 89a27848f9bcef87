"""The external-bot adapter against a local bot speaking Rasa's REST
channel: answers are passed on; a slow, failing or malformed bot hands the
conversation to people, never leaves the customer in silence."""

from __future__ import annotations

import pytest

from router.bot import HandoffReason, RasaBot, ReplyKind
from router.bot.config import ExternalBot
from tests.conftest import HANG
from tests.fakes.rasa_bot import FakeRasa
from tests.router.bot.conftest import turn


def adapter(rasa: FakeRasa, timeout: float = HANG) -> RasaBot:
    # the bot's own timeout is a hang detector here; the test of that timeout passes its own
    config = ExternalBot.model_validate({"url": rasa.webhook_url, "timeout": timeout})
    return RasaBot(config, human_request=["оператор", "human"])


async def test_the_bots_text_replies_are_passed_on(rasa: FakeRasa) -> None:
    async with adapter(rasa) as bot:
        reply = await bot.respond(turn("где мой заказ?"))
    assert (reply.kind, reply.texts) == (ReplyKind.ANSWER, ["You said: где мой заказ?"])
    assert rasa.requests == [{"sender": "conv_test", "message": "где мой заказ?"}]


async def test_a_bot_that_does_not_answer_in_time_hands_off(rasa: FakeRasa) -> None:
    rasa.stall = True  # never released: only the adapter's timeout ends the wait
    async with adapter(rasa, timeout=0.2) as bot:
        reply = await bot.respond(turn("hello"))
    assert (reply.kind, reply.reason) == (ReplyKind.HANDOFF, HandoffReason.BOT_FAILED)
    assert "no answer within 0.2s" in reply.detail


@pytest.mark.parametrize(("answer", "detail"), [
    (500, "HTTP 500"),
    (404, "HTTP 404"),
    ("<html>Bad gateway</html>", "malformed answer"),
    ('{"text": "not a list"}', "malformed answer"),
    ('[{"recipient_id": "x", "text": 42}]', "malformed answer (0.text"),
    ("[]", "had no answer"),
    ('[{"recipient_id": "x", "image": "/srv/rasa/a.png"}]', "had no answer"),  # a path on Rasa's machine
    ('[{"recipient_id": "x", "custom": {"blocks": []}}]', "had no answer"),
    ('[{"recipient_id": "x", "buttons": [{"title": "no payload"}]}]', "had no answer"),
])
async def test_a_failing_or_malformed_bot_hands_off_with_the_reason(
    rasa: FakeRasa, answer: int | str, detail: str
) -> None:
    rasa.script = [answer]
    async with adapter(rasa) as bot:
        reply = await bot.respond(turn("hello"))
    assert (reply.kind, reply.reason) == (ReplyKind.HANDOFF, HandoffReason.BOT_FAILED)
    assert detail in reply.detail


async def test_a_bot_that_is_down_hands_off(rasa: FakeRasa) -> None:
    url = rasa.webhook_url
    await rasa.close()
    async with RasaBot(ExternalBot.model_validate({"url": url, "timeout": HANG})) as bot:
        reply = await bot.respond(turn("hello"))
    assert (reply.kind, reply.reason) == (ReplyKind.HANDOFF, HandoffReason.BOT_FAILED)
    assert "ClientConnectorError" in reply.detail or "Connect" in reply.detail


async def test_asking_for_a_person_never_reaches_the_external_bot(rasa: FakeRasa) -> None:
    async with adapter(rasa) as bot:
        reply = await bot.respond(turn("позовите оператора"))
    assert (reply.kind, reply.reason) == (ReplyKind.HANDOFF, HandoffReason.ASKED_FOR_HUMAN)
    assert rasa.requests == []
