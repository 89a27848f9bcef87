"""The Bot API's final refusals, against the whole running service and the
local fake Bot API: sent once, never retried, and stored with the cause the
console says in the agent's language before the Bot API's own words."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from router.config import Settings
from router.models import Attachment, Delivery, Role
from router.server.app import ROUTER, STORE
from tests.conftest import AppClient
from tests.connectors.test_telegram import (
    inbound,
    post,
    reply,
    settled,
    text_update,
    tg_settings,  # noqa: F401  (fixtures)
)
from tests.fakes.telegram_api import FakeTelegram

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def tg(make_client: AppClient, tg_settings: Settings) -> Client:  # noqa: F811  (the fixture above)
    return await make_client(tg_settings)


@pytest.mark.parametrize(("status", "description", "cause"), [
    (403, "Forbidden: bot was blocked by the user", "blocked"),
    (403, "Forbidden: bot can't initiate conversation with a user", "blocked"),
    (403, "Forbidden: user is deactivated", "no_recipient"),
    (400, "Bad Request: chat not found", "no_recipient"),
    (400, "Bad Request: message is too long", "too_long"),
])
async def test_a_final_refusal_is_stored_with_its_cause_and_sent_once(
        tg: Client, tg_api: FakeTelegram, status: int, description: str, cause: str) -> None:
    """The console showed «Не доставлено: telegram: Telegram server says - Forbidden: …», the
    Bot API's English and codes, to a Russian agent: the cause is what it says in their language."""
    assert await post(tg, text_update(61, "hello")) == 200
    tg_api.fail_next(status, description, method="sendMessage")
    failed = await settled(tg, await reply(tg, "answer"))
    assert failed.delivery is Delivery.FAILED
    assert failed.delivery_error == f"[{cause}] telegram: Telegram server says - {description}"
    assert len(tg_api.sent("sendMessage")) == 1


async def test_a_file_over_the_bot_apis_limit_fails_at_once(tg: Client, tg_api: FakeTelegram) -> None:
    """413 (Request Entity Too Large) is a network error to aiogram: the same file was
    sent again three times, then «gave up after 3 attempts», as if Telegram had been down."""
    assert await post(tg, text_update(62, "send me the invoice")) == 200
    tg_api.fail_next(413, "Request Entity Too Large", method="sendDocument")
    store = tg.app[STORE]
    agent = await store.create_agent("ann", "Ann", Role.AGENT, "x")
    conversation_id = (await inbound(tg))[-1].conversation_id
    assert conversation_id is not None
    document = Attachment(kind="document", name="invoice.pdf", url="https://files.example.com/invoice.pdf")
    sent = await tg.app[ROUTER].conversations.reply(conversation_id, agent, "", attachments=[document])
    failed = await settled(tg, sent)
    assert failed.delivery is Delivery.FAILED
    assert failed.delivery_error.startswith("[too_large] telegram: HTTP Client says - Request Entity Too Large")
    assert len(tg_api.sent("sendDocument")) == 1


SECRET_REPLY = "Ваш паспорт 4510 123456 принят, Иван Петрович; договор вышлем на ivan@mail.ru"


@pytest.mark.parametrize(("status", "attempts"), [(400, 1), (502, 2)])
async def test_what_the_bot_api_quotes_of_a_reply_stays_out_of_the_log(
        tg: Client, tg_api: FakeTelegram, caplog: pytest.LogCaptureFixture, status: int, attempts: int) -> None:
    """A refusal that quotes the message («Bad Request: can't parse entities in '…'», a proxy's
    error page with the request in it) was logged as the platform said it, at WARNING for each
    retry and ERROR when dead-lettered: the agent's words to the customer, or a one-time code,
    in the log. The log keeps the ids and the platform's own words; the agent still sees all."""
    assert await post(tg, text_update(63, "hello")) == 200
    echo = f"Bad Request: can't parse entities in {SECRET_REPLY[:40]!r} and {SECRET_REPLY[-30:]}"
    tg_api.fail_next(status, echo, method="sendMessage", times=attempts)
    with caplog.at_level(logging.INFO):
        failed = await settled(tg, await reply(tg, SECRET_REPLY))
    if status == 400:
        assert failed.delivery is Delivery.FAILED and echo in (failed.delivery_error or "")
        [line] = [r.getMessage() for r in caplog.records if "dead-lettered" in r.getMessage()]
    else:
        assert failed.delivery is Delivery.SENT
        line = next(r.getMessage() for r in caplog.records if "retry in" in r.getMessage())
    assert failed.id in line and "can't parse entities in '<what was sent>' and <what was sent>" in line
    assert "паспорт" not in caplog.text and "4510" not in caplog.text and "ivan@" not in caplog.text
