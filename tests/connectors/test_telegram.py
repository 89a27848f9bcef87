"""Telegram against the whole running service and a local fake Bot API server.

Updates are shaped as https://core.telegram.org/bots/api#update documents
them; the fake answers as the Bot API does, including its errors."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from connectors import telegram as telegram_module
from connectors.telegram import SECRET_HEADER, TelegramConnector
from router.config import ConnectorConfig, Settings
from router.connector import SendProgress, TransientError
from router.models import Attachment, Author, Delivery, IdentityRef, Message, OutboundMessage, Role, utcnow
from router.server.app import CONNECTORS, ROUTER, STORE
from router.yamlconf import ConfigError
from tests.conftest import ADMIN_PASSWORD, AppClient, eventually
from tests.fakes.telegram_api import Call, FakeTelegram

Client = TestClient[web.Request, web.Application]
T = TypeVar("T")

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = "s3cr3t-Webhook_token"
USER = 5551234
PUBLIC_URL = "https://support.example.com"
PATH = "/webhooks/telegram/telegram"
DATE = 1732460000
_ids = itertools.count(1)


# -- payloads as Telegram sends them ---------------------------------------------


def user(user_id: int = USER) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Ivan", "last_name": "Petrov",
            "username": "ivanp", "language_code": "ru"}


def message(message_id: int, user_id: int = USER, **fields: Any) -> dict[str, Any]:
    chat = {"id": user_id, "first_name": "Ivan", "last_name": "Petrov", "username": "ivanp", "type": "private"}
    return {"message_id": message_id, "from": user(user_id), "chat": chat, "date": DATE, **fields}


def update(**fields: Any) -> dict[str, Any]:
    return {"update_id": 800000000 + next(_ids), **fields}


def text_update(message_id: int, text: str, user_id: int = USER) -> dict[str, Any]:
    return update(message=message(message_id, user_id, text=text))


PHOTO = [
    {"file_id": "AgACAgIAAxkBAAMFZ0-small", "file_unique_id": "AQADa7sxGw", "file_size": 1312,
     "width": 90, "height": 67},
    {"file_id": "AgACAgIAAxkBAAMFZ0-medium", "file_unique_id": "AQADa7sxGx", "file_size": 18045,
     "width": 320, "height": 240},
    {"file_id": "AgACAgIAAxkBAAMFZ0-large", "file_unique_id": "AQADa7sxGy", "file_size": 120566,
     "width": 1280, "height": 960},
]
DOCUMENT = {"file_name": "invoice-1042.pdf", "mime_type": "application/pdf", "file_id": "BQACAgIAAxkBAAMGZ0-doc",
            "file_unique_id": "AgADpQ4AAm", "file_size": 48213}
VOICE = {"duration": 67, "mime_type": "audio/ogg", "file_id": "AwACAgIAAxkBAAMHZ0-voice",
         "file_unique_id": "AgADqQ4AAm", "file_size": 21034}
STICKER = {"width": 512, "height": 512, "emoji": "😀", "set_name": "HotCherry", "is_animated": True,
           "is_video": False, "type": "regular",
           "thumbnail": {"file_id": "AAMCAgADGQEAAwhn-thumb", "file_unique_id": "AQADAwADr", "file_size": 5400,
                         "width": 128, "height": 128},
           "file_id": "CAACAgIAAxkBAAMIZ0-sticker", "file_unique_id": "AgADAwADr", "file_size": 30211}
LOCATION = {"latitude": 55.755826, "longitude": 37.617299}


# -- fixtures ----------------------------------------------------------------------


@pytest.fixture
async def tg_api() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN) as fake:
        yield fake


@pytest.fixture
def tg_settings(settings: Settings, tg_api: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("OMNIROUTER_TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("OMNIROUTER_TELEGRAM_SECRET", SECRET)
    settings.server.public_url = PUBLIC_URL
    settings.connectors["telegram"] = ConnectorConfig(type="telegram", api_base=tg_api.base_url)
    return settings


@pytest.fixture
async def tg(make_client: AppClient, tg_settings: Settings) -> Client:
    return await make_client(tg_settings)


# -- helpers -------------------------------------------------------------------------


async def post(client: Client, body: Any, secret: str | None = SECRET) -> int:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    kwargs: dict[str, Any] = {"data": body} if isinstance(body, (str, bytes)) else {"json": body}
    async with client.post(PATH, headers=headers, **kwargs) as resp:
        await resp.read()
        return resp.status



async def customer_messages(client: Client, user_id: int = USER) -> list[Message]:
    customer = await client.app[STORE].find_identity(IdentityRef(kind="telegram", value=str(user_id)))
    if customer is None:
        return []
    return await client.app[STORE].customer_messages(customer.id, 100)


async def inbound(client: Client, user_id: int = USER) -> list[Message]:
    return [m for m in await customer_messages(client, user_id) if m.author is Author.CUSTOMER]


async def reply(client: Client, text: str, user_id: int = USER) -> Message:
    store = client.app[STORE]
    found = await store.agent_credentials("ann")
    agent = found[0] if found else await store.create_agent("ann", "Ann", Role.AGENT, "x")
    conversation_id = (await inbound(client, user_id))[-1].conversation_id
    assert conversation_id is not None
    return await client.app[ROUTER].conversations.reply(conversation_id, agent, text)


async def settled(client: Client, sent: Message) -> Message:
    """The reply once the outbox is done with it (sent or failed)."""
    assert sent.conversation_id is not None

    async def probe() -> Message | None:
        for m in await client.app[STORE].list_messages(sent.conversation_id or "", 100):
            if m.id == sent.id and m.delivery in (Delivery.SENT, Delivery.FAILED):
                return m
        return None

    return await eventually(probe, f"message {sent.id} to settle")


async def calls(fake: FakeTelegram, method: str, count: int = 1, client: Client | None = None) -> list[Call]:
    async def probe() -> list[Call] | None:
        if client is not None:
            # OutboxWorker.run clears its wakeup *after* a pass, so a reply
            # queued while a (rate-limited) send was in flight waits for the
            # 30 s idle poll; nudge it until that is fixed in router/outbox/service.py
            client.app[ROUTER].outbox_wakeup.set()
        found = fake.sent(method)
        return found if len(found) >= count else None

    return await eventually(probe, f"{count} {method} call(s)")


# -- end to end ----------------------------------------------------------------------


async def test_text_in_agent_reply_out(tg: Client, tg_api: FakeTelegram) -> None:
    assert await post(tg, text_update(1, "Where is my order 1042?")) == 200
    [stored] = await inbound(tg)
    assert stored.text == "Where is my order 1042?"
    assert stored.sender == IdentityRef(kind="telegram", value=str(USER))
    assert stored.external_id == f"{USER}:1"
    assert stored.conversation_id is not None
    conversation = await tg.app[STORE].get_conversation(stored.conversation_id)
    assert conversation.customer_name == "Ivan Petrov"

    markup = "<b>On its way</b> *today* _before_ [6pm](http://x) & `soon` \\o/"
    sent = await settled(tg, await reply(tg, markup))
    assert sent.delivery is Delivery.SENT
    [call] = tg_api.sent("sendMessage")
    # plain text: Telegram interprets none of it as markup
    assert call.params["chat_id"] == str(USER)
    assert call.params["text"] == markup
    assert "parse_mode" not in call.params
    assert sent.external_id is not None and sent.external_id.startswith(f"{USER}:")


async def test_webhook_is_registered_on_start_with_the_secret(tg: Client, tg_api: FakeTelegram) -> None:
    [call] = tg_api.sent("setWebhook")
    assert call.params["url"] == PUBLIC_URL + PATH
    assert call.params["secret_token"] == SECRET
    assert call.params["allowed_updates"] == ["message", "edited_message", "callback_query"]


async def test_a_redelivered_update_is_stored_once(tg: Client) -> None:
    payload = text_update(7, "hello")
    assert await post(tg, payload) == 200
    assert await post(tg, payload) == 200
    assert [m.text for m in await inbound(tg)] == ["hello"]


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x"])
async def test_a_wrong_secret_is_refused_and_nothing_is_stored(tg: Client, secret: str | None) -> None:
    assert await post(tg, text_update(3, "let me in"), secret=secret) == 401
    assert await inbound(tg) == []


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '{"message": {"text": "no update_id"}}', b"\xff\xfe"])
async def test_a_malformed_update_is_a_400_and_changes_nothing(tg: Client, body: str | bytes) -> None:
    assert await post(tg, body) == 400
    assert await inbound(tg) == []


async def test_unsupported_updates_are_acknowledged_and_logged(tg: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="connectors.telegram")
    group = message(4, chat={"id": -1001234567890, "title": "Shop fans", "type": "supergroup"}, text="hi all")
    callback = {"id": "4382bfdwdsb323b2d9", "from": user(), "chat_instance": "-873245", "data": "more"}
    member = {"chat": {"id": USER, "type": "private", "first_name": "Ivan"}, "from": user(), "date": DATE,
              "old_chat_member": {"status": "member", "user": {"id": 1, "is_bot": True, "first_name": "Shop"}},
              "new_chat_member": {"status": "kicked", "until_date": 0,
                                  "user": {"id": 1, "is_bot": True, "first_name": "Shop"}}}
    for payload in (update(message=group), update(callback_query=callback), update(my_chat_member=member)):
        assert await post(tg, payload) == 200
    assert await inbound(tg) == []
    assert "callback_query" in caplog.text and "my_chat_member" in caplog.text


# -- what customers send ----------------------------------------------------------------


async def test_media_become_attachments_with_readable_text(tg: Client) -> None:
    sends = [
        message(10, photo=PHOTO, caption="the box arrived broken"),
        message(11, document=DOCUMENT),
        message(12, voice=VOICE),
        message(13, sticker=STICKER),
        message(14, location=LOCATION),
    ]
    for m in sends:
        assert await post(tg, update(message=m)) == 200
    photo, document, voice, sticker, location = await inbound(tg)

    assert photo.text == "the box arrived broken"
    [image] = photo.attachments
    assert (image.kind, image.size, image.extras["file_id"]) == ("image", 120566, "AgACAgIAAxkBAAMFZ0-large")
    assert image.url is None  # Telegram file URLs carry the bot token
    assert (document.text, document.extras["description"]) == ("", "[document invoice-1042.pdf]")
    assert document.attachments[0].model_dump(exclude={"extras"}) == {
        "kind": "document", "url": None, "name": "invoice-1042.pdf", "mime_type": "application/pdf", "size": 48213,
        "file": None}
    assert voice.extras["description"] == "[voice message 1:07]"
    assert (voice.attachments[0].kind, voice.attachments[0].extras["duration"]) == ("audio", 67)
    assert sticker.extras["description"] == "[sticker 😀]"
    assert sticker.attachments[0].kind == "sticker" and sticker.attachments[0].extras["set_name"] == "HotCherry"
    assert location.extras["description"] == "[location 55.755826, 37.617299]"
    assert location.attachments[0].extras == LOCATION


async def test_a_shared_own_contact_proves_the_phone_someone_elses_does_not(tg: Client) -> None:
    # Telegram gives the number without its "+"
    own = {"phone_number": "79123456789", "first_name": "Ivan", "last_name": "Petrov", "user_id": USER}
    other = {"phone_number": "+79990001122", "first_name": "Masha"}
    assert await post(tg, update(message=message(20, contact=own))) == 200
    assert await post(tg, update(message=message(21, contact=other))) == 200
    mine, theirs = await inbound(tg)
    # Telegram vouches for the number: proven, not merely claimed
    assert mine.core.proven_phone == "+79123456789" and mine.core.claimed_phone is None
    assert (mine.text, mine.extras["description"]) == ("", "[contact Ivan Petrov 79123456789]")
    assert theirs.core.claimed_phone is None and theirs.core.proven_phone is None
    assert theirs.extras["shared_contact"]["phone_number"] == "+79990001122"


async def test_an_edit_is_an_edit_in_the_same_conversation(tg: Client) -> None:
    assert await post(tg, text_update(30, "my order is 1024")) == 200
    edited = update(edited_message=message(30, text="my order is 1042", edit_date=DATE + 60))
    assert await post(tg, edited) == 200
    assert await post(tg, edited) == 200  # a redelivered edit is still one edit
    original, edit = await inbound(tg)
    assert edit.text == "my order is 1042"
    assert edit.extras["edit_of"] == original.external_id == f"{USER}:30"
    assert edit.extras["edited_at"] == DATE + 60
    assert edit.external_id == f"{USER}:30:edit:{DATE + 60}"
    assert edit.conversation_id == original.conversation_id


# -- delivery failures and limits -----------------------------------------------------------


async def test_an_outage_is_retried_then_dead_lettered_and_the_agent_sees_why(
    tg: Client, tg_api: FakeTelegram
) -> None:
    assert await post(tg, text_update(40, "hello?")) == 200
    [stored] = await inbound(tg)
    tg_api.outage(times=50)
    # the agent's side, through the console API, as the console does it
    async with aiohttp.ClientSession(str(tg.server.make_url(""))) as console:
        async with console.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD}) as resp:
            assert resp.status == 200
            # the cookie is Secure (public_url is https) and the test talks plain http
            cookie = "; ".join(f"{k}={v.value}" for k, v in resp.cookies.items())
        console.headers["Cookie"] = cookie
        url = f"/api/conversations/{stored.conversation_id}/messages"
        async with console.post(url, json={"text": "we are here"}) as resp:
            assert resp.status == 201, await resp.text()
            reply_id = (await resp.json())["message"]["id"]

        async def failed() -> dict[str, Any] | None:
            async with console.get(url) as resp:
                shown = {m["id"]: m for m in (await resp.json())["messages"]}
            return shown[reply_id] if shown[reply_id]["delivery"] == "failed" else None

        shown = await eventually(failed, "the reply to show as failed")
    assert shown["delivery_error"].startswith("gave up after 3 attempts: [unavailable] telegram:")
    assert len(tg_api.sent("sendMessage")) == 3


async def test_a_blocked_bot_fails_at_once(tg: Client, tg_api: FakeTelegram) -> None:
    assert await post(tg, text_update(41, "bye")) == 200
    tg_api.fail_next(403, "Forbidden: bot was blocked by the user", method="sendMessage")
    failed = await settled(tg, await reply(tg, "sorry to see you go"))
    assert failed.delivery is Delivery.FAILED
    assert failed.delivery_error == (
        "[blocked] telegram: Telegram server says - Forbidden: bot was blocked by the user")
    assert len(tg_api.sent("sendMessage")) == 1


async def test_retry_after_is_honoured(tg: Client, tg_api: FakeTelegram) -> None:
    assert await post(tg, text_update(42, "quick")) == 200
    tg_api.fail_next(429, "Too Many Requests: retry after 1", method="sendMessage", retry_after=1)
    sent = await settled(tg, await reply(tg, "answer"))
    assert sent.delivery is Delivery.SENT
    first, second = tg_api.sent("sendMessage")
    assert second.at - first.at >= 1.0


async def test_replies_to_one_chat_keep_their_order_and_pace(
    make_client: AppClient, tg_settings: Settings, tg_api: FakeTelegram
) -> None:
    tg_settings.connectors["telegram"] = ConnectorConfig(
        type="telegram", api_base=tg_api.base_url, per_chat_per_second=5)
    client = await make_client(tg_settings)
    assert await post(client, text_update(43, "tell me everything")) == 200
    for i in range(4):
        await reply(client, f"part {i}")
    got = await calls(tg_api, "sendMessage", 4, client)
    assert [c.params["text"] for c in got] == [f"part {i}" for i in range(4)]
    gaps = [b.at - a.at for a, b in itertools.pairwise(got)]
    assert min(gaps) >= 0.19  # 5 a second, with a little clock slack


async def test_photos_and_documents_go_out_by_file_id_or_url(tg: Client, tg_api: FakeTelegram) -> None:
    connector = tg.app[CONNECTORS]["telegram"]
    assert isinstance(connector, TelegramConnector)
    photo = Attachment(kind="image", extras={"file_id": "AgACAgIAAxkBAAMFZ0-large"})
    doc = Attachment(kind="document", url="https://shop.example/manual.pdf", name="manual.pdf")
    out = OutboundMessage(message_id="msg_1", channel="telegram", recipient=str(USER), author=Author.AGENT,
                          text="here is the <manual>", attachments=[photo, doc], created_at=utcnow())
    await connector.send(out)
    [text] = tg_api.sent("sendMessage")
    assert text.params["text"] == "here is the <manual>"
    [sent_photo] = tg_api.sent("sendPhoto")
    assert sent_photo.params["photo"] == "AgACAgIAAxkBAAMFZ0-large"
    [sent_doc] = tg_api.sent("sendDocument")
    assert sent_doc.params["document"] == "https://shop.example/manual.pdf"

    single = out.model_copy(update={"text": "your receipt", "attachments": [photo]})
    await connector.send(single)
    assert tg_api.sent("sendPhoto")[-1].params["caption"] == "your receipt"


# -- polling and configuration ---------------------------------------------------------------


async def test_long_polling_stores_updates_and_confirms_them(
    make_client: AppClient, tg_settings: Settings, tg_api: FakeTelegram
) -> None:
    tg_api.webhook = {"url": "https://old.example/hook"}
    tg_settings.connectors["telegram"] = ConnectorConfig(
        type="telegram", api_base=tg_api.base_url, mode="polling", polling_timeout=1)
    client = await make_client(tg_settings)
    assert tg_api.sent("deleteWebhook")
    first, second = text_update(50, "polled one"), text_update(51, "polled two")
    tg_api.push_update(first)
    tg_api.push_update(second)

    async def both() -> list[Message] | None:
        found = await inbound(client)
        return found if len(found) == 2 else None

    assert [m.text for m in await eventually(both, "two polled messages")] == ["polled one", "polled two"]

    async def confirmed() -> bool:
        return any(c.params.get("offset") == str(second["update_id"] + 1) for c in tg_api.sent("getUpdates"))

    await eventually(confirmed, "the offset to confirm both updates")
    await reply(client, "hi from polling")
    assert (await calls(tg_api, "sendMessage"))[0].params["text"] == "hi from polling"


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("OMNIROUTER_TELEGRAM_TOKEN", None, "set OMNIROUTER_TELEGRAM_TOKEN"),
    ("OMNIROUTER_TELEGRAM_TOKEN", "not a token", "OMNIROUTER_TELEGRAM_TOKEN is not a bot token"),
])
async def test_off_until_the_token_is_set(
    make_client: AppClient, tg_settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    variable: str, value: str | None, says: str,
) -> None:
    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)
    caplog.set_level(logging.INFO, logger="router.server.app")
    client = await make_client(tg_settings)
    assert "telegram" not in client.app[CONNECTORS]
    assert says in caplog.text
    assert len([r for r in caplog.records if "telegram" in r.getMessage()]) == 1
    assert await post(client, text_update(60, "anyone?")) == 404


@pytest.mark.parametrize("value", [None, "", "no spaces allowed"])
async def test_a_webhook_without_a_secret_refuses_to_start(
    make_client: AppClient, tg_settings: Settings, monkeypatch: pytest.MonkeyPatch, value: str | None,
) -> None:
    """A token says the bot should run; a webhook without a secret would take
    anyone's word for a customer's message: the service refuses to start."""
    if value is None:
        monkeypatch.delenv("OMNIROUTER_TELEGRAM_SECRET")
    else:
        monkeypatch.setenv("OMNIROUTER_TELEGRAM_SECRET", value)
    with pytest.raises(ConfigError) as info:
        await make_client(tg_settings)
    [problem] = info.value.problems
    assert problem.startswith(
        "connectors.telegram (telegram): mode webhook needs a secret: set OMNIROUTER_TELEGRAM_SECRET")


async def test_in_polling_mode_there_is_no_webhook(
    make_client: AppClient, tg_settings: Settings, tg_api: FakeTelegram, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Polling needs no secret, and then nothing may post updates: the route is not there."""
    monkeypatch.delenv("OMNIROUTER_TELEGRAM_SECRET")
    tg_settings.connectors["telegram"] = ConnectorConfig(
        type="telegram", api_base=tg_api.base_url, mode="polling", polling_timeout=1)
    client = await make_client(tg_settings)
    assert "telegram" in client.app[CONNECTORS]
    for secret in (None, "", SECRET):
        assert await post(client, text_update(62, "forged"), secret=secret) == 404
    assert await inbound(client) == []


