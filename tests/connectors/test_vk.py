"""VK against the whole running service and a local fake VK API server.

Events are shaped as the Callback API documents them
(https://dev.vk.com/ru/api/callback/getting-started, API version 5.199)."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

import connectors.vk
import connectors.vk_names
from connectors.vk import VkConnector, random_id
from router.config import ConnectorConfig, Settings
from router.models import Attachment, Author, Delivery, IdentityRef, Message, OutboundMessage, Role, utcnow
from router.server.app import CONNECTORS, ROUTER, STORE
from router.yamlconf import ConfigError
from tests.conftest import HANG, AppClient, eventually
from tests.fakes.vk_api import GROUP_ID, FakeVk

Client = TestClient[web.Request, web.Application]
T = TypeVar("T")

TOKEN = "vk1.a.c2hvcC1jb21tdW5pdHktdG9rZW4tZm9yLXRlc3Rz"
SECRET = "aB3dE5gH7jK9"
CONFIRMATION = "d8e1f2a3"
USER = 712345678
PATH = "/webhooks/vk/vk"
DATE = 1732460000
_ids = itertools.count(1)


# -- events as VK sends them ---------------------------------------------------------


def vk_message(cmid: int, text: str = "", user_id: int = USER, **fields: Any) -> dict[str, Any]:
    return {"date": DATE, "from_id": user_id, "id": 1000 + cmid, "out": 0, "version": 10000000 + cmid,
            "attachments": [], "conversation_message_id": cmid, "fwd_messages": [], "important": False,
            "is_hidden": False, "peer_id": user_id, "random_id": 0, "text": text, **fields}


CLIENT_INFO = {"button_actions": ["text", "vkpay", "open_app", "location", "open_link", "callback"],
               "keyboard": True, "inline_keyboard": True, "carousel": True, "lang_id": 0}


def event(kind: str, obj: dict[str, Any], secret: str | None = SECRET) -> dict[str, Any]:
    body = {"group_id": GROUP_ID, "type": kind, "event_id": f"{next(_ids):040x}", "v": "5.199", "object": obj}
    if secret is not None:
        body["secret"] = secret
    return body


def message_new(cmid: int, text: str = "", **fields: Any) -> dict[str, Any]:
    return event("message_new", {"message": vk_message(cmid, text, **fields), "client_info": CLIENT_INFO})


PHOTO = {"type": "photo", "photo": {
    "album_id": -3, "date": DATE, "id": 457239017, "owner_id": USER, "access_key": "0f1e2d3c4b", "has_tags": False,
    "sizes": [{"height": 75, "type": "s", "width": 56, "url": "https://sun9-1.userapi.com/s.jpg"},
              {"height": 1280, "type": "w", "width": 960, "url": "https://sun9-1.userapi.com/w.jpg"},
              {"height": 604, "type": "x", "width": 453, "url": "https://sun9-1.userapi.com/x.jpg"}],
    "text": ""}}
DOC = {"type": "doc", "doc": {"id": 663215432, "owner_id": USER, "title": "invoice-1042.pdf", "size": 48213,
                              "ext": "pdf", "date": DATE, "type": 1, "access_key": "9c8b7a",
                              "url": "https://vk.ru/doc712345678_663215432?hash=abc"}}
VOICE = {"type": "audio_message", "audio_message": {
    "id": 663215433, "owner_id": USER, "duration": 7, "waveform": [0, 3, 12, 31, 20, 4],
    "link_ogg": "https://psv4.userapi.com/voice.ogg", "link_mp3": "https://psv4.userapi.com/voice.mp3",
    "access_key": "77aa66"}}
STICKER = {"type": "sticker", "sticker": {
    "product_id": 279, "sticker_id": 9014,
    "images": [{"url": "https://vk.ru/sticker/1-9014-64", "width": 64, "height": 64},
               {"url": "https://vk.ru/sticker/1-9014-512", "width": 512, "height": 512}],
    "images_with_background": []}}
GEO = {"type": "point", "coordinates": {"latitude": 59.938951, "longitude": 30.315635},
       "place": {"country": "Russia", "city": "Saint Petersburg", "title": "Nevsky prospekt, 28"}}


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture
async def vk_api() -> AsyncIterator[FakeVk]:
    async with FakeVk(TOKEN) as fake:
        yield fake


@pytest.fixture
def vk_settings(settings: Settings, vk_api: FakeVk, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("OMNIROUTER_VK_TOKEN", TOKEN)
    monkeypatch.setenv("OMNIROUTER_VK_SECRET", SECRET)
    settings.connectors["vk"] = ConnectorConfig(
        type="vk", api_base=vk_api.base_url, group_id=GROUP_ID, confirmation_code=CONFIRMATION)
    # the fake serves the agents' files too: trusted by name, as an admin would a file server on the LAN
    settings.fetch.allow_hosts = [urlsplit(vk_api.base_url).netloc]
    return settings


@pytest.fixture
async def vk(make_client: AppClient, vk_settings: Settings) -> Client:
    return await make_client(vk_settings)


# -- helpers -----------------------------------------------------------------------------


async def post(client: Client, body: Any) -> tuple[int, str]:
    kwargs: dict[str, Any] = {"data": body} if isinstance(body, (str, bytes)) else {"json": body}
    async with client.post(PATH, **kwargs) as resp:
        return resp.status, await resp.text()



async def inbound(client: Client, user_id: int = USER) -> list[Message]:
    customer = await client.app[STORE].find_identity(IdentityRef(kind="vk", value=str(user_id)))
    if customer is None:
        return []
    return [m for m in await client.app[STORE].customer_messages(customer.id, 100) if m.author is Author.CUSTOMER]


async def reply(client: Client, text: str, user_id: int = USER) -> Message:
    store = client.app[STORE]
    found = await store.agent_credentials("ann")
    agent = found[0] if found else await store.create_agent("ann", "Ann", Role.AGENT, "x")
    conversation_id = (await inbound(client, user_id))[-1].conversation_id
    assert conversation_id is not None
    return await client.app[ROUTER].conversations.reply(conversation_id, agent, text)


async def settled(client: Client, sent: Message) -> Message:
    async def probe() -> Message | None:
        for m in await client.app[STORE].list_messages(sent.conversation_id or "", 100):
            if m.id == sent.id and m.delivery in (Delivery.SENT, Delivery.FAILED):
                return m
        return None

    return await eventually(probe, f"message {sent.id} to settle")


# -- the Callback API ----------------------------------------------------------------------


async def test_confirmation_is_answered_with_the_code(vk: Client) -> None:
    assert await post(vk, {"type": "confirmation", "group_id": GROUP_ID}) == (200, CONFIRMATION)
    assert await post(vk, {"type": "confirmation", "group_id": GROUP_ID, "secret": SECRET}) == (200, CONFIRMATION)
    for wrong in ({"group_id": GROUP_ID + 1}, {"group_id": GROUP_ID, "secret": "guess"}):
        status, _ = await post(vk, {"type": "confirmation", **wrong})
        assert status == 403


async def test_message_in_agent_reply_out(vk: Client, vk_api: FakeVk) -> None:
    assert await post(vk, message_new(1, "Здравствуйте! Где мой заказ 1042?")) == (200, "ok")
    [stored] = await inbound(vk)
    assert stored.text == "Здравствуйте! Где мой заказ 1042?"
    assert stored.sender == IdentityRef(kind="vk", value=str(USER))
    assert stored.external_id == f"{USER}:1"
    assert stored.conversation_id is not None
    conversation = await vk.app[STORE].get_conversation(stored.conversation_id)
    assert conversation.customer_name == "Ivan Petrov"  # from users.get

    sent = await settled(vk, await reply(vk, "Заказ в пути <b>сегодня</b> & завтра"))
    assert sent.delivery is Delivery.SENT
    [call] = vk_api.sent("messages.send")
    assert call.params["peer_id"] == str(USER)
    assert call.params["message"] == "Заказ в пути <b>сегодня</b> & завтра"
    assert call.params["random_id"] == str(random_id(sent.id))
    assert call.params["v"] == "5.199" and call.params["access_token"] == TOKEN
    assert sent.external_id == f"{USER}:500"


async def test_a_redelivered_event_is_stored_once(vk: Client) -> None:
    first = message_new(2, "hello")
    retry = {**first, "event_id": f"{next(_ids):040x}"}  # VK's retry of an event we did not answer
    for body in (first, first, retry):
        assert await post(vk, body) == (200, "ok")
    assert [m.text for m in await inbound(vk)] == ["hello"]


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x"])
async def test_a_wrong_secret_is_refused_and_nothing_is_stored(vk: Client, secret: str | None) -> None:
    status, _ = await post(vk, message_new(3, "let me in") | {"secret": secret})
    assert status == 403
    assert await inbound(vk) == []


@pytest.mark.parametrize("body", ["{not json", "[1]", '{"object": {}}', b"\xff\xfe"])
async def test_a_malformed_event_is_a_400_and_changes_nothing(vk: Client, body: str | bytes) -> None:
    status, _ = await post(vk, body)
    assert status == 400
    assert await inbound(vk) == []


async def test_other_events_are_acknowledged_and_logged(vk: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="connectors.vk")
    chat = event("message_new", {"message": vk_message(4, "hi all", peer_id=2000000001), "client_info": CLIENT_INFO})
    # the community's own admin typing to the user (a user typing is a live signal: test_live_signals.py)
    typing = event("message_typing_state", {"state": "typing", "from_id": -GROUP_ID, "to_id": USER})
    allow = event("message_allow", {"user_id": USER, "key": "promo"})
    ours = event("message_reply", vk_message(5, "our own answer") | {"out": 1, "from_id": -GROUP_ID})
    for body in (chat, typing, allow, ours):
        assert await post(vk, body) == (200, "ok")
    assert await inbound(vk) == []
    assert "message_typing_state" in caplog.text and "message_allow" in caplog.text


async def test_attachments_and_places(vk: Client) -> None:
    bodies = [
        message_new(10, "коробка пришла мятая", attachments=[PHOTO]),
        message_new(11, attachments=[DOC]),
        message_new(12, attachments=[VOICE]),
        message_new(13, attachments=[STICKER]),
        message_new(14, geo=GEO),
    ]
    for body in bodies:
        assert await post(vk, body) == (200, "ok")
    photo, doc, voice, sticker, place = await inbound(vk)
    assert photo.text == "коробка пришла мятая"
    [image] = photo.attachments
    assert (image.kind, image.url) == ("image", "https://sun9-1.userapi.com/w.jpg")
    assert image.extras["vk_attachment"] == f"photo{USER}_457239017_0f1e2d3c4b"
    assert (doc.text, doc.extras["description"]) == ("", "[document invoice-1042.pdf]")
    assert (doc.attachments[0].kind, doc.attachments[0].size) == ("document", 48213)
    assert voice.extras["description"] == "[voice message]"
    assert (voice.attachments[0].kind, voice.attachments[0].extras["duration"]) == ("audio", 7)
    assert sticker.extras["description"] == "[sticker]"
    assert sticker.attachments[0].url == "https://vk.ru/sticker/1-9014-512"
    assert place.extras["description"] == "[location 59.938951, 30.315635]"
    assert place.attachments[0].extras["place"] == "Nevsky prospekt, 28"


async def test_an_edit_is_an_edit_in_the_same_conversation(vk: Client) -> None:
    assert await post(vk, message_new(20, "заказ 1024")) == (200, "ok")
    edit = event("message_edit", vk_message(20, "заказ 1042", update_time=DATE + 60))
    assert await post(vk, edit) == (200, "ok")
    assert await post(vk, edit) == (200, "ok")
    original, edited = await inbound(vk)
    assert edited.text == "заказ 1042"
    assert edited.extras["edit_of"] == original.external_id == f"{USER}:20"
    assert edited.external_id == f"{USER}:20:edit:{DATE + 60}"
    assert edited.conversation_id == original.conversation_id


async def test_names_are_looked_up_once_per_sender(vk: Client, vk_api: FakeVk) -> None:
    vk_api.names[USER + 1] = ("Мария", "Иванова")
    for cmid in (30, 31):
        assert await post(vk, message_new(cmid, "hi", user_id=USER + 1, peer_id=USER + 1)) == (200, "ok")
    assert len(vk_api.sent("users.get")) == 1
    [first, _] = await inbound(vk, USER + 1)
    assert first.conversation_id is not None
    assert (await vk.app[STORE].get_conversation(first.conversation_id)).customer_name == "Мария Иванова"


async def test_new_senders_who_write_while_a_lookup_waits_its_turn_are_named_in_it(
    make_client: AppClient, vk_settings: Settings, vk_api: FakeVk, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """users.get is paced; the senders who write while a lookup waits for its turn are asked
    for in that lookup. The ids were taken before vk-api's pacing sleep, so a sender who wrote
    during it waited a whole interval more (1-2 s in all), and past NAME_WAIT lost their name."""
    monkeypatch.setattr(connectors.vk_names, "NAME_WAIT", HANG)  # each name is waited for, whenever it comes
    # 0.4 requests a second leave users.get one call in 10 s: the second sender writes well within it, busy or not
    vk_settings.connectors["vk"] = ConnectorConfig(**vk_settings.connectors["vk"].model_dump(), requests_per_second=0.4)
    caplog.set_level(logging.DEBUG, logger="connectors.vk_names")
    client = await make_client(vk_settings)
    assert await post(client, message_new(50, "first")) == (200, "ok")
    vk_api.names[USER + 3] = ("Мария", "Иванова")
    vk_api.names[USER + 4] = ("Пётр", "Сидоров")
    maria = asyncio.create_task(post(client, message_new(51, "hi", user_id=USER + 3, peer_id=USER + 3)))

    async def waiting_its_turn() -> bool:
        return any("waits" in r.getMessage() for r in caplog.records if r.name == "connectors.vk_names")

    await eventually(waiting_its_turn, "the second lookup to wait for its turn")
    assert await post(client, message_new(52, "hi", user_id=USER + 4, peer_id=USER + 4)) == (200, "ok")
    assert await maria == (200, "ok")
    assert len(vk_api.sent("users.get")) == 2  # the first sender's, then both new ones' in one call
    for user, name in ((USER + 3, "Мария Иванова"), (USER + 4, "Пётр Сидоров")):
        [stored] = await inbound(client, user)
        assert stored.conversation_id is not None
        assert (await client.app[STORE].get_conversation(stored.conversation_id)).customer_name == name


async def test_a_sender_is_named_while_a_reply_hangs_on_vk(vk: Client, vk_api: FakeVk) -> None:
    """Replies waiting on a slow VK API (a burst of them, or one that hangs) do not
    hold the lookup of a new sender's name: the agent sees who wrote, not a nameless
    customer (users.get waited behind the sends, and every sender meanwhile lost their name)."""
    assert await post(vk, message_new(33, "first")) == (200, "ok")
    vk_api.held["messages.send"] = asyncio.Event()
    pending = await reply(vk, "slow to leave")

    async def sending() -> bool:
        return bool(vk_api.sent("messages.send"))

    await eventually(sending, "the reply to reach VK")
    vk_api.names[USER + 2] = ("Мария", "Иванова")
    assert await post(vk, message_new(34, "hello", user_id=USER + 2, peer_id=USER + 2)) == (200, "ok")
    [stored] = await inbound(vk, USER + 2)
    assert stored.conversation_id is not None
    assert (await vk.app[STORE].get_conversation(stored.conversation_id)).customer_name == "Мария Иванова"
    vk_api.held["messages.send"].set()
    assert (await settled(vk, pending)).delivery is Delivery.SENT


async def test_a_failing_users_get_does_not_hold_the_message(vk: Client, vk_api: FakeVk) -> None:
    vk_api.fail_next(10, "Internal server error", method="users.get")
    assert await post(vk, message_new(32, "still here")) == (200, "ok")
    assert [m.text for m in await inbound(vk)] == ["still here"]


# -- delivery ----------------------------------------------------------------------------------


async def test_an_outage_is_retried_then_dead_lettered_with_the_reason(vk: Client, vk_api: FakeVk) -> None:
    assert await post(vk, message_new(40, "hello?")) == (200, "ok")
    vk_api.outage(times=50)
    failed = await settled(vk, await reply(vk, "we are here"))
    assert failed.delivery is Delivery.FAILED
    assert failed.delivery_error == "gave up after 3 attempts: [unavailable] vk: HTTP 502"
    assert len(vk_api.sent("messages.send")) == 3


async def test_retries_reuse_the_random_id(vk: Client, vk_api: FakeVk) -> None:
    assert await post(vk, message_new(41, "hi")) == (200, "ok")
    vk_api.fail_next(10, "Internal server error", method="messages.send")
    sent = await settled(vk, await reply(vk, "once only"))
    assert sent.delivery is Delivery.SENT
    first, second = vk_api.sent("messages.send")
    assert first.params["random_id"] == second.params["random_id"] == str(random_id(sent.id))


async def test_too_many_requests_is_retried_not_slept_on(vk: Client, vk_api: FakeVk) -> None:
    assert await post(vk, message_new(42, "hi")) == (200, "ok")
    vk_api.fail_next(6, "Too many requests per second", method="messages.send")
    sent = await settled(vk, await reply(vk, "paced"))
    assert sent.delivery is Delivery.SENT
    first, second = vk_api.sent("messages.send")
    assert second.at - first.at >= 1.0  # the outbox honoured retry_after


async def test_a_user_who_forbade_messages_fails_at_once(vk: Client, vk_api: FakeVk) -> None:
    assert await post(vk, message_new(43, "bye")) == (200, "ok")
    vk_api.fail_next(901, "Can't send messages for users without permission", method="messages.send")
    failed = await settled(vk, await reply(vk, "hello?"))
    assert failed.delivery is Delivery.FAILED
    assert failed.delivery_error == "[blocked] vk: [901] Can't send messages for users without permission"
    assert len(vk_api.sent("messages.send")) == 1


async def test_photos_and_documents_are_uploaded_the_vk_way(vk: Client, vk_api: FakeVk) -> None:
    connector = vk.app[CONNECTORS]["vk"]
    assert isinstance(connector, VkConnector)
    vk_api.files["box.jpg"] = b"\xff\xd8\xff\xe0 a jpeg"
    vk_api.files["manual.pdf"] = b"%PDF-1.7 a manual"
    photo = Attachment(kind="image", url=f"{vk_api.base_url}/files/box.jpg", name="box.jpg")
    manual = Attachment(kind="document", url=f"{vk_api.base_url}/files/manual.pdf", name="manual.pdf")
    known = Attachment(kind="image", extras={"vk_attachment": f"photo{USER}_457239017_0f1e2d3c4b"})
    out = OutboundMessage(message_id="msg_1", channel="vk", recipient=str(USER), author=Author.AGENT,
                          text="here you go", attachments=[photo, manual, known], created_at=utcnow())
    await connector.send(out)
    assert [(kind, data) for kind, _, data in vk_api.uploads] == [
        ("photo", b"\xff\xd8\xff\xe0 a jpeg"), ("doc", b"%PDF-1.7 a manual")]
    assert [c.method for c in vk_api.sent()] == [
        "photos.getMessagesUploadServer", "photos.saveMessagesPhoto",
        "docs.getMessagesUploadServer", "docs.save", "messages.send"]
    [send] = vk_api.sent("messages.send")
    photo_ref, doc_ref, known_ref = send.params["attachment"].split(",")
    assert photo_ref.startswith(f"photo-{GROUP_ID}_") and photo_ref.endswith("_e4f2a1b0c9")
    assert doc_ref.startswith(f"doc-{GROUP_ID}_")
    assert known_ref == f"photo{USER}_457239017_0f1e2d3c4b"


# -- long poll and configuration ----------------------------------------------------------------


async def polling(vk_api: FakeVk) -> None:
    """Until the connector's long poll waits for events. An event pushed before
    it got its server's ts would be behind that ts, never delivered, as on VK:
    on a busy machine the poller can start after the test's first push."""
    async def waiting() -> bool:
        return vk_api.waiting_polls > 0

    await eventually(waiting, "the connector's long poll to wait for events")


