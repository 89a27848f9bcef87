"""A message the core could not take for a reason other than an outage (the
store refused the write: here a real SQLite trigger that RAISEs on every insert
into ``messages``, tests/refusal.py) is never confirmed to the platform: a
webhook answers 500, a poller leaves the update unconfirmed, the site chat
answers an error frame and no ack. The connector goes on, and takes the
message once the store takes writes again, once. The core logs the refusal,
with its traceback, and the connector without one: nothing logs the text."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import connectors.telegram
import connectors.vk
from connectors.webchat_tokens import public_part
from router.config import ConnectorConfig, Settings
from tests.conftest import AppClient, eventually, sqlite_only
from tests.connectors import email_helpers as email
from tests.connectors import test_telegram as telegram
from tests.connectors import test_vk as vk
from tests.connectors import twilio_helpers as twilio
from tests.refusal import Refusal, stored

# the refusal is a SQLite trigger; what a connector does with it is the same on either store
pytestmark = sqlite_only("tests/router/store/test_pg_connections_ended.py (the store's outages)")

CEILING = 120.0  # seconds: a hang detector, never a measurement
TEXT = "мой номер карты 4276 0000 1111 2222"
# the platforms' fakes and the service with each connector, as their own tests have them
tg_api, tg_settings, tg = telegram.tg_api, telegram.tg_settings, telegram.tg
vk_api, vk_settings = vk.vk_api, vk.vk_settings
twilio_api, tw_settings, tw = twilio.twilio_api, twilio.tw_settings, twilio.tw
dovecot, mailbox, smtp, mail_settings, app = email.dovecot, email.mailbox, email.smtp, email.mail_settings, email.app


@pytest.fixture
def refusal(settings: Settings) -> Refusal:
    return Refusal(Path(settings.store.path))


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pollers' pause after a failure, shortened so a retry comes soon."""
    monkeypatch.setattr(connectors.telegram, "POLL_RETRY_SECONDS", 0.05)
    monkeypatch.setattr(connectors.vk, "POLL_RETRY_SECONDS", 0.05)


def refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The core's log of each refused write: one record each, with its traceback."""
    return [r for r in caplog.records if r.name == "router.core" and "the store refused message" in r.getMessage()]


def assert_logged_well(caplog: pytest.LogCaptureFixture) -> None:
    assert refusals(caplog) and all(r.exc_info for r in refusals(caplog))
    assert not [r for r in caplog.records if r.exc_info and r.name != "router.core"], "a second traceback"
    assert TEXT not in caplog.text


async def refused_again(caplog: pytest.LogCaptureFixture, times: int = 2) -> None:
    """The poller has tried the same message ``times`` times: it was not confirmed, so it came again."""
    async def probe() -> bool:
        return len(refusals(caplog)) >= times

    await eventually(probe, f"{times} refusals of the same message", CEILING)


# -- the site chat ----------------------------------------------------------------------------


async def _say(ws: aiohttp.ClientWebSocketResponse, client_id: str) -> dict[str, Any]:
    await ws.send_json({"type": "message", "text": TEXT, "client_id": client_id})
    while True:
        frame: dict[str, Any] = await ws.receive_json(timeout=CEILING)
        if frame["type"] in ("ack", "error"):
            return frame


async def test_webchat_a_refused_message_gets_an_error_frame_and_no_ack_then_is_stored_once(
    make_client: AppClient, settings: Settings, refusal: Refusal, caplog: pytest.LogCaptureFixture,
) -> None:
    client = await make_client()
    async with client.ws_connect("/chat/ws") as ws:
        await ws.send_json({"type": "hello"})
        visitor = (await ws.receive_json(timeout=CEILING))["visitor_id"]
        assert (await _say(ws, "before"))["type"] == "ack"
    refusal.on()
    async with client.ws_connect("/chat/ws") as ws:
        await ws.send_json({"type": "hello", "visitor_id": visitor})
        assert (await ws.receive_json(timeout=CEILING))["type"] == "welcome"  # reading still works
        frame = await _say(ws, "refused")
        assert frame["type"] == "error" and frame["code"] == "unavailable", frame
        assert (await ws.receive(timeout=CEILING)).type is aiohttp.WSMsgType.CLOSE  # the widget reconnects
    assert stored(settings.store.path, f"{public_part(visitor)}:refused") == 0

    refusal.off()
    async with client.ws_connect("/chat/ws") as ws:  # the widget re-sends what was not acknowledged
        await ws.send_json({"type": "hello", "visitor_id": visitor})
        assert (await ws.receive_json(timeout=CEILING))["type"] == "welcome"
        first, again = await _say(ws, "refused"), await _say(ws, "refused")
        assert first["type"] == again["type"] == "ack" and first["id"] == again["id"]
    assert stored(settings.store.path, f"{public_part(visitor)}:refused") == 1
    assert_logged_well(caplog)