async def test_a_retry_resumes_after_the_parts_already_sent(tg: Client, tg_api: FakeTelegram) -> None:
    connector = tg.app[CONNECTORS]["telegram"]
    assert isinstance(connector, TelegramConnector)
    photo = Attachment(kind="image", extras={"file_id": "AgACAgIAAxkBAAMFZ0-large"})
    out = OutboundMessage(message_id="msg_2", channel="telegram", recipient=str(USER), author=Author.AGENT,
                          text="x" * 5000, attachments=[photo], created_at=utcnow())
    tg_api.fail_next(500, "Internal Server Error", method="sendPhoto")
    progress = SendProgress()  # what the outbox keeps of the send
    with pytest.raises(TransientError):
        await connector.send(out, progress)
    assert progress.done == 2
    await connector.send(out, progress)
    assert [len(c.params["text"]) for c in tg_api.sent("sendMessage")] == [4096, 904]
    assert len(tg_api.sent("sendPhoto")) == 2


async def test_a_long_reply_resumed_after_a_restart_sends_no_part_twice(
    make_client: AppClient, tg_settings: Settings, tg_api: FakeTelegram
) -> None:
    tg_settings.outbox.max_attempts = 10_000  # retried until the fault clears, never dead-lettered here
    first = await make_client(tg_settings)
    assert await post(first, text_update(80, "tell me everything")) == 200
    tg_api.fail_while("sendMessage", lambda params: str(params.get("text", "")).startswith("B"))
    sent = await reply(first, "A" * 4096 + "B" * 1000)  # two parts: 4096 A's, then 1000 B's
    await calls(tg_api, "sendMessage", 3, first)  # part 1, and part 2 refused twice
    await first.close()

    # a restart over the same SQLite file: a new outbox, a new connector
    second = await make_client(tg_settings)
    tried = len(tg_api.sent("sendMessage"))
    await calls(tg_api, "sendMessage", tried + 2, second)  # the new outbox tries part 2 again, still refused
    tg_api.heal()
    delivered = await settled(second, sent)
    assert delivered.delivery is Delivery.SENT
    parts = [c.params["text"] for c in tg_api.sent("sendMessage")]
    assert parts.count("A" * 4096) == 1, "part 1 reached the customer more than once"
    assert parts[-1] == "B" * 1000 and all(p in ("A" * 4096, "B" * 1000) for p in parts)


