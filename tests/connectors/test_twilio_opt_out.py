"""Opt-out keywords through Twilio: with a Messaging Service's Advanced Opt-Out,
Twilio answers STOP, START and HELP itself and posts them to the webhook with
``OptOutType`` (https://www.twilio.com/docs/messaging/guides/webhook-request;
after STOP it refuses every message to the number, error 21610). The service
keeps them for the agents but never routes or answers them: against the whole
service on the shipped config folder (its bot answers) and the fake Twilio."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from agents_ui.sessions import ADMIN_SEED
from router.config import Settings
from router.models import Author, Direction, Message
from router.server.app import ROUTER, STORE, create_app
from tests.conftest import ADMIN_PASSWORD
from tests.connectors.test_handoff_notices import SHIPPED_RULES, config_folder
from tests.connectors.twilio_helpers import (
    Client,
    console,
    customer_messages,
    inbound,
    post,
    sent_calls,
    shown,
    sms_form,
)
from tests.fakes.twilio_api import FakeTwilio

SERVICE = "MG" + "0123456789abcdef" * 2


@pytest.fixture
async def tw_bot(
    tw_settings: Settings, aiohttp_client: Callable[..., Awaitable[Client]], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Client:
    """The service with the shipped rules and bot: a customer's question gets the bot's answer."""
    monkeypatch.setenv("OMNIROUTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
    app = create_app(tw_settings, config_folder(tmp_path / "config", SHIPPED_RULES), base_dir=tmp_path)
    client = await aiohttp_client(app)
    await app[ADMIN_SEED].wait()
    return client


def keyword(word: str, kind: str) -> dict[str, str]:
    """An SMS to a number of a Messaging Service with Advanced Opt-Out, as Twilio posts it."""
    return sms_form(word, MessagingServiceSid=SERVICE, OptOutType=kind)


async def settled(client: Client) -> None:
    """Every bot turn taken: an answer, had any been given, is in the durable outbox now."""
    desk = client.app[ROUTER].bot_desk
    assert desk is not None
    await desk.drain()


def said_to_customer(messages: list[Message]) -> list[str]:
    return [m.text for m in messages if m.direction is Direction.OUT]


@pytest.mark.parametrize(("word", "kind"), [("STOP", "STOP"), ("Start", "START"), ("HELP", "HELP")])
async def test_a_keyword_twilio_answered_is_shown_in_the_conversation_and_never_answered(
    tw_bot: Client, twilio_api: FakeTwilio, word: str, kind: str
) -> None:
    assert await post(tw_bot, "sms", sms_form("где мой заказ?", MessagingServiceSid=SERVICE)) == 200
    await sent_calls(twilio_api, 1)  # the bot answered the question
    [question] = await inbound(tw_bot, "sms")
    assert question.conversation_id is not None
    before = await tw_bot.app[STORE].get_conversation(question.conversation_id)

    assert await post(tw_bot, "sms", keyword(word, kind)) == 200
    await settled(tw_bot)
    messages = await customer_messages(tw_bot, "sms")
    # no bot answer, no hand-off notice: Twilio answered, and after STOP would refuse anything more
    assert said_to_customer(messages) == said_to_customer(messages)[:1] and len(twilio_api.sent()) == 1
    after = await tw_bot.app[STORE].get_conversation(question.conversation_id)
    assert (after.status, after.team) == (before.status, before.team)
    # the agents see it where the customer's words are, marked as Twilio's business
    [_, stop] = [m for m in messages if m.author is Author.CUSTOMER]
    assert (stop.text, stop.conversation_id, stop.extras["OptOutType"]) == (word, question.conversation_id, kind)
    assert stop.core.automated is not None and kind in stop.core.automated
    http = await console(tw_bot)
    try:
        assert (await shown(http, question.conversation_id, stop.id))["text"] == word
    finally:
        await http.close()


async def test_a_stop_from_a_new_number_opens_no_conversation(tw_bot: Client, twilio_api: FakeTwilio) -> None:
    """Nothing for an agent to take up, nothing said back: no conversation in the queue."""
    assert await post(tw_bot, "sms", keyword("STOP", "STOP")) == 200
    await settled(tw_bot)
    assert await tw_bot.app[STORE].list_conversations(None, 10) == []
    assert twilio_api.sent() == []


async def test_a_stop_twilio_delivers_again_is_stored_once(tw_bot: Client, twilio_api: FakeTwilio) -> None:
    assert await post(tw_bot, "sms", sms_form("где мой заказ?")) == 200
    await sent_calls(twilio_api, 1)
    form = keyword("STOP", "STOP")
    assert await post(tw_bot, "sms", form) == 200
    assert await post(tw_bot, "sms", form) == 200
    await settled(tw_bot)
    assert [m.text for m in await inbound(tw_bot, "sms")] == ["где мой заказ?", "STOP"]
    assert len(twilio_api.sent()) == 1
