"""Which messages after a survey are its answers, over the platforms' fakes:
a new request after the rating is routed, never swallowed as the comment; a
rating typed in words; a button pressed while a newer conversation is open
or pressed again; a customer who wrote again before the question; surveys
switched off."""
# ruff: noqa: F811 (the fixtures of test_csat, imported, are the tests' parameters)

from __future__ import annotations

from datetime import timedelta

import pytest

from router.csat.config import CsatConfig
from router.models import Author, ConversationStatus
from router.server.app import ROUTER, STORE
from tests.conftest import eventually
from tests.connectors import test_telegram as tg
from tests.connectors.test_csat import (  # noqa: F401 (fixtures)
    PHONE,
    Client,
    _one_with,
    _rated,
    _some,
    _texts_with,
    buttons_of,
    customer_of,
    keyboards,
    open_conversation,
    pressed,
    resolve,
    start,
    survey_of,
    svc,
    telegram,
    whatsapp,
    whatsapp_texts,
)
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import FakeTwilio


async def _asked_on_whatsapp(svc: Client, twilio_api: FakeTwilio) -> tuple[str, str]:
    await whatsapp(svc, "Hello, my order 1042 has not arrived")
    customer = await customer_of(svc, "whatsapp", PHONE)
    conversation_id = await open_conversation(svc, customer)
    await resolve(svc, conversation_id)
    await eventually(lambda: _one_with(whatsapp_texts(twilio_api), "Please rate"), "the question")
    return customer.id, conversation_id


@pytest.mark.parametrize("text", [
    "Can I also change the delivery address for my next order?",
    "My next order is wrong too. " * 12,  # over 300 characters: a new request, not a comment
])
async def test_a_new_request_after_the_rating_is_routed_not_swallowed(svc: Client, twilio_api: FakeTwilio,
                                                                      text: str) -> None:
    customer_id, conversation_id = await _asked_on_whatsapp(svc, twilio_api)
    await whatsapp(svc, "5")
    await eventually(lambda: _one_with(whatsapp_texts(twilio_api), "Thank you for your rating"), "the prompt")
    await whatsapp(svc, text)
    views = await svc.app[STORE].customer_conversations(customer_id)
    [new] = [v for v in views if v.status is not ConversationStatus.RESOLVED]  # routed: a conversation opened
    assert [m.text for m in await svc.app[STORE].list_messages(new.id, 50) if m.author is Author.CUSTOMER] == [text]
    survey = await survey_of(svc, conversation_id)
    assert survey is not None and survey.rating == 5 and survey.comment is None and survey.closed_at is not None
    assert not any("Thank you for your feedback" in t for t in whatsapp_texts(twilio_api))


@pytest.mark.parametrize(("text", "score"), [("5, спасибо!", 5), ("Оценка 4", 4), ("5 stars, thanks", 5),
                                             ("3 звезды", 3)])
async def test_a_rating_typed_with_words_rates(svc: Client, twilio_api: FakeTwilio, text: str, score: int) -> None:
    customer_id, conversation_id = await _asked_on_whatsapp(svc, twilio_api)
    await whatsapp(svc, text)
    survey = await eventually(lambda: _rated(svc, conversation_id), "the rating")
    assert survey.rating == score
    assert [v.status for v in await svc.app[STORE].customer_conversations(customer_id)] == [
        ConversationStatus.RESOLVED]


async def test_ten_out_of_ten_is_asked_again(svc: Client, twilio_api: FakeTwilio) -> None:
    customer_id, _ = await _asked_on_whatsapp(svc, twilio_api)
    await whatsapp(svc, "10/10")
    await eventually(lambda: _one_with(whatsapp_texts(twilio_api), "Please reply with a number from 1 to 5"),
                     "the re-ask")
    assert [v.status for v in await svc.app[STORE].customer_conversations(customer_id)] == [
        ConversationStatus.RESOLVED]


