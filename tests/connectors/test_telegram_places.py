"""Places and context a customer sends on Telegram, as the Bot API documents
them (https://core.telegram.org/bots/api#message): a live location, whose
every move Telegram sends as an ``edited_message``; a venue, with its title
and address; and the quoted part of a message a reply answers.

A customer may also write in a topic of their private chat with the bot (Bot
API 9.x: ``message_thread_id`` with ``is_topic_message``): the answer goes
back into that topic.

The whole service runs against the local fake of the Bot API."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from router.models import ConversationStatus, Delivery, Role
from router.server.app import ROUTER, STORE
from tests.connectors.test_telegram import (  # noqa: F401  (fixtures)
    DATE,
    Client,
    customer_messages,
    inbound,
    message,
    post,
    reply,
    settled,
    tg,
    tg_api,
    tg_settings,
    update,
)
from tests.fakes.telegram_api import FakeTelegram

# a live location as the Bot API sends it: live_period in seconds (0x7FFFFFFF: "until I stop")
LIVE = {"latitude": 55.755826, "longitude": 37.617299, "horizontal_accuracy": 12.5, "live_period": 900,
        "heading": 90}


def moved(message_id: int, seconds: int, location: dict[str, Any]) -> dict[str, Any]:
    """The edited_message Telegram sends as the customer's live location moves."""
    return update(edited_message=message(message_id, location=location, edit_date=DATE + seconds))


async def resolved(client: Client, conversation_id: str) -> None:
    store = client.app[STORE]
    agent = await store.create_agent("ann", "Ann", Role.AGENT, "x")
    await client.app[ROUTER].conversations.resolve(conversation_id, agent)


async def test_a_live_location_moving_is_no_new_message_and_reopens_nothing(
        tg: Client, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    assert await post(tg, update(message=message(90, location=LIVE))) == 200
    [shared] = await inbound(tg)
    assert shared.extras["description"] == "[location 55.755826, 37.617299]"
    assert shared.conversation_id is not None
    await resolved(tg, shared.conversation_id)
    before = await customer_messages(tg)
    caplog.set_level(logging.INFO, logger="connectors.telegram")
    caplog.clear()

    # the position moves every few seconds for the live period, then sharing stops (no live_period)
    for seconds, period in ((30, 900), (60, 900), (90, 0x7FFFFFFF)):
        step = LIVE | {"latitude": LIVE["latitude"] + seconds / 1e5, "live_period": period}
        assert await post(tg, moved(90, seconds, step)) == 200
    stopped = {"latitude": 55.756826, "longitude": 37.617299}
    assert await post(tg, moved(90, 120, stopped)) == 200

    # nothing the agent or the customer would see: no message, no conversation opened again, nothing routed
    assert await customer_messages(tg) == before
    assert shared.customer_id is not None
    [conversation] = await tg.app[STORE].customer_conversations(shared.customer_id)
    assert (conversation.id, conversation.status) == (shared.conversation_id, ConversationStatus.RESOLVED)
    # one every few seconds for hours: not a line each in the service's log
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO] == []


# a venue as the Bot API sends it: the place, and its location again in ``location`` for older clients
RED_SQUARE = {"latitude": 55.754693, "longitude": 37.621566}
VENUE = {"location": RED_SQUARE, "title": "ГУМ", "address": "Красная пл., 3",
         "foursquare_id": "4b5c7a4af964a520a6382ae3", "foursquare_type": "shops/mall"}


async def test_a_venue_is_shown_by_its_title_and_address(tg: Client) -> None:  # noqa: F811
    assert await post(tg, update(message=message(91, venue=VENUE, location=RED_SQUARE))) == 200
    [place] = await inbound(tg)
    assert (place.text, place.extras["description"]) == ("", "[place ГУМ, Красная пл., 3]")
    assert place.extras["venue"] == {k: v for k, v in VENUE.items() if k != "location"}
    assert [(a.kind, a.extras) for a in place.attachments] == [("location", RED_SQUARE)]


async def test_the_quoted_part_of_the_message_answered_is_kept_and_shown(tg: Client) -> None:  # noqa: F811
    bot = {"id": 123456789, "is_bot": True, "first_name": "Shop", "username": "shop_bot"}
    ours = {"message_id": 92, "from": bot, "chat": message(92)["chat"], "date": DATE - 60,
            "text": "Доставка: курьером до двери или в пункт выдачи на Тверской, 7."}
    quote = {"text": "в пункт выдачи на Тверской, 7", "position": 32, "is_manual": True}
    assert await post(tg, update(message=message(93, text="А до скольки он открыт?",
                                                 reply_to_message=ours, quote=quote))) == 200
    [asked] = await inbound(tg)
    assert asked.text == "А до скольки он открыт?"
    assert (asked.extras["reply_to"], asked.extras["quote"]) == (f"{ours['chat']['id']}:92", quote["text"])
    # the console shows extras.quoted above the message: "In reply to Shop: в пункт выдачи на Тверской, 7"
    assert asked.extras["quoted"] == [{"kind": "reply", "from_id": bot["id"], "sender_name": "Shop",
                                       "date": DATE - 60, "text": quote["text"], "attachments": []}]


async def test_an_answer_goes_back_into_the_customers_topic(tg: Client, tg_api: FakeTelegram) -> None:  # noqa: F811
    topic = {"message_thread_id": 17, "is_topic_message": True}
    assert await post(tg, update(message=message(94, text="Где мой заказ 1042?", **topic))) == 200
    [asked] = await inbound(tg)
    assert asked.extras["message_thread_id"] == 17
    sent = await settled(tg, await reply(tg, "Уже в пути"))
    assert sent.delivery is Delivery.SENT
    [answer] = tg_api.sent("sendMessage")
    assert (answer.params["text"], answer.params["message_thread_id"]) == ("Уже в пути", "17")  # a form field


async def test_an_answer_to_a_topic_gone_reaches_the_chat_itself(tg: Client, tg_api: FakeTelegram) -> None:  # noqa: F811
    assert await post(tg, update(message=message(95, text="Где мой заказ?", message_thread_id=18,
                                                 is_topic_message=True))) == 200
    # the customer deleted the topic meanwhile: Telegram refuses the topic, not the chat
    tg_api.fail_while("sendMessage", lambda params: "message_thread_id" in params, 400,
                      "Bad Request: message thread not found")
    sent = await settled(tg, await reply(tg, "Уже в пути"))
    assert sent.delivery is Delivery.SENT
    into_topic, into_chat = tg_api.sent("sendMessage")
    assert into_topic.params["message_thread_id"] == "18" and "message_thread_id" not in into_chat.params
    assert into_chat.params["text"] == "Уже в пути"