async def test_bots_long_poll(make_client: AppClient, vk_settings: Settings, vk_api: FakeVk) -> None:
    vk_settings.connectors["vk"] = ConnectorConfig(
        type="vk", api_base=vk_api.base_url, group_id=GROUP_ID, mode="longpoll", longpoll_wait=1)
    client = await make_client(vk_settings)
    first, second = message_new(50, "polled one", secret=None), message_new(51, "polled two", secret=None)
    await polling(vk_api)
    vk_api.push_event(first)
    vk_api.push_event(second)
    vk_api.push_event(first)  # a repeat is stored once

    async def both() -> list[Message] | None:
        found = await inbound(client)
        return found if len(found) == 2 else None

    assert [m.text for m in await eventually(both, "two polled messages")] == ["polled one", "polled two"]
    assert vk_api.sent("groups.getLongPollServer")[0].params["group_id"] == str(GROUP_ID)

    vk_api.expire_longpoll_key()

    async def renewed() -> bool:
        return len(vk_api.sent("groups.getLongPollServer")) >= 2

    await eventually(renewed, "a new long poll key after 'failed: 2'")
    await polling(vk_api)
    vk_api.push_event(message_new(52, "after a new key", secret=None))

    async def three() -> list[Message] | None:
        found = await inbound(client)
        return found if len(found) == 3 else None

    assert (await eventually(three, "a message after the key expired"))[-1].text == "after a new key"
    await reply(client, "hi from long poll")

    async def delivered() -> bool:
        return bool(vk_api.sent("messages.send"))

    await eventually(delivered, "the reply")


