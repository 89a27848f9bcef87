"""The satisfaction survey over the platforms' fakes: asked after an agent
resolves, answered by Telegram's inline keyboard (a ``callback_query``
update shaped as https://core.telegram.org/bots/api#callbackquery documents
it) or by a typed number on WhatsApp; a rating never reopens the
conversation nor reaches the queue; per-team and after-hours switches; bad
answers."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from router import events
from router.bus import Event
from router.config import Settings
from router.csat.types import Survey
from router.models import Author, ConversationStatus, Customer, IdentityRef, InboundMessage
from router.server.app import BUS, ROUTER, STORE
from tests.conftest import eventually
from tests.connectors import test_telegram as tg
from tests.connectors import twilio_helpers as tw
from tests.connectors.two_channels import serve
from tests.fakes.telegram_api import Call, FakeTelegram
from tests.fakes.twilio_api import FakeTwilio

Client = TestClient[web.Request, web.Application]
PHONE = "+79123456789"
CSAT = """
enabled: true
teams:
  senior: {enabled: false}
"""
# support keeps office hours on weekdays (UTC), and is not asked after them
AFTER_HOURS = """
timezone: UTC
calendars:
  office: {timezone: UTC, hours: {mon-fri: ["09:00-18:00"]}}
queues:
  support: {hours: office}