# -- Telegram ---------------------------------------------------------------------------------


async def test_telegram_webhook_a_refused_update_gets_500_and_its_redelivery_is_stored_once(
    tg: telegram.Client, refusal: Refusal, caplog: pytest.LogCaptureFixture,
) -> None:
    payload = telegram.text_update(7, TEXT)
    refusal.on()
    async with tg.post(telegram.PATH, headers={telegram.SECRET_HEADER: telegram.SECRET}, json=payload) as resp:
        assert resp.status == 500, await resp.text()  # Telegram delivers it again
        body = await resp.json()
        assert body["error"] == "not_stored" and "IntegrityViolation" in body["reason"], body
    assert await telegram.inbound(tg) == []
    refusal.off()
    assert await telegram.post(tg, payload) == 200
    assert await telegram.post(tg, payload) == 200  # Telegram's own redelivery
    assert [m.text for m in await telegram.inbound(tg)] == [TEXT]
    assert_logged_well(caplog)


async def test_telegram_polling_leaves_a_refused_update_unconfirmed_and_takes_it_once_the_store_recovers(
    make_client: AppClient, tg_settings: Settings, tg_api: telegram.FakeTelegram, refusal: Refusal,
    quick_retries: None, caplog: pytest.LogCaptureFixture,
) -> None:
    tg_settings.connectors["telegram"] = ConnectorConfig(
        type="telegram", api_base=tg_api.base_url, mode="polling", polling_timeout=1)
    client = await make_client(tg_settings)
    update = telegram.text_update(70, TEXT)
    refusal.on()
    tg_api.push_update(update)
    await refused_again(caplog)
    confirming = str(update["update_id"] + 1)
    assert not [c for c in tg_api.sent("getUpdates") if c.params.get("offset") == confirming]
    assert await telegram.inbound(client) == []

    refusal.off()

    async def taken() -> bool:
        return [m.text for m in await telegram.inbound(client)] == [TEXT] and any(
            c.params.get("offset") == confirming for c in tg_api.sent("getUpdates"))

    await eventually(taken, "the update stored and confirmed", CEILING)
    tg_api.push_update(telegram.text_update(71, "and the next one"))

    async def next_one() -> bool:
        return len(await telegram.inbound(client)) == 2

    await eventually(next_one, "the poller to go on", CEILING)
    assert_logged_well(caplog)


# -- VK ---------------------------------------------------------------------------------------


async def test_vk_long_poll_does_not_advance_past_a_refused_event_and_takes_it_once_the_store_recovers(
    make_client: AppClient, vk_settings: Settings, vk_api: vk.FakeVk, refusal: Refusal,
    quick_retries: None, caplog: pytest.LogCaptureFixture,
) -> None:
    vk_settings.connectors["vk"] = ConnectorConfig(
        type="vk", api_base=vk_api.base_url, group_id=vk.GROUP_ID, mode="longpoll", longpoll_wait=1)
    client = await make_client(vk_settings)
    refusal.on()
    await vk.polling(vk_api)
    vk_api.push_event(vk.message_new(80, TEXT, secret=None))
    await refused_again(caplog)
    assert await vk.inbound(client) == []

    refusal.off()

    async def taken() -> bool:
        return [m.text for m in await vk.inbound(client)] == [TEXT]

    await eventually(taken, "the event stored", CEILING)
    vk_api.push_event(vk.message_new(81, "and the next one", secret=None))

    async def next_one() -> bool:
        return [m.text for m in await vk.inbound(client)] == [TEXT, "and the next one"]

    await eventually(next_one, "the long poll to go on, the first event stored once", CEILING)
    assert_logged_well(caplog)