async def test_off_until_its_token_is_set(
    make_client: AppClient, vk_settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.delenv("OMNIROUTER_VK_TOKEN")
    caplog.set_level(logging.INFO, logger="router.server.app")
    client = await make_client(vk_settings)
    assert "vk" not in client.app[CONNECTORS]
    assert "set OMNIROUTER_VK_TOKEN" in caplog.text
    status, _ = await post(client, message_new(60, "anyone?"))
    assert status == 404


@pytest.mark.parametrize(("options", "unset", "says"), [
    ({}, "OMNIROUTER_VK_SECRET", "mode callback needs the Callback API secret key: set OMNIROUTER_VK_SECRET"),
    ({"confirmation_code": None}, None, "mode callback needs confirmation_code"),
    ({"mode": "longpoll", "group_id": None}, None, "mode longpoll needs group_id"),
])
async def test_a_token_without_the_rest_refuses_to_start(
    make_client: AppClient, vk_settings: Settings, vk_api: FakeVk, monkeypatch: pytest.MonkeyPatch,
    options: dict[str, Any], unset: str | None, says: str,
) -> None:
    """A token says the community should be served; what it lacks is said at
    start, never left to run a Callback API that anyone could post to."""
    if unset is not None:
        monkeypatch.delenv(unset)
    fields: dict[str, Any] = {"api_base": vk_api.base_url, "group_id": GROUP_ID, "confirmation_code": CONFIRMATION}
    vk_settings.connectors["vk"] = ConnectorConfig(type="vk", **(fields | options))
    with pytest.raises(ConfigError) as info:
        await make_client(vk_settings)
    [problem] = info.value.problems
    assert problem.startswith(f"connectors.vk (vk): {says}")


async def test_the_long_poll_outlives_answers_that_are_not_what_vk_documents(
    make_client: AppClient, vk_settings: Settings, vk_api: FakeVk, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A proxy's error page, a list, an answer without ts: each is retried as
    a network failure, and the next event still arrives."""
    monkeypatch.setattr(connectors.vk, "POLL_RETRY_SECONDS", 0.05)
    vk_api.longpoll_garbage.extend(
        ["<html>502 Bad Gateway</html>", "[1, 2]", '{"updates": []}', '{"ts": "1", "updates": 7}'])
    vk_settings.connectors["vk"] = ConnectorConfig(
        type="vk", api_base=vk_api.base_url, group_id=GROUP_ID, mode="longpoll", longpoll_wait=1)
    client = await make_client(vk_settings)
    await polling(vk_api)  # past the garbage: a poll waits for events only after the last of it
    vk_api.push_event(message_new(60, "after the garbage", secret=None))

    async def arrived() -> list[Message] | None:
        return await inbound(client) or None

    assert [m.text for m in await eventually(arrived, "the event after four broken answers")] == ["after the garbage"]
    assert not vk_api.longpoll_garbage


@pytest.mark.parametrize("secret", [None, "", SECRET, "anything"])
async def test_in_long_poll_mode_there_is_no_callback_api(
    make_client: AppClient, vk_settings: Settings, vk_api: FakeVk, monkeypatch: pytest.MonkeyPatch,
    secret: str | None,
) -> None:
    """The attack of the report: long poll, no secret set, and an event with
    ``"secret": ""`` and the community's public id. Nothing may post events."""
    monkeypatch.delenv("OMNIROUTER_VK_SECRET")
    vk_settings.connectors["vk"] = ConnectorConfig(
        type="vk", api_base=vk_api.base_url, group_id=GROUP_ID, mode="longpoll", longpoll_wait=1)
    client = await make_client(vk_settings)
    assert "vk" in client.app[CONNECTORS]
    for body in (message_new(61, "forged", secret=secret), event("confirmation", {}, secret=secret)):
        status, _ = await post(client, body)
        assert status == 404
    assert await inbound(client) == []


async def test_a_long_reply_goes_in_parts_each_sent_once(vk: Client, vk_api: FakeVk) -> None:
    assert await post(vk, message_new(44, "tell me all")) == (200, "ok")
    text = "\n".join(f"line {i} " + "x" * 90 for i in range(60))  # about 5800 characters
    vk_api.fail_call("messages.send", 2, 10, "Internal server error")  # the first part went out
    sent = await settled(vk, await reply(vk, text))
    assert sent.delivery is Delivery.SENT
    parts = [c.params["message"] for c in vk_api.delivered()]
    assert "".join(parts) == text and len(parts) == 2
    assert all(len(p) <= 4096 for p in parts) and parts[0].endswith("\n")
    # the retry resumed after the part the outbox knew went out (and had it
    # repeated it, its random_id would have kept VK from showing it twice)
    assert [c.params["message"] for c in vk_api.sent("messages.send")] == [parts[0], parts[1], parts[1]]


async def test_a_slow_vk_api_never_blocks_the_service(vk: Client, vk_api: FakeVk) -> None:
    """vk-api is synchronous: while a send hangs on a slow API in its worker
    thread, webhooks are still taken in and stored."""
    assert await post(vk, message_new(70, "first")) == (200, "ok")  # the sender's name is now cached
    vk_api.hold = asyncio.Event()  # VK answers nothing until the test says
    pending = await reply(vk, "slow to leave")

    async def sending() -> bool:
        return bool(vk_api.sent("messages.send"))

    await eventually(sending, "the send to reach VK")
    assert await post(vk, message_new(71, "second")) == (200, "ok")
    assert [m.text for m in await inbound(vk)] == ["first", "second"]
    # the send was still in flight while the webhook was answered
    shown = await vk.app[STORE].list_messages(pending.conversation_id or "", 10)
    assert next(m for m in shown if m.id == pending.id).delivery is Delivery.PENDING
    vk_api.hold.set()
    assert (await settled(vk, pending)).delivery is Delivery.SENT