default: {queue: {team: support}}
"""
NO_REOPEN = "\nreopen: {within: 'off'}\n"
WEDNESDAY_NOON = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
SUNDAY_NOON = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


Maker = Callable[..., Awaitable[Client]]


@pytest.fixture
def start(both: Settings, aiohttp_client: Callable[..., Awaitable[Client]], tmp_path: Path) -> Maker:
    async def make(csat: str = CSAT, rules: str | None = None, bot: bool = False) -> Client:
        config = tmp_path / "config"
        config.mkdir(exist_ok=True)
        if bot:  # the shipped bot
            shutil.copy(Path(__file__).parents[2] / "config" / "bot.yaml", config / "bot.yaml")
        (config / "csat.yaml").write_text(csat, encoding="utf-8")
        # csat.yaml names teams.yaml's teams
        (config / "teams.yaml").write_text("teams:\n  support: {}\n  senior: {}\n", encoding="utf-8")
        # a message after the resolve opens a new conversation (README: reopen or a new conversation): the
        # answers are told from new questions, and an answered conversation would otherwise come back
        (config / "rules.yaml").write_text((rules or "default: {queue: {team: support}}\n") + NO_REOPEN,
                                          encoding="utf-8")
        return await serve(aiohttp_client, both, config, tmp_path)

    return make


@pytest.fixture
async def svc(start: Maker) -> Client:
    return await start()


# -- helpers ----------------------------------------------------------------------------------


async def console(client: Client) -> aiohttp.ClientSession:
    return await tw.console(client)


async def customer_of(client: Client, kind: str, value: str) -> Customer:
    found = await client.app[STORE].find_identity(IdentityRef(kind=kind, value=value))
    assert found is not None
    return found


async def open_conversation(client: Client, customer: Customer) -> str:
    [view] = [c for c in await client.app[STORE].customer_conversations(customer.id)
              if c.status is not ConversationStatus.RESOLVED]
    return view.id


async def resolve(client: Client, conversation_id: str, answered: bool = True) -> None:
    """An agent resolves the conversation; ``answered``: after replying to the customer in it (a survey
    rates an agent's help: one nobody answered is not asked)."""
    http = await console(client)
    try:
        if answered:
            async with http.post(f"/api/conversations/{conversation_id}/messages",
                                 json={"text": "Посмотрел: всё в порядке / All sorted"}) as resp:
                assert resp.status in (200, 201), await resp.text()
        async with http.post(f"/api/conversations/{conversation_id}/resolve", json={}) as resp:
            assert resp.status == 200, await resp.text()
    finally:
        await http.close()


async def survey_of(client: Client, conversation_id: str) -> Survey | None:
    return await client.app[STORE].conversation_survey(conversation_id)


def buttons_of(call: Call) -> list[dict[str, Any]]:
    return [b for row in call.params["reply_markup"]["inline_keyboard"] for b in row]


def keyboards(api: FakeTelegram) -> list[Call]:
    return [c for c in api.sent("sendMessage") if "inline_keyboard" in (c.params.get("reply_markup") or {})]


def pressed(button: dict[str, Any], message_id: int, query_id: str = "4382bfdwdsb323b2d9") -> dict[str, Any]:
    """A callback_query update as Telegram sends one for a button under the bot's message."""
    bot_message = {"message_id": message_id, "from": {"id": 123456789, "is_bot": True, "first_name": "Shop",
                                                      "username": "shop_bot"},
                   "chat": {"id": tg.USER, "first_name": "Ivan", "type": "private"}, "date": tg.DATE,
                   "text": "Пожалуйста, оцените…"}
    return tg.update(callback_query={"id": query_id, "from": tg.user(), "message": bot_message,
                                     "chat_instance": "-8732451234567890", "data": button["callback_data"]})


async def telegram(client: Client, message_id: int, text: str) -> None:
    assert await tg.post(client, tg.text_update(message_id, text)) == 200


async def whatsapp(client: Client, body: str) -> None:
    assert await tw.post(client, "whatsapp", tw.whatsapp_form(body, sender=PHONE)) == 200


def whatsapp_texts(api: FakeTwilio) -> list[str]:
    return [c.get("Body") or "" for c in api.sent()]


# -- Telegram: buttons -------------------------------------------------------------------------


async def test_a_rating_over_telegrams_buttons_and_its_comment(svc: Client, tg_api: FakeTelegram) -> None:
    async with svc.app[BUS].subscribe() as subscription:
        await _rate_over_telegram(svc, tg_api)
        rated: list[Event] = []
        while not subscription.queue.empty():
            event = subscription.queue.get_nowait()
            if event is not None and event.type == events.CSAT_RATED:
                rated.append(event)
    assert [e.data["survey"]["rating"] for e in rated] == [4, 4]
    assert rated[-1].data["survey"]["comment"] == "Отвечали долго, но помогли"


async def _rate_over_telegram(svc: Client, tg_api: FakeTelegram) -> None:
    await telegram(svc, 1, "Где мой заказ?")
    customer = await customer_of(svc, "telegram", str(tg.USER))
    conversation_id = await open_conversation(svc, customer)
    await resolve(svc, conversation_id)

    [asked] = await eventually(lambda: _some(keyboards(tg_api)), "the question with its buttons")
    assert asked.params["text"].startswith("Пожалуйста, оцените")  # the customer wrote Russian
    rows = asked.params["reply_markup"]["inline_keyboard"]
    buttons = [b for row in rows for b in row]
    assert [b["text"] for b in buttons] == ["1 — плохо", "2 — так себе", "3 — нормально", "4 — хорошо", "5 — отлично"]
    assert len({b["callback_data"] for b in buttons}) == 5

    press = pressed(buttons[3], 2)
    assert await tg.post(svc, press) == 200
    assert await tg.post(svc, press) == 200  # Telegram delivers it again: rated once
    survey = await eventually(lambda: _rated(svc, conversation_id), "the rating")
    assert survey.rating == 4 and survey.customer_id == customer.id and survey.channel == "telegram"
    answers = tg_api.sent("answerCallbackQuery")
    assert answers and {c.params["callback_query_id"] for c in answers} == {"4382bfdwdsb323b2d9"}
    assert tg_api.sent("editMessageReplyMarkup")  # the keyboard is taken away: one rating a survey

    # the rating neither reopened the conversation nor opened one
    conversations = await svc.app[STORE].customer_conversations(customer.id)
    assert [c.status for c in conversations] == [ConversationStatus.RESOLVED]
    prompt = await eventually(lambda: _texts_with(tg_api, "Спасибо за оценку"), "the comment prompt")
    assert prompt

    await telegram(svc, 3, "Отвечали долго, но помогли")
    commented = await eventually(lambda: _commented(svc, conversation_id), "the comment")
    assert commented.comment == "Отвечали долго, но помогли" and commented.rating == 4
    await eventually(lambda: _texts_with(tg_api, "Спасибо за отзыв"), "the thanks")
    assert [c.status for c in await svc.app[STORE].customer_conversations(customer.id)] == [
        ConversationStatus.RESOLVED]

    # resolving again later (reopened by a new question) is another conversation: asked once per conversation
    await telegram(svc, 4, "И ещё вопрос")
    again = await open_conversation(svc, customer)
    assert again != conversation_id
    assert await survey_of(svc, again) is None


async def test_a_button_of_someone_elses_survey_rates_nothing(svc: Client, tg_api: FakeTelegram) -> None:
    await telegram(svc, 1, "Hello, where is my parcel?")
    customer = await customer_of(svc, "telegram", str(tg.USER))
    conversation_id = await open_conversation(svc, customer)
    await resolve(svc, conversation_id)
    [asked] = await eventually(lambda: _some(keyboards(tg_api)), "the question")
    assert asked.params["text"].startswith("Please rate")
    forged = {"callback_data": "csat:csat_00000000000000000000:1"}
    stored_before = [m.id for m in await svc.app[STORE].customer_messages(customer.id, 100)]
    assert await tg.post(svc, pressed(forged, 2, query_id="q-forged")) == 200
    # acknowledged and dropped: not stored, not routed (no conversation opened for a "1")
    assert [m.id for m in await svc.app[STORE].customer_messages(customer.id, 100)] == stored_before
    assert [c.status for c in await svc.app[STORE].customer_conversations(customer.id)] == [
        ConversationStatus.RESOLVED]
    assert (await survey_of(svc, conversation_id)) is not None
    assert (await survey_of(svc, conversation_id)).rating is None  # type: ignore[union-attr]
    assert {c.params["callback_query_id"] for c in tg_api.sent("answerCallbackQuery")} == {"q-forged"}
    # a score outside 1-5 under a real survey's id (a forged payload) rates nothing either
    real = buttons_of(asked)[0]["callback_data"].rsplit(":", 1)[0]
    before = await svc.app[STORE].customer_messages(customer.id, 100)
    assert await tg.post(svc, pressed({"callback_data": f"{real}:9"}, 2, query_id="q-nine")) == 200
    assert (await survey_of(svc, conversation_id)).rating is None  # type: ignore[union-attr]
    assert await svc.app[STORE].customer_messages(customer.id, 100) == before  # nothing stored
    # a press that is no rating at all is answered too, and stores nothing
    other = tg.update(callback_query={"id": "q-other", "from": tg.user(), "chat_instance": "-1", "data": "more"})
    assert await tg.post(svc, other) == 200
    assert "q-other" in {c.params["callback_query_id"] for c in tg_api.sent("answerCallbackQuery")}


# -- WhatsApp: a typed number ------------------------------------------------------------------


async def test_a_typed_number_rates_and_a_bad_one_is_asked_again_once(svc: Client, twilio_api: FakeTwilio) -> None:
    await whatsapp(svc, "Hello, my order 1042 has not arrived")
    customer = await customer_of(svc, "whatsapp", PHONE)
    conversation_id = await open_conversation(svc, customer)
    await resolve(svc, conversation_id)
    question = await eventually(lambda: _one_with(whatsapp_texts(twilio_api), "Please rate"), "the question")
    assert "Reply with a number from 1 to 5." in question

    await whatsapp(svc, "7")
    await eventually(lambda: _one_with(whatsapp_texts(twilio_api), "Please reply with a number from 1 to 5"),
                     "the re-ask")
    await whatsapp(svc, "5/5")
    survey = await eventually(lambda: _rated(svc, conversation_id), "the rating")
    assert survey.rating == 5 and survey.reasked
    assert [c.status for c in await svc.app[STORE].customer_conversations(customer.id)] == [
        ConversationStatus.RESOLVED]
    # the answers are in the resolved conversation, for the agent to read
    texts = [m.text for m in await svc.app[STORE].list_messages(conversation_id, 50) if m.author is Author.CUSTOMER]
    assert texts[-2:] == ["7", "5/5"]


async def test_a_second_bad_number_is_an_ordinary_message(svc: Client, twilio_api: FakeTwilio) -> None:
    await whatsapp(svc, "Hello, my order 1042 has not arrived")
    customer = await customer_of(svc, "whatsapp", PHONE)
    conversation_id = await open_conversation(svc, customer)
    await resolve(svc, conversation_id)
    await eventually(lambda: _one_with(whatsapp_texts(twilio_api), "Please rate"), "the question")
    await whatsapp(svc, "0")
    await eventually(lambda: _one_with(whatsapp_texts(twilio_api), "Please reply with a number"), "the re-ask")
    await whatsapp(svc, "10")
    reopened = await open_conversation(svc, customer)  # it goes where the rules say: a new conversation
    assert reopened != conversation_id
    survey = await survey_of(svc, conversation_id)
    assert survey is not None and survey.rating is None and survey.closed_at is not None
    assert sum("Please reply with a number" in t for t in whatsapp_texts(twilio_api)) == 1


async def test_words_after_the_question_are_a_new_question_and_end_typed_answers(
        svc: Client, twilio_api: FakeTwilio) -> None:
    await whatsapp(svc, "Hello, my order 1042 has not arrived")
    customer = await customer_of(svc, "whatsapp", PHONE)
    conversation_id = await open_conversation(svc, customer)
    await resolve(svc, conversation_id)
    await eventually(lambda: _one_with(whatsapp_texts(twilio_api), "Please rate"), "the question")
    await whatsapp(svc, "One more thing: can I change the address?")
    new = await open_conversation(svc, customer)
    assert new != conversation_id
    await whatsapp(svc, "3")  # an answer in the new conversation, not a rating
    survey = await survey_of(svc, conversation_id)
    assert survey is not None and survey.rating is None and survey.closed_at is not None
    texts = [m.text for m in await svc.app[STORE].list_messages(new, 50) if m.author is Author.CUSTOMER]
    assert texts == ["One more thing: can I change the address?", "3"]


# -- switches ---------------------------------------------------------------------------------


async def test_nobody_is_asked_without_csat_yaml_or_where_the_team_says_no(start: Maker, tg_api: FakeTelegram
                                                                          ) -> None:
    svc = await start(csat="enabled: true\nteams:\n  support: {enabled: false}\n")
    await telegram(svc, 1, "Hello")
    customer = await customer_of(svc, "telegram", str(tg.USER))
    conversation_id = await open_conversation(svc, customer)
    await resolve(svc, conversation_id)
    assert await survey_of(svc, conversation_id) is None
    assert keyboards(tg_api) == []


@pytest.mark.parametrize(("now", "asked"), [(WEDNESDAY_NOON, True), (SUNDAY_NOON, False)])
async def test_after_hours_the_team_may_not_ask(start: Maker, tg_api: FakeTelegram, now: datetime, asked: bool
                                                ) -> None:
    svc = await start(csat="enabled: true\nteams:\n  support: {after_hours: false}\n", rules=AFTER_HOURS)
    svc.app[ROUTER].clock = lambda: now
    await telegram(svc, 1, "Hello")
    customer = await customer_of(svc, "telegram", str(tg.USER))
    conversation_id = await open_conversation(svc, customer)
    await resolve(svc, conversation_id)
    assert (await survey_of(svc, conversation_id) is not None) is asked


async def test_a_second_resolve_asks_nothing_more(svc: Client, tg_api: FakeTelegram) -> None:
    """Reopened by an agent's hand (the store allows resolving only what is open) and
    resolved again: the conversation was asked already."""
    await telegram(svc, 1, "Hello")
    customer = await customer_of(svc, "telegram", str(tg.USER))
    conversation_id = await open_conversation(svc, customer)
    await resolve(svc, conversation_id)
    view = await svc.app[STORE].get_conversation(conversation_id)
    router = svc.app[ROUTER]
    await router.surveys.on_resolved(view, "agt_other")  # a redelivered resolve, another node's
    await eventually(lambda: _some(keyboards(tg_api)), "the question")
    assert len(keyboards(tg_api)) == 1


async def test_a_conversation_no_agent_answered_is_not_asked(svc: Client, tg_api: FakeTelegram) -> None:
    """Resolved unanswered from the queue, or after only a private note: nobody helped to be rated."""
    await telegram(svc, 1, "Hello")
    customer = await customer_of(svc, "telegram", str(tg.USER))
    unanswered = await open_conversation(svc, customer)
    await resolve(svc, unanswered, answered=False)
    await telegram(svc, 2, "Hello again")
    noted = await open_conversation(svc, customer)
    assert noted != unanswered
    http = await console(svc)
    try:
        async with http.post(f"/api/conversations/{noted}/assign", json={}) as resp:
            assert resp.status == 200, await resp.text()
        async with http.post(f"/api/conversations/{noted}/notes", json={"text": "spam, closing"}) as resp:
            assert resp.status == 201, await resp.text()
    finally:
        await http.close()
    await resolve(svc, noted, answered=False)
    # an answered one is asked: the survey's sign that the resolves above were seen through
    await telegram(svc, 3, "And where is my order?")
    answered = await open_conversation(svc, customer)
    await resolve(svc, answered)
    await eventually(lambda: _some(keyboards(tg_api)), "the question of the answered conversation")
    assert await survey_of(svc, unanswered) is None
    assert await survey_of(svc, noted) is None
    assert len(keyboards(tg_api)) == 1


async def test_a_conversation_only_the_bot_answered_is_not_asked(start: Maker, tg_api: FakeTelegram) -> None:
    """The survey rates an agent's help: the bot's answers, and its handoff notice, are nobody's to rate."""
    svc = await start(rules="default:\n  bot: {then: {team: support}}\n", bot=True)
    await telegram(svc, 1, "Hello")
    customer = await customer_of(svc, "telegram", str(tg.USER))
    conversation_id = await open_conversation(svc, customer)
    bot_said = await eventually(lambda: _bot_messages(svc, conversation_id), "the bot's answer")
    assert bot_said
    await resolve(svc, conversation_id, answered=False)
    assert (await svc.app[STORE].get_conversation(conversation_id)).status is ConversationStatus.RESOLVED
    assert await survey_of(svc, conversation_id) is None
    assert keyboards(tg_api) == []


async def _bot_messages(client: Client, conversation_id: str) -> list[str] | None:
    said = [m.text for m in await client.app[STORE].list_messages(conversation_id, 50) if m.author is Author.BOT]
    return said or None


# -- probes -------------------------------------------------------------------------------------


async def _some(items: list[Call]) -> list[Call] | None:
    return items or None


async def _rated(client: Client, conversation_id: str) -> Survey | None:
    survey = await survey_of(client, conversation_id)
    return survey if survey is not None and survey.rating is not None else None


async def _commented(client: Client, conversation_id: str) -> Survey | None:
    survey = await survey_of(client, conversation_id)
    return survey if survey is not None and survey.comment is not None else None


async def _texts_with(api: FakeTelegram, start: str) -> list[str] | None:
    found = [c.params["text"] for c in api.sent("sendMessage") if c.params.get("text", "").startswith(start)]
    return found or None


async def _one_with(texts: list[str], part: str) -> str | None:
    return next((t for t in texts if part in t), None)


async def test_a_number_after_the_answer_window_is_an_ordinary_message(svc: Client, twilio_api: FakeTwilio) -> None:
    await whatsapp(svc, "Hello, my order 1042 has not arrived")
    customer = await customer_of(svc, "whatsapp", PHONE)
    conversation_id = await open_conversation(svc, customer)
    await resolve(svc, conversation_id)
    await eventually(lambda: _one_with(whatsapp_texts(twilio_api), "Please rate"), "the question")
    router = svc.app[ROUTER]
    later = router.clock() + timedelta(hours=25)  # csat.yaml's answer_window is 24 h by default
    router.clock = lambda: later
    await whatsapp(svc, "5")
    assert await open_conversation(svc, customer) != conversation_id
    survey = await survey_of(svc, conversation_id)
    assert survey is not None and survey.rating is None and survey.closed_at == later


async def test_a_rating_stored_just_before_a_crash_is_read_as_one_on_restart(svc: Client, twilio_api: FakeTwilio
                                                                            ) -> None:
    await whatsapp(svc, "Hello, my order 1042 has not arrived")
    customer = await customer_of(svc, "whatsapp", PHONE)
    conversation_id = await open_conversation(svc, customer)
    await resolve(svc, conversation_id)
    await eventually(lambda: _one_with(whatsapp_texts(twilio_api), "Please rate"), "the question")
    # stored (the platform was told "received"), then the process died before reading it
    router = svc.app[ROUTER]
    await svc.app[STORE].insert_inbound(InboundMessage(
        channel="whatsapp", external_id="SM-before-the-crash", sender=IdentityRef(kind="whatsapp", value=PHONE),
        text="4"), router.clock())
    assert await router.ingest.resume() == 1
    survey = await survey_of(svc, conversation_id)
    assert survey is not None and survey.rating == 4
    assert [c.status for c in await svc.app[STORE].customer_conversations(customer.id)] == [
        ConversationStatus.RESOLVED]
