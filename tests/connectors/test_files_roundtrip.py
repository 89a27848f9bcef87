"""A file round trip through each platform's fake: an agent uploads a file in
the console API and replies with it; it reaches the customer the platform's
own way (Telegram and VK by upload, Twilio by a signed MediaUrl it fetches,
email as a MIME part, the site chat as a link). A visitor sends a file from
the widget and the agent opens it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from connectors.webchat_tokens import public_part
from router.appkeys import FILES
from router.config import ConnectorConfig, Settings
from router.models import Delivery, IdentityRef, InboundMessage, Message
from router.server.app import ROUTER, STORE
from tests.conftest import ADMIN_PASSWORD, AppClient, eventually
from tests.connectors import test_telegram as tg_test
from tests.connectors import test_vk as vk_test
from tests.connectors.broken_multipart import BROKEN, HEADERS, TRUNCATED, body, disposition, form
from tests.connectors.twilio_helpers import CUSTOMER, PUBLIC_URL, whatsapp_form
from tests.connectors.twilio_helpers import post as twilio_post
from tests.connectors.webchat_helpers import hello, receive, reload_history, say, tab
from tests.fakes.mail_servers import SmtpSink
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import FakeTwilio
from tests.fakes.vk_api import Call, FakeVk
from tests.router.files.test_sniff import EXE, PDF, PNG

Client = TestClient[web.Request, web.Application]

# the fixtures of each channel's own tests
tg_api, tg_settings = tg_test.tg_api, tg_test.tg_settings
vk_api, vk_settings = vk_test.vk_api, vk_test.vk_settings


async def agent(client: Client) -> aiohttp.ClientSession:
    """The console's API as a logged-in agent (the cookie copied by hand: it is
    Secure when public_url is https, and the test talks plain http)."""
    http = aiohttp.ClientSession(str(client.server.make_url("")))
    async with http.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD}) as resp:
        assert resp.status == 200
        http.headers["Cookie"] = "; ".join(f"{k}={v.value}" for k, v in resp.cookies.items())
    return http


async def upload(http: aiohttp.ClientSession, body: bytes, name: str, content_type: str) -> str:
    data = aiohttp.FormData()
    data.add_field("file", body, filename=name, content_type=content_type)
    async with http.post("/api/files", data=data) as resp:
        assert resp.status == 201, await resp.text()
        file_id: str = (await resp.json())["file"]["id"]
        return file_id


async def reply_with(client: Client, conversation_id: str, text: str, *files: tuple[bytes, str, str]) -> None:
    http = await agent(client)
    try:
        ids = [await upload(http, *f) for f in files]
        async with http.post(f"/api/conversations/{conversation_id}/messages",
                             json={"text": text, "files": ids}) as resp:
            assert resp.status == 201, await resp.text()
    finally:
        await http.close()


async def conversation_of(client: Client, kind: str, value: str) -> str:
    async def probe() -> str | None:
        customer = await client.app[STORE].find_identity(IdentityRef(kind=kind, value=value))
        if customer is None:
            return None
        messages = await client.app[STORE].customer_messages(customer.id, 10)
        return next((m.conversation_id for m in messages if m.conversation_id), None)

    return await eventually(probe, f"the {kind} customer's conversation")


# -- Telegram ---------------------------------------------------------------------------------


async def test_telegram_gets_the_photo_and_the_document_by_upload(
        make_client: AppClient, tg_settings: Settings, tg_api: FakeTelegram) -> None:
    client = await make_client(tg_settings)
    assert await tg_test.post(client, tg_test.text_update(70, "пришлите фото и счёт")) == 200
    conv = await conversation_of(client, "telegram", str(tg_test.USER))
    await reply_with(client, conv, "Вот фото", (PNG, "box.png", "image/png"))
    [photo] = await eventually(lambda: _some(tg_api.sent("sendPhoto")), "sendPhoto")
    assert photo.upload("photo") == ("box.png", PNG)  # the bytes, as multipart, in the Bot API's field
    assert photo.params["caption"] == "Вот фото" and photo.params["chat_id"] == str(tg_test.USER)
    await reply_with(client, conv, "", (PDF, "счёт.pdf", "application/pdf"))
    [document] = await eventually(lambda: _some(tg_api.sent("sendDocument")), "sendDocument")
    assert document.upload("document") == ("счёт.pdf", PDF)
    assert "caption" not in document.params


async def _some(found: list[Any]) -> list[Any] | None:
    return found or None


# -- VK -----------------------------------------------------------------------------------------


async def vk_reply(make_client: AppClient, vk_settings: Settings, vk_api: FakeVk, text: str,
                   *files: tuple[bytes, str, str]) -> Call:
    """A VK user writes, an agent answers with ``text`` and ``files``: the messages.send it became."""
    client = await make_client(vk_settings)
    assert (await vk_test.post(client, vk_test.message_new(70, "пришлите файлы")))[0] == 200
    conv = await conversation_of(client, "vk", str(vk_test.USER))
    await reply_with(client, conv, text, *files)
    [sent] = await eventually(lambda: _some(vk_api.sent("messages.send")), "messages.send")
    return sent


async def test_vk_gets_the_files_through_its_upload_servers(
        make_client: AppClient, vk_settings: Settings, vk_api: FakeVk) -> None:
    sent = await vk_reply(make_client, vk_settings, vk_api, "Вот фото и счёт", (PNG, "box.png", "image/png"),
                          (PDF, "счёт.pdf", "application/pdf"))
    assert [(kind, body) for kind, _, body in vk_api.uploads] == [("photo", PNG), ("doc", PDF)]
    [saved_doc] = vk_api.sent("docs.save")
    assert saved_doc.params["title"] == "счёт.pdf"
    photo, doc = sent.params["attachment"].split(",")
    assert photo.startswith(f"photo-{vk_test.GROUP_ID}_") and doc.startswith(f"doc-{vk_test.GROUP_ID}_")
    assert sent.params["message"] == "Вот фото и счёт"


# -- Twilio (WhatsApp) ---------------------------------------------------------------------------


async def test_twilio_fetches_a_signed_media_url_without_a_login(
        make_client: AppClient, tw_settings: Settings, twilio_api: FakeTwilio) -> None:
    client = await make_client(tw_settings)
    assert await twilio_post(client, "whatsapp", whatsapp_form("пришлите фото")) == 200
    conv = await conversation_of(client, "whatsapp", CUSTOMER)
    await reply_with(client, conv, "Вот фото", (PNG, "box.png", "image/png"))
    [call] = await eventually(lambda: _some(twilio_api.sent()), "the Twilio message")
    [url] = call.all("MediaUrl")
    assert url.startswith(f"{PUBLIC_URL}/api/files/") and "sig=" in url and "expires=" in url
    assert call.get("Body") == "Вот фото"
    server = str(client.server.make_url(""))
    [(status, content_type, body)] = await twilio_api.fetch_media(call, deliver_to=server)
    assert (status, content_type, body) == (200, "image/png", PNG)
    # the link is for that file only, and cannot be stretched
    stretched = url.removeprefix(PUBLIC_URL).replace("expires=", "expires=9")
    async with aiohttp.ClientSession() as anonymous, anonymous.get(server.rstrip("/") + stretched) as got:
        assert got.status == 403


# -- email --------------------------------------------------------------------------------------


async def test_email_carries_the_file_as_a_mime_attachment(
        make_client: AppClient, mail_settings: Settings, smtp: SmtpSink) -> None:
    client = await make_client(mail_settings)
    accepted = await client.app[ROUTER].on_message(InboundMessage(
        channel="mail", external_id="<m1@customer.example>", text="пришлите счёт",
        sender=IdentityRef(kind="email", value="anna@customer.example")))
    assert accepted.conversation_id is not None
    await reply_with(client, accepted.conversation_id, "Счёт во вложении", (PDF, "счёт.pdf", "application/pdf"))
    await eventually(lambda: _some(smtp.received), "the mail")
    mail = smtp.received[0].message()
    [part] = list(mail.iter_attachments())
    assert part.get_filename() == "счёт.pdf" and part.get_content_type() == "application/pdf"
    assert part.get_content() == PDF
    body = mail.get_body(("plain",))
    assert body is not None and "Счёт во вложении" in body.get_content()


# -- the site chat ---------------------------------------------------------------------------------


async def test_the_site_chat_shows_an_agents_file_as_a_link_the_visitor_opens(client: Client) -> None:
    async with tab(client) as ws:
        visitor = (await hello(ws))["visitor_id"]
        await say(ws, "пришлите фото")
        conv = await conversation_of(client, "webchat", public_part(visitor))
        await reply_with(client, conv, "Вот фото", (PNG, "box.png", "image/png"))
        frame = await receive(ws)
        while frame.get("author") != "agent":
            frame = await receive(ws)
    [file] = frame["files"]
    assert (file["name"], file["image"], file["type"], file["size"]) == ("box.png", True, "image/png", len(PNG))
    assert frame["text"] == "Вот фото"
    async with aiohttp.ClientSession() as anonymous, anonymous.get(client.server.make_url(file["url"])) as got:
        assert got.status == 200 and await got.read() == PNG
    # a reload shows it again, with a fresh link
    [*_, shown] = await reload_history(client, visitor)
    assert shown["files"][0]["name"] == "box.png"


async def visitor_upload(client: Client, visitor: str, body: bytes, name: str, content_type: str,
                         client_id: str | None = None, headers: dict[str, str] | None = None,
                         ) -> aiohttp.ClientResponse:
    data = aiohttp.FormData()
    data.add_field("visitor_id", visitor)
    data.add_field("client_id", client_id or str(uuid.uuid4()))
    data.add_field("file", body, filename=name, content_type=content_type)
    return await client.post("/chat/files", data=data, headers=headers)


async def test_a_visitors_file_reaches_the_agent(client: Client) -> None:
    async with tab(client) as ws:
        visitor = (await hello(ws))["visitor_id"]
        resp = await visitor_upload(client, visitor, PDF, "заказ.pdf", "application/pdf", "c-1")
        assert resp.status == 201, await resp.text()
        answer = await resp.json()
        assert answer["message"]["files"][0]["name"] == "заказ.pdf"
        echo = await receive(ws)  # the visitor's tabs show it
        assert echo["id"] == answer["id"] and echo["files"][0]["image"] is False
        # the same client_id again (a retried upload) is one message
        again = await visitor_upload(client, visitor, PDF, "заказ.pdf", "application/pdf", "c-1")
        assert (await again.json())["id"] == answer["id"]
    message = await client.app[STORE].get_message(answer["id"])
    [attachment] = message.attachments
    assert (attachment.name, attachment.mime_type, attachment.kind) == ("заказ.pdf", "application/pdf", "document")
    assert message.conversation_id is not None
    http = await agent(client)
    try:
        async with http.get(f"/api/files/{attachment.file}") as got:
            assert got.status == 200 and await got.read() == PDF
            assert got.headers["Content-Disposition"].startswith("attachment")
    finally:
        await http.close()


async def test_a_visitors_bad_upload_gets_a_clear_error_and_nothing_is_stored(
        make_client: AppClient, settings: Settings, tmp_path: Path) -> None:
    settings.files.max_bytes = 32 * 1024
    client = await make_client(settings)
    async with tab(client) as ws:
        visitor = (await hello(ws))["visitor_id"]
    cases = [
        ((visitor, EXE, "photo.jpg", "image/jpeg"), (415, "file_type_forged")),
        ((visitor, b"<html><script>alert(1)</script>", "cat.png", "image/png"), (415, "file_type_forged")),
        ((visitor, PDF + b"\0" * 64 * 1024, "big.pdf", "application/pdf"), (413, "file_too_large")),
        (("forged.token", PNG, "a.png", "image/png"), (403, "unknown_visitor")),
    ]
    for args, expected in cases:
        resp = await visitor_upload(client, *args)
        assert (resp.status, (await resp.json())["error"]["code"]) == expected
    assert await reload_history(client, visitor) == []  # no message
    folder = tmp_path / settings.files.folder
    assert [p.name for p in folder.rglob("*") if p.is_file()] == []  # no file, not even half of one


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.connectors.setdefault("webchat", ConnectorConfig(type="webchat"))
    return settings


@pytest.mark.parametrize("broken", [*BROKEN, pytest.param(None, id="no-boundary")])
async def test_a_visitors_body_aiohttp_cannot_read_is_400_and_nothing_is_stored(
        client: Client, tmp_path: Path, settings: Settings, broken: Callable[[str], bytes] | None) -> None:
    async with tab(client) as ws:
        visitor = (await hello(ws))["visitor_id"]
    if broken is None:  # was a 500: the boundary is looked for before the body is read
        data, headers = body(disposition("file")), {"Content-Type": "multipart/form-data"}
    else:
        data, headers = broken("visitor_id"), HEADERS
    resp = await client.post("/chat/files", data=data, headers=headers)
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "bad_multipart"
    assert await reload_history(client, visitor) == []
    assert [p.name for p in (tmp_path / settings.files.folder).rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("cut", TRUNCATED)
async def test_a_visitors_upload_cut_short_is_400_and_nothing_is_stored(
        client: Client, tmp_path: Path, settings: Settings, cut: Callable[[bytes], bytes]) -> None:
    async with tab(client) as ws:
        visitor = (await hello(ws))["visitor_id"]
    whole = form(("visitor_id", visitor.encode()), ("client_id", b"c-cut"))
    resp = await client.post("/chat/files", data=cut(whole), headers=HEADERS)
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "bad_multipart"
    assert await reload_history(client, visitor) == []
    assert [p.name for p in (tmp_path / settings.files.folder).rglob("*") if p.is_file()] == []
    resp = await client.post("/chat/files", data=whole, headers=HEADERS)  # sent again whole, it is taken
    assert resp.status == 201
    [stored] = await reload_history(client, visitor)
    assert [(f["name"], f["image"]) for f in stored["files"]] == [("a.png", True)]


async def test_a_file_gone_from_the_storage_is_dead_lettered_with_the_reason(
        make_client: AppClient, tg_settings: Settings, tg_api: FakeTelegram) -> None:
    """The outbox stays the one path: a file reply whose bytes are gone fails
    once, for good, and says why; the platform is never sent half of it."""
    client = await make_client(tg_settings)
    assert await tg_test.post(client, tg_test.text_update(71, "фото?")) == 200
    conv = await conversation_of(client, "telegram", str(tg_test.USER))
    http = await agent(client)
    try:
        file_id = await upload(http, PNG, "box.png", "image/png")
        await client.app[FILES].blobs.delete(file_id)
        async with http.post(f"/api/conversations/{conv}/messages", json={"text": "Вот", "files": [file_id]}) as resp:
            message_id = (await resp.json())["message"]["id"]
    finally:
        await http.close()

    async def failed() -> Message | None:
        message = await client.app[STORE].get_message(message_id)
        return message if message.delivery is Delivery.FAILED else None

    dead = await eventually(failed, "the reply to be dead-lettered")
    assert dead.delivery_error is not None and "gone" in dead.delivery_error
    assert tg_api.sent("sendPhoto") == [] and tg_api.sent("sendMessage") == []


async def test_a_site_that_may_not_embed_the_chat_cannot_upload_to_it(
        make_client: AppClient, settings: Settings) -> None:
    settings.connectors["webchat"] = ConnectorConfig(type="webchat", allowed_origins=["https://shop.example"])
    client = await make_client(settings)
    async with tab(client, headers={"Origin": "https://shop.example"}) as ws:
        visitor = (await hello(ws))["visitor_id"]
    refused = await visitor_upload(client, visitor, PNG, "a.png", "image/png", headers={"Origin": "https://evil.example"})
    assert (refused.status, (await refused.json())["error"]["code"]) == (403, "forbidden_origin")
    allowed = await visitor_upload(client, visitor, PNG, "a.png", "image/png", headers={"Origin": "https://shop.example"})
    assert allowed.status == 201
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://shop.example"


async def test_an_sms_gets_the_files_signed_link_in_its_text(
        make_client: AppClient, tw_settings: Settings, twilio_api: FakeTwilio) -> None:
    """SMS carries no files (MMS is the US's and Canada's): the file goes as a link that works without a login."""
    client = await make_client(tw_settings)
    accepted = await client.app[ROUTER].on_message(InboundMessage(
        channel="sms", external_id="SM" + "1" * 32, text="пришлите счёт",
        sender=IdentityRef(kind="sms", value=CUSTOMER)))
    assert accepted.conversation_id is not None
    await reply_with(client, accepted.conversation_id, "Счёт:", (PDF, "счёт.pdf", "application/pdf"))
    [call] = await eventually(lambda: _some(twilio_api.sent()), "the SMS")
    assert call.all("MediaUrl") == []
    body = call.get("Body") or ""
    first, link = body.split("\n")
    assert first == "Счёт:" and link.startswith(f"счёт.pdf: {PUBLIC_URL}/api/files/")
    server = str(client.server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as anonymous, anonymous.get(
            server + link.split(": ", 1)[1].removeprefix(PUBLIC_URL)) as got:
        assert got.status == 200 and await got.read() == PDF