async def test_a_press_while_a_newer_conversation_is_open_stays_with_its_survey(svc: Client, tg_api: FakeTelegram
                                                                              ) -> None:
    await telegram(svc, 1, "Hello, where is my parcel?")
    customer = await customer_of(svc, "telegram", str(tg.USER))
    conversation_id = await open_conversation(svc, customer)
    await resolve(svc, conversation_id)
    [asked] = await eventually(lambda: _some(keyboards(tg_api)), "the question")
    await telegram(svc, 2, "One more thing about the delivery")
    newer = await open_conversation(svc, customer)
    assert newer != conversation_id

    assert await tg.post(svc, pressed(buttons_of(asked)[3], 2, query_id="q-late")) == 200
    survey = await eventually(lambda: _rated(svc, conversation_id), "the rating")
    assert survey.rating == 4
    await eventually(lambda: _texts_with(tg_api, "Thank you for your feedback"), "the thanks")
    assert await _texts_with(tg_api, "Thank you for your rating") is None  # no comment asked for
    store = svc.app[STORE]
    assert [m.text for m in await store.list_messages(newer, 50) if m.author is Author.CUSTOMER] == [
        "One more thing about the delivery"]
    # the next words are the newer conversation's, not a comment
    await telegram(svc, 3, "The courier never called")
    assert await open_conversation(svc, customer) == newer
    texts = [m.text for m in await store.list_messages(newer, 50) if m.author is Author.CUSTOMER]
    assert texts[-1] == "The courier never called"
    assert (await survey_of(svc, conversation_id)).comment is None  # type: ignore[union-attr]

    # the button pressed again: answered politely, nothing asked, nothing filed into the newer conversation
    assert await tg.post(svc, pressed(buttons_of(asked)[0], 2, query_id="q-again")) == 200
    await eventually(lambda: _texts_with(tg_api, "Thank you, your rating has already been recorded"), "the answer")
    assert (await survey_of(svc, conversation_id)).rating == 4  # type: ignore[union-attr]
    assert len([m for m in await store.list_messages(newer, 50) if m.author is Author.CUSTOMER]) == 2


async def test_a_customer_who_wrote_again_before_the_question_is_not_asked(svc: Client, tg_api: FakeTelegram) -> None:
    await telegram(svc, 1, "Hello")
    customer = await customer_of(svc, "telegram", str(tg.USER))
    conversation_id = await open_conversation(svc, customer)
    router = svc.app[ROUTER]
    asking = router.surveys.config
    router.surveys.config = CsatConfig()  # the resolve goes through without asking...
    await resolve(svc, conversation_id)
    await telegram(svc, 2, "Wait, one more question")  # ...the customer writes again, a new conversation...
    assert await open_conversation(svc, customer) != conversation_id
    router.surveys.config = asking  # ...and the question comes only now (between resolve and claim)
    view = await svc.app[STORE].get_conversation(conversation_id)
    assert await router.surveys.on_resolved(view, "agt_1") is None
    assert keyboards(tg_api) == []


async def test_with_surveys_off_a_number_is_an_ordinary_message(svc: Client, twilio_api: FakeTwilio) -> None:
    _, conversation_id = await _asked_on_whatsapp(svc, twilio_api)
    svc.app[ROUTER].surveys.config = CsatConfig()  # csat.yaml removed: nobody asked, nothing read as an answer
    await whatsapp(svc, "5")
    assert await open_conversation(svc, await customer_of(svc, "whatsapp", PHONE)) != conversation_id
    survey = await survey_of(svc, conversation_id)
    assert survey is not None and survey.rating is None


async def test_a_comment_after_the_window_is_routed(svc: Client, twilio_api: FakeTwilio) -> None:
    _, conversation_id = await _asked_on_whatsapp(svc, twilio_api)
    await whatsapp(svc, "4")
    await eventually(lambda: _one_with(whatsapp_texts(twilio_api), "Thank you for your rating"), "the prompt")
    router = svc.app[ROUTER]
    later = router.clock() + timedelta(minutes=11)
    router.clock = lambda: later
    await whatsapp(svc, "nice")
    assert await open_conversation(svc, await customer_of(svc, "whatsapp", PHONE)) != conversation_id
