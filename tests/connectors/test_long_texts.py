"""A text over MAX_TEXT_LENGTH is never dropped after a platform was told
"received": it is stored, cut for display, with the whole kept in
``extras["full_text"]``. Through each connector's own entry point, with
payloads shaped as each platform documents them."""

from __future__ import annotations

import logging

import pytest

from router.models import MAX_TEXT_LENGTH, Message
from tests.connectors import test_telegram as telegram
from tests.connectors import test_vk as vk_t
from tests.connectors import twilio_helpers as twilio
from tests.connectors.test_telegram import tg, tg_api, tg_settings  # noqa: F401  (fixtures)
from tests.connectors.test_vk import vk, vk_api, vk_settings  # noqa: F401  (fixtures)
from tests.connectors.twilio_helpers import tw, tw_settings, twilio_api  # noqa: F401  (fixtures)

# a customer's long letter: lines of words, a phone well past the cut
WHOLE = ("Добрый день! " + "Подробно о заказе 1042. " * 40 + "\n") * 20 + "конец письма"
assert len(WHOLE) > MAX_TEXT_LENGTH


def kept_whole(stored: Message) -> None:
    assert stored.extras["full_text"] == WHOLE
    assert stored.text == WHOLE[: MAX_TEXT_LENGTH - 1] + "…"
    assert stored.conversation_id is not None  # routed to an agent as any message


async def test_telegram_text_and_caption(tg: telegram.Client, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.DEBUG)
    assert await telegram.post(tg, telegram.text_update(1, WHOLE)) == 200
    photo = telegram.message(2, photo=telegram.PHOTO, caption=WHOLE)
    assert await telegram.post(tg, telegram.update(message=photo)) == 200
    text, caption = await telegram.inbound(tg)
    kept_whole(text)
    kept_whole(caption)
    assert caption.attachments[0].kind == "image"
    assert "Подробно" not in caplog.text


async def test_vk_callback(vk: vk_t.Client, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.DEBUG)
    assert await vk_t.post(vk, vk_t.message_new(3, WHOLE)) == (200, "ok")
    [stored] = await vk_t.inbound(vk)
    kept_whole(stored)
    assert "Подробно" not in caplog.text


async def test_twilio_whatsapp(tw: twilio.Client, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.DEBUG)
    assert await twilio.post(tw, "whatsapp", twilio.whatsapp_form(WHOLE)) == 200
    [stored] = await twilio.inbound(tw)
    kept_whole(stored)
    assert "Подробно" not in caplog.text
