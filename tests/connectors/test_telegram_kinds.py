"""What kind of message a Telegram update is, as the Bot API documents its
Message (https://core.telegram.org/bots/api#message): the customer's own
words; content without words (a dice, a poll, a story), described for the
agent; a forward, whose words are someone else's; and service messages
(a pin, an auto-delete timer, write access), which are no message at all.

The whole service runs against the local fake of the Bot API."""

from __future__ import annotations

from typing import Any

import pytest

from router.server.app import STORE
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
)

# as the Bot API documents a poll now (persistent_id, allows_revoting, members_only), and as it did
POLL = {"id": "5385737411", "allows_revoting": False, "members_only": False, "question": "Как вам доставка?",
        "total_voter_count": 0, "is_closed": False,
        "is_anonymous": True, "type": "regular", "allows_multiple_answers": False,
        "options": [{"text": "Хорошо", "voter_count": 0, "persistent_id": "a1"},
                    {"text": "Плохо", "voter_count": 0, "persistent_id": "a2"}]}
OLDER_POLL = {k: v for k, v in POLL.items() if k not in ("allows_revoting", "members_only")} | {
    "options": [{"text": "Хорошо", "voter_count": 0}]}
SERVICE = {
    "pinned_message": {"message_id": 1, "date": DATE, "chat": message(1)["chat"], "text": "pinned words"},
    "message_auto_delete_timer_changed": {"message_auto_delete_time": 86400},
    "write_access_allowed": {"from_request": True},
    "chat_background_set": {"type": {"type": "fill", "dark_theme_dimming": 0,
                                     "fill": {"type": "solid", "color": 7000000}}},
}
# someone else's words, with a phone and an address in them that are not the customer's
WORDS = "Напишите Пете: +7 916 111-22-33, petya@example.org"
ORIGINS = {
    "user": ({"type": "user", "date": DATE - 3600,
              "sender_user": {"id": 5550001, "is_bot": False, "first_name": "Петя", "last_name": "Иванов"}},
             5550001, "Петя Иванов"),
    "hidden_user": ({"type": "hidden_user", "date": DATE - 3600, "sender_user_name": "Аноним"}, None, "Аноним"),
    "channel": ({"type": "channel", "date": DATE - 3600, "message_id": 77,
                 "chat": {"id": -1001234567, "type": "channel", "title": "Новости магазина"}},
                -1001234567, "Новости магазина"),
}


@pytest.mark.parametrize("kind", list(SERVICE))
async def test_a_service_message_is_acknowledged_and_stores_nothing(tg: Client, kind: str) -> None:  # noqa: F811
    assert await post(tg, update(message=message(20, **{kind: SERVICE[kind]}))) == 200
    assert await inbound(tg) == []
    # no conversation for an agent with nothing to answer
    assert await tg.app[STORE].list_conversations(None, 10) == []


@pytest.mark.parametrize(("fields", "described"), [
    ({"dice": {"emoji": "🎲", "value": 4}}, "[🎲 4]"),
    ({"poll": POLL}, "[poll Как вам доставка?]"),
    ({"poll": OLDER_POLL}, "[poll Как вам доставка?]"),  # one aiogram's models refuse: read from the JSON
    ({"story": {"chat": {"id": -1001234567, "type": "channel", "title": "Shop"}, "id": 5}}, "[story]"),
])
async def test_content_without_words_is_described_by_its_kind(
        tg: Client, fields: dict[str, Any], described: str) -> None:  # noqa: F811
    assert await post(tg, update(message=message(21, **fields))) == 200
    [stored] = await inbound(tg)
    assert (stored.text, stored.extras["description"]) == ("", described)


@pytest.mark.parametrize("origin", list(ORIGINS))
async def test_a_forward_is_a_quote_and_claims_nothing(tg: Client, origin: str) -> None:  # noqa: F811
    shape, from_id, name = ORIGINS[origin]
    assert await post(tg, update(message=message(22, text=WORDS, forward_origin=shape))) == 200
    [stored] = await inbound(tg)
    assert (stored.text, stored.extras["description"]) == ("", "[forwarded message]")
    assert stored.extras["quoted"] == [{"kind": "forward", "from_id": from_id, "sender_name": name,
                                        "date": DATE - 3600, "text": WORDS, "attachments": []}]
    assert stored.customer_id is not None
    assert await tg.app[STORE].customer_claims(stored.customer_id) == []


async def test_a_forwarded_photo_keeps_its_file_and_quotes_its_caption(tg: Client) -> None:  # noqa: F811
    shape = ORIGINS["user"][0]
    assert await post(tg, update(message=message(23, photo=PHOTO, caption=WORDS, forward_origin=shape))) == 200
    [stored] = await inbound(tg)
    assert stored.text == "" and stored.extras["quoted"][0]["text"] == WORDS
    assert [a.extras["file_id"] for a in stored.attachments] == [PHOTO[-1]["file_id"]]


async def test_the_customers_own_words_stay_theirs(tg: Client) -> None:  # noqa: F811
    assert await post(tg, update(message=message(24, text=WORDS))) == 200
    [stored] = await inbound(tg)
    assert stored.text == WORDS and "quoted" not in stored.extras
    assert stored.customer_id is not None
    assert {c.source for c in await tg.app[STORE].customer_claims(stored.customer_id)} == {"telegram:text"}
