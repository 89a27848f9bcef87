"""Telegram updates from a newer Bot API than aiogram's models, and what
connector-written words must never be taken for: the whole running service,
by webhook and by polling through the fake Bot API server.

Telegram adds kinds inside objects it already sends (a ``forward_origin``
type, a reaction type, a message entity type, a chat type, a field): such an
update is stored as far as it can be read, acknowledged, and never stops the
channel; customers' words never reach the log."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from router.config import ConnectorConfig, Settings
from router.models import Message
from router.server.app import STORE
from tests.conftest import AppClient, eventually
from tests.connectors.test_telegram import (  # noqa: F401  (fixtures)
    DATE,
    PHOTO,
    USER,
    Client,
    inbound,
    message,
    post,
    tg,
    tg_api,
    tg_settings,
    update,
    user,
)
from tests.fakes.telegram_api import FakeTelegram

SECRET_WORDS = "мой пароль от почты qwerty-SECRET"
STORY_ORIGIN = {"type": "story_repost", "date": DATE, "story": {"chat": {"id": -100777, "type": "channel"}, "id": 5}}
CUSTOMER_WORDS = [SECRET_WORDS, "Ivan", "Petrov"]


def _forwarded(message_id: int) -> dict[str, Any]:
    return message(message_id, text=SECRET_WORDS, forward_origin=STORY_ORIGIN)


# each: a message as a future Bot API may send it, and the words stored from it
FUTURE_MESSAGES: dict[str, tuple[dict[str, Any], str]] = {
    # forwarded: someone else's words, kept as the quote and never as the customer's text
    "unknown forward_origin type": (_forwarded(1), ""),
    "unknown message entity type": (message(2, text=SECRET_WORDS, entities=[
        {"type": "hologram_link", "offset": 0, "length": 3}]), SECRET_WORDS),
    "unknown fields everywhere": (
        {**message(3, text=SECRET_WORDS, glow_level=3), "from": {**user(), "aura": {"x": 1}},
         "chat": {"id": USER, "type": "private", "first_name": "Ivan", "mood": "ok"}}, SECRET_WORDS),
    "caption with a known photo and a poll aiogram cannot read": (message(
        4, photo=PHOTO, caption=SECRET_WORDS,
        poll={"id": "5", "question": "?", "options": [], "total_voter_count": 0, "is_closed": False,
              "is_anonymous": True, "type": "regular", "allows_multiple_answers": False}), SECRET_WORDS),
    "a reply to a message with an unknown forward origin": (
        message(5, text=SECRET_WORDS, reply_to_message=_forwarded(4)), SECRET_WORDS),
    "an external reply of an unknown origin": (
        message(6, text=SECRET_WORDS, external_reply={"origin": STORY_ORIGIN}), SECRET_WORDS),
    "an unknown attachment kind alone": (message(7, hologram={"file_id": "HOLO1", "frames": 30}), ""),
    # aiogram requires a first_name; a sender without one is set aside, and read from the JSON
    "a sender aiogram cannot read": ({**message(9, text=SECRET_WORDS), "from": {"id": USER, "is_bot": False}},
                                     SECRET_WORDS),
}


@pytest.mark.parametrize("name", list(FUTURE_MESSAGES))
async def test_a_message_of_a_newer_bot_api_is_stored_as_far_as_it_can_be_read(
    tg: Client, caplog: pytest.LogCaptureFixture, name: str  # noqa: F811
) -> None:
    caplog.set_level(logging.DEBUG)
    body, words = FUTURE_MESSAGES[name]
    payload = update(message=body)
    assert await post(tg, payload) == 200
    [stored] = await inbound(tg)
    assert stored.text == words
    assert stored.external_id == f"{USER}:{body['message_id']}"
    assert stored.conversation_id is not None
    if name.startswith("caption"):
        assert stored.attachments[0].extras["file_id"] == PHOTO[-1]["file_id"]
    if name.startswith("a reply"):
        assert stored.extras["reply_to"] == f"{USER}:4"
    if name.startswith("unknown forward_origin"):
        assert stored.extras["description"] == "[forwarded message]"
        assert [(q["kind"], q["text"]) for q in stored.extras["quoted"]] == [("forward", SECRET_WORDS)]
    elif not words:
        assert stored.extras["description"] == "[hologram]"
    if name != "unknown message entity type":  # aiogram reads that one whole: nothing to keep
        assert stored.extras["telegram_update"] == payload
        assert stored.extras["unparsed"]
    assert await post(tg, payload) == 200  # Telegram's retry is the same message, once
    assert len(await inbound(tg)) == 1
    assert not any(w in caplog.text for w in CUSTOMER_WORDS)


@pytest.mark.parametrize("payload", [
    # a group of a chat type aiogram has never seen: not a customer's private chat
    update(message=message(8, text=SECRET_WORDS, chat={"id": -100555, "type": "guild", "title": "x"})),
    # a reaction of a type aiogram's models refuse (the update kind is known)
    update(message_reaction={"chat": {"id": USER, "type": "private", "first_name": "Ivan"}, "message_id": 8,
                             "user": user(), "date": DATE, "old_reaction": [],
                             "new_reaction": [{"type": "hologram", "hologram_id": "x"}]}),
    # an update kind newer than aiogram
    update(story_reaction={"from": user(), "story_id": 1, "text": SECRET_WORDS}),
])
async def test_other_updates_of_a_newer_bot_api_are_acknowledged(
    tg: Client, caplog: pytest.LogCaptureFixture, payload: dict[str, Any]  # noqa: F811
) -> None:
    caplog.set_level(logging.DEBUG)
    assert await post(tg, payload) == 200
    assert await inbound(tg) == []
    assert str(payload["update_id"]) in caplog.text
    assert SECRET_WORDS not in caplog.text


async def test_polling_moves_past_an_update_it_cannot_fully_read(
    make_client: AppClient, tg_settings: Settings, tg_api: FakeTelegram,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One update between two ordinary ones once stalled the bot: aiogram
    refused the batch, the offset never moved, the batch came forever."""
    caplog.set_level(logging.DEBUG)
    tg_settings.connectors["telegram"] = ConnectorConfig(
        type="telegram", api_base=tg_api.base_url, mode="polling", polling_timeout=1)
    batch = [update(message=message(90, 1001, text="first customer")),
             update(message={**_forwarded(91), "from": user(1002), "chat": {"id": 1002, "type": "private"}}),
             update(message=message(92, 1003, text="third customer"))]
    for item in batch:
        tg_api.push_update(item)
    client = await make_client(tg_settings)

    async def stored() -> list[list[Message]] | None:
        found = [await inbound(client, u) for u in (1001, 1002, 1003)]
        return found if all(found) else None

    first, second, third = await eventually(stored, "the three customers' messages")
    assert [first[0].text, second[0].text, third[0].text] == ["first customer", "", "third customer"]
    assert second[0].extras["quoted"][0]["text"] == SECRET_WORDS  # forwarded: a quote
    assert second[0].extras["unparsed"] == ["message.forward_origin"]

    async def confirmed() -> bool:
        return any(c.params.get("offset") == str(batch[-1]["update_id"] + 1) for c in tg_api.sent("getUpdates"))

    await eventually(confirmed, "the offset to move past the whole batch")
    assert not any(w in caplog.text for w in [*CUSTOMER_WORDS, "first customer", "third customer"])


async def test_a_shared_contact_of_someone_else_claims_nothing(tg: Client) -> None:  # noqa: F811
    """The connector's caption of a contact card ("[contact Мама +7903…]")
    was read as the customer's typed words and became a phone claim."""
    mum = {"phone_number": "+79031234567", "first_name": "Мама"}
    assert await post(tg, update(message=message(95, contact=mum))) == 200
    own = {"phone_number": "79123456789", "first_name": "Ivan", "user_id": USER}
    assert await post(tg, update(message=message(96, contact=own))) == 200
    typed = "мой второй номер +7 916 123-45-67"
    assert await post(tg, update(message=message(97, text=typed))) == 200
    contact, _, _ = await inbound(tg)
    assert contact.extras["description"] == "[contact Мама +79031234567]"
    assert contact.customer_id is not None
    claims = {(c.value, c.source, c.verified_at is not None)
              for c in await tg.app[STORE].customer_claims(contact.customer_id)}
    # the customer's own contact is proven by Telegram; the number they typed is only claimed
    assert claims == {("+79123456789", "telegram:proven_phone", True), ("+79161234567", "telegram:text", False)}