async def test_a_reply_cut_short_tells_the_agent_how_much_of_it_went(tg: Client, tg_api: FakeTelegram) -> None:
    assert await post(tg, text_update(81, "tell me everything")) == 200
    tg_api.fail_while("sendMessage", lambda params: str(params.get("text", "")).startswith("B"),
                      400, "Bad Request: chat not found")
    failed = await settled(tg, await reply(tg, "A" * 4096 + "B" * 10))
    assert failed.delivery is Delivery.FAILED
    assert failed.delivery_error == (
        "[no_recipient] telegram: Telegram server says - Bad Request: chat not found"
        " (after 1 part(s) of it had been delivered)")


async def test_without_a_public_url_the_webhook_is_left_alone_and_it_says_so(
    make_client: AppClient, tg_settings: Settings, tg_api: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    tg_settings.server.public_url = None
    client = await make_client(tg_settings)
    assert tg_api.sent("setWebhook") == []
    assert "no server.public_url or webhook_url" in caplog.text
    assert await post(client, text_update(70, "set by hand")) == 200  # a webhook set by hand still works


async def test_a_stalled_bot_api_holds_the_start_seconds_at_most_and_the_webhook_is_set_later(
    make_client: AppClient, tg_settings: Settings, tg_api: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """setWebhook that never answers held every channel, the console and
    /healthz for aiogram's 60 s at each start; the webhook was then never set."""
    monkeypatch.setattr(telegram_module, "START_PATIENCE", 0.2)
    monkeypatch.setattr(telegram_module, "REGISTER_RETRY_MAX", 0.2)
    tg_api.hold["setWebhook"] = answer = asyncio.Event()
    client = await make_client(tg_settings)
    assert (await client.get("/healthz")).status == 200
    assert await post(client, text_update(80, "still here")) == 200  # a webhook set before still delivers
    assert tg_api.webhook == {}
    answer.set()

    async def set_again() -> bool:
        return len(tg_api.sent("setWebhook")) >= 2 and tg_api.webhook.get("url") == PUBLIC_URL + PATH

    await eventually(set_again, "the webhook set by a later try")


async def test_an_explicit_webhook_url_wins(
    make_client: AppClient, tg_settings: Settings, tg_api: FakeTelegram
) -> None:
    tg_settings.connectors["telegram"] = ConnectorConfig(
        type="telegram", api_base=tg_api.base_url, webhook_url="https://hooks.example.net/tg")
    await make_client(tg_settings)
    assert tg_api.sent("setWebhook")[0].params["url"] == "https://hooks.example.net/tg"


async def test_an_agent_opens_the_customers_photo_through_the_console(tg: Client, tg_api: FakeTelegram) -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"broken box" * 100
    html = b"<script>alert(1)</script>"
    tg_api.add_file(PHOTO[-1]["file_id"], "photos/file_7.jpg", jpeg)
    tg_api.add_file(DOCUMENT["file_id"], "documents/file_8.pdf", html)  # says PDF, is HTML
    assert await post(tg, update(message=message(60, photo=PHOTO, caption="look"))) == 200
    assert await post(tg, update(message=message(61, document=DOCUMENT))) == 200
    photo, document = await inbound(tg)
    async with aiohttp.ClientSession(str(tg.server.make_url(""))) as console:
        # nobody gets a customer's file without logging in
        async with console.get(f"/api/messages/{photo.id}/attachments/0") as resp:
            assert resp.status == 401
        async with console.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD}) as resp:
            cookie = "; ".join(f"{k}={v.value}" for k, v in resp.cookies.items())
        console.headers["Cookie"] = cookie
        async with console.get(f"/api/messages/{photo.id}/attachments/0") as resp:
            assert resp.status == 200
            assert (resp.content_type, resp.headers["Content-Disposition"]) == ("image/jpeg", "inline")
            assert await resp.read() == jpeg
        # the document's declared type is shown inline, but it is served as it is,
        # sandboxed and never sniffed: the bytes cannot run in the console's origin
        async with console.get(f"/api/messages/{document.id}/attachments/0") as resp:
            assert resp.status == 200
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
            assert resp.headers["Content-Security-Policy"].startswith("sandbox")
        for path, status in [(f"/api/messages/{photo.id}/attachments/1", 404),
                             ("/api/messages/msg_unknown/attachments/0", 404)]:
            async with console.get(path) as resp:
                assert resp.status == status, path
                assert (await resp.json())["error"]["code"] == "not_found"
        # a file Telegram no longer has: the agent is told why
        tg_api.files.clear()
        async with console.get(f"/api/messages/{photo.id}/attachments/0") as resp:
            assert resp.status == 502
            assert "invalid file_id" in (await resp.json())["error"]["message"]
    # the token travels only between us and Telegram
    assert [c.params["path"] for c in tg_api.sent("download")] == ["photos/file_7.jpg", "documents/file_8.pdf"]
