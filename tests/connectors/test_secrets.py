"""No configured secret ever leaves the server: one whole scenario with every
connector configured against its local fake (Telegram, VK, Twilio, email),
webhooks right and wrong, agents' replies that go out and that fail, a file
server that fails while an admin and an agent open a customer's file, and
then every HTTP answer (status, headers, body) and the whole log at DEBUG are
searched for each secret.

The finding behind it: when Telegram's file server answered an HTTP error,
the console's relay answered 502 with the file's URL, ``/file/bot<TOKEN>/…``,
and logged it at INFO."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from connectors.telegram import SECRET_HEADER
from router.config import ConnectorConfig, Settings
from router.models import Author, Delivery, IdentityRef, Message
from router.server.app import STORE
from tests.conftest import ADMIN_PASSWORD, AppClient, eventually
from tests.connectors import email_helpers as mail
from tests.connectors import test_telegram as tg
from tests.connectors import test_vk as vk
from tests.connectors import twilio_helpers as tw
from tests.connectors.email_helpers import dovecot, mailbox, smtp  # noqa: F401 (fixtures)
from tests.fakes.mail_servers import Dovecot, SmtpSink
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import FakeTwilio
from tests.fakes.vk_api import FakeVk

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

Client = TestClient[web.Request, web.Application]
SECRETS = {
    "OMNIROUTER_TELEGRAM_TOKEN": tg.TOKEN,
    "OMNIROUTER_TELEGRAM_SECRET": tg.SECRET,
    "OMNIROUTER_VK_TOKEN": vk.TOKEN,
    "OMNIROUTER_VK_SECRET": vk.SECRET,
    "OMNIROUTER_TWILIO_AUTH_TOKEN": tw.TOKEN,
    "OMNIROUTER_EMAIL_PASSWORD": mail.PASSWORD,
    "OMNIROUTER_ADMIN_PASSWORD": ADMIN_PASSWORD,
}
AGENT_PASSWORD = "agent-password-not-configured"  # typed by an admin, not configured: may be echoed nowhere either
PHOTO_ID = "AgACAgIAAxkBAAMFZ0-large"


class Seen:
    """Every HTTP answer the scenario got, as text."""

    def __init__(self) -> None:
        self.answers: list[str] = []

    async def keep(self, resp: aiohttp.ClientResponse | Any) -> tuple[int, str]:
        body = (await resp.read()).decode("utf-8", "replace")
        headers = "\n".join(f"{k}: {v}" for k, v in resp.headers.items())
        self.answers.append(f"{resp.status} {resp.url}\n{headers}\n\n{body}")
        return resp.status, body


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeTelegram, FakeVk, FakeTwilio]]:
    fakes = (FakeTelegram(tg.TOKEN), FakeVk(vk.TOKEN), FakeTwilio(tw.ACCOUNT, tw.TOKEN))
    for fake in fakes:
        await fake.start()
    yield fakes
    for fake in fakes:
        await fake.close()


@pytest.fixture
def everything(settings: Settings, fakes: tuple[FakeTelegram, FakeVk, FakeTwilio], mailbox: Dovecot,  # noqa: F811
               smtp: SmtpSink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:  # noqa: F811
    telegram, vk_api, twilio = fakes
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OMNIROUTER_TWILIO_ACCOUNT_SID", tw.ACCOUNT)
    settings.server.public_url = tw.PUBLIC_URL
    settings.connectors["telegram"] = ConnectorConfig(type="telegram", api_base=telegram.base_url)
    settings.connectors["vk"] = ConnectorConfig(type="vk", api_base=vk_api.base_url, group_id=vk.GROUP_ID,
                                                confirmation_code=vk.CONFIRMATION)
    settings.connectors["whatsapp"] = tw.section(twilio, "whatsapp")
    settings.connectors["mail"] = mail.email_section(mailbox, smtp, tmp_path)
    return settings


async def login(client: Client, seen: Seen, username: str, password: str) -> aiohttp.ClientSession:
    http = aiohttp.ClientSession(str(client.server.make_url("")))
    async with http.post("/api/login", json={"username": username, "password": password}) as resp:
        assert (await seen.keep(resp))[0] == 200
        http.headers["Cookie"] = "; ".join(f"{k}={v.value}" for k, v in resp.cookies.items())
    return http


async def customer_message(client: Client, kind: str, value: str) -> Message:
    async def probe() -> Message | None:
        customer = await client.app[STORE].find_identity(IdentityRef(kind=kind, value=value))
        if customer is None:
            return None
        found = [m for m in await client.app[STORE].customer_messages(customer.id, 100)
                 if m.author is Author.CUSTOMER]
        return found[-1] if found else None

    return await eventually(probe, f"a message from {kind} {value}", 15.0)


async def reply(http: aiohttp.ClientSession, seen: Seen, conversation_id: str, body: dict[str, Any]) -> str:
    async with http.post(f"/api/conversations/{conversation_id}/messages", json=body) as resp:
        status, text = await seen.keep(resp)
        assert status == 201, text
        message_id: str = (await resp.json())["message"]["id"]
        return message_id


async def settled(client: Client, message_id: str, conversation_id: str) -> Message:
    async def probe() -> Message | None:
        for m in await client.app[STORE].list_messages(conversation_id, 100):
            if m.id == message_id and m.delivery in (Delivery.SENT, Delivery.FAILED):
                return m
        return None

    return await eventually(probe, f"message {message_id} to settle", 30.0)


async def customers_write(client: Client, seen: Seen, telegram: FakeTelegram, imap: Dovecot) -> list[Message]:
    """A message by every channel (and strangers' with wrong secrets); the
    stored messages: Telegram (with a photo), VK, WhatsApp, email."""
    telegram.add_file(PHOTO_ID, "photos/file_7.jpg", b"\xff\xd8\xff\xe0 a photo")
    for secret, expected in ((tg.SECRET, 200), ("wrong", 401), (None, 401)):
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        body = tg.update(message=tg.message(60, photo=tg.PHOTO, caption="look"))
        async with client.post(tg.PATH, json=body, headers=headers) as resp:
            assert (await seen.keep(resp))[0] == expected
    for body, expected in ((vk.message_new(1, "привет"), 200), (vk.message_new(2, "x") | {"secret": "no"}, 403)):
        async with client.post(vk.PATH, json=body) as resp:
            assert (await seen.keep(resp))[0] == expected
    assert await tw.post(client, "whatsapp", tw.whatsapp_form("здравствуйте")) == 200
    assert await tw.post(client, "whatsapp", tw.whatsapp_form("forged"), token="not-the-token") == 403
    raw, _ = mail.mail("Заказ 1042", "Где мой заказ?")
    await mail.deliver(imap, raw)
    return [await customer_message(client, "telegram", str(tg.USER)),
            await customer_message(client, "vk", str(vk.USER)),
            await customer_message(client, "whatsapp", tw.CUSTOMER),
            await customer_message(client, "email", mail.CUSTOMER)]


async def relay_from_a_failing_file_server(
    seen: Seen, telegram: FakeTelegram, photo: Message, people: tuple[aiohttp.ClientSession, ...],
) -> None:
    """The finding: Telegram's file server fails while the file is relayed."""
    telegram.file_status = 500
    for http in people:
        async with http.get(f"/api/messages/{photo.id}/attachments/0") as resp:
            status, text = await seen.keep(resp)
            assert status == 502
            assert "Telegram's file server answered HTTP 500" in text
    telegram.file_status = None
    async with people[-1].get(f"/api/messages/{photo.id}/attachments/0") as resp:
        assert (await seen.keep(resp))[0] == 200


async def replies_that_go_out_and_fail(
    client: Client, seen: Seen, fakes: tuple[FakeTelegram, FakeVk, FakeTwilio], customers: list[Message],
    admin: aiohttp.ClientSession,
) -> None:
    for fake in fakes:
        fake.outage(times=50)
    sent = []
    for message in customers:
        assert message.conversation_id is not None
        sent.append((await reply(admin, seen, message.conversation_id, {"text": "Ответ"}), message.conversation_id))
    on_vk = customers[1].conversation_id
    assert on_vk is not None
    sent.append((await reply(admin, seen, on_vk, {
        "text": "файл", "attachments": [{"url": "http://127.0.0.1:1/internal.pdf"}]}), on_vk))
    results = [await settled(client, m, c) for m, c in sent]
    assert [r.delivery for r in results] == [Delivery.FAILED] * 3 + [Delivery.SENT, Delivery.FAILED]


async def test_no_configured_secret_appears_in_any_answer_or_log_line(
    make_client: AppClient, everything: Settings, fakes: tuple[FakeTelegram, FakeVk, FakeTwilio],
    mailbox: Dovecot, caplog: pytest.LogCaptureFixture,  # noqa: F811
) -> None:
    caplog.set_level(logging.DEBUG)
    seen = Seen()
    client = await make_client(everything)
    customers = await customers_write(client, seen, fakes[0], mailbox)
    admin = await login(client, seen, "admin", ADMIN_PASSWORD)
    try:
        async with admin.post("/api/agents", json={"username": "olga", "display_name": "Olga",
                                                   "password": AGENT_PASSWORD, "role": "agent"}) as resp:
            assert (await seen.keep(resp))[0] == 201
        agent = await login(client, seen, "olga", AGENT_PASSWORD)
        try:
            await relay_from_a_failing_file_server(seen, fakes[0], customers[0], (admin, agent))
            await replies_that_go_out_and_fail(client, seen, fakes, customers, admin)
            for http in (admin, agent):  # what agents are shown of it all
                for message in customers:
                    async with http.get(f"/api/conversations/{message.conversation_id}/messages") as resp:
                        await seen.keep(resp)
                async with http.get("/api/conversations?status=all") as resp:
                    await seen.keep(resp)
        finally:
            await agent.close()
    finally:
        await admin.close()

    log_text = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert "telegram" in log_text and "vk" in log_text and "mail" in log_text  # the log was captured
    for name, secret in {**SECRETS, "agent's password": AGENT_PASSWORD}.items():
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            for answer in seen.answers:
                assert form not in answer, f"{name} in an HTTP answer:\n{answer[:2000]}"
            assert form not in log_text, f"{name} in the log"