async def test_vk_callback_a_refused_event_is_not_ok_so_vk_delivers_it_again(
    make_client: AppClient, vk_settings: Settings, refusal: Refusal, caplog: pytest.LogCaptureFixture,
) -> None:
    client = await make_client(vk_settings)
    payload = vk.message_new(90, TEXT)
    refusal.on()
    status, _text = await vk.post(client, payload)
    assert status == 500  # anything but "ok" makes VK deliver the event again
    refusal.off()
    assert await vk.post(client, payload) == (200, "ok")
    assert await vk.post(client, payload) == (200, "ok")
    assert [m.text for m in await vk.inbound(client)] == [TEXT]
    assert_logged_well(caplog)


# -- Twilio -----------------------------------------------------------------------------------


async def test_twilio_a_refused_message_gets_500_and_its_retry_is_stored_once(
    tw: twilio.Client, refusal: Refusal, caplog: pytest.LogCaptureFixture,
) -> None:
    form = twilio.whatsapp_form(TEXT)
    refusal.on()
    assert await twilio.post(tw, "whatsapp", form) == 500
    assert await twilio.inbound(tw) == []
    refusal.off()
    assert await twilio.post(tw, "whatsapp", form) == 200
    assert await twilio.post(tw, "whatsapp", form) == 200
    assert [m.text for m in await twilio.inbound(tw)] == [TEXT]
    assert_logged_well(caplog)


# -- email ------------------------------------------------------------------------------------


async def test_email_a_refused_mail_stays_unseen_and_is_stored_once_the_store_recovers(
    app: email.Client, mailbox: email.Dovecot, refusal: Refusal, caplog: pytest.LogCaptureFixture,
) -> None:
    raw, mid = email.mail("Карта", TEXT)
    refusal.on()
    await email.deliver(mailbox, raw)
    await refused_again(caplog)
    assert not any((await asyncio.to_thread(mailbox.seen, email.MAILBOX)).values())

    refusal.off()
    [message] = await email.inbound_from(app, email.CUSTOMER)
    assert message.external_id == mid
    await email.eventually(lambda: asyncio.to_thread(
        lambda: all(mailbox.seen(email.MAILBOX).values()) or None), "the mail flagged once stored")
    raw_next, _ = email.mail("Ещё", "and the next one")
    await email.deliver(mailbox, raw_next)
    assert len(await email.inbound_from(app, email.CUSTOMER, 2)) == 2
    assert_logged_well(caplog)


# -- a fault of a connector's own -------------------------------------------------------------

async def test_telegram_polling_outlives_a_fault_of_its_own_and_says_so_without_the_customers_words(
    make_client: AppClient, tg_settings: Settings, tg_api: telegram.FakeTelegram, quick_retries: None,
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a bug in reading one update (as a shape nobody foresaw would cause), the first time only
    real, faults = connectors.telegram.read_update, []

    def faulty(raw: Any, bot: Any) -> Any:
        if not faults:
            faults.append(raw)
            raise TypeError(f"cannot read {raw}")  # its words quote the update, and so the customer
        return real(raw, bot)

    monkeypatch.setattr(connectors.telegram, "read_update", faulty)
    tg_settings.connectors["telegram"] = ConnectorConfig(
        type="telegram", api_base=tg_api.base_url, mode="polling", polling_timeout=1)
    client = await make_client(tg_settings)
    tg_api.push_update(telegram.text_update(80, TEXT))

    async def taken() -> bool:
        return [m.text for m in await telegram.inbound(client)] == [TEXT]

    # the update was not confirmed by the fault, so it came again and was stored
    await eventually(taken, "the update stored after the fault", CEILING)
    [said] = [r for r in caplog.records if "hit a fault of its own" in r.getMessage()]
    assert said.levelno == logging.ERROR and "TypeError" in said.getMessage()
    assert TEXT not in caplog.text and "4276" not in caplog.text
