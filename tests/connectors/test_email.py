"""Email against the whole running service, a real IMAP server (Debian's
dovecot) and a real SMTP server (aiosmtpd): mail delivered to the mailbox
becomes a conversation, the agent's answer arrives as a threaded mail, and
the customer's answer to that joins the same conversation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from connectors.email import EmailConnector
from connectors.email_parse import parse_mail
from router.config import ConnectorConfig, Settings
from router.models import Author, ConversationStatus, IdentityRef, Message
from router.server.app import CONNECTORS, ROUTER, STORE
from tests.conftest import ADMIN_PASSWORD, HANG, AppClient
from tests.conftest import eventually as wait_for_it
from tests.fakes.mail_servers import Dovecot, ImapTap, Received, SmtpSink

# the SMTP sink listens on 127.0.0.1 only: AUTH without TLS is what a local relay does
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

Client = TestClient[web.Request, web.Application]
T = TypeVar("T")

MAILBOX = "support@shop.example"
PASSWORD = "mailbox-secret"
CUSTOMER = "anna.petrova@example.ru"


def mail(subject: str, body: str, *, sender: str = f"Анна Петрова <{CUSTOMER}>", message_id: str | None = None,
         headers: dict[str, str] | None = None) -> tuple[bytes, str]:
    """A mail as a desktop client writes it (RFC 2047 headers, UTF-8 body);
    (raw bytes, its Message-ID without <>)."""
    mid = message_id or make_msgid(domain="example.ru")[1:-1]
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = f"Shop Support <{MAILBOX}>"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 24 Nov 2026 10:00:00 +0300"
    msg["Message-ID"] = f"<{mid}>"
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes(policy=policy.SMTP), mid


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    server = Dovecot({MAILBOX: PASSWORD}, tls=True).start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(dovecot: Dovecot) -> Iterator[Dovecot]:
    """The shared dovecot, with an empty INBOX for each test."""
    with dovecot.imap(MAILBOX) as conn:
        _status, data = conn.select("INBOX")
        if int(data[0] or 0):
            conn.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
            conn.expunge()
    yield dovecot


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink(MAILBOX, PASSWORD).start()
    yield sink
    sink.stop()


def email_section(mailbox: Dovecot | None, smtp: SmtpSink, tmp_path: Path, **more: Any) -> ConnectorConfig:
    return ConnectorConfig.model_validate({
        "type": "email", "address": MAILBOX, "display_name": "Shop Support",
        "imap_host": "127.0.0.1", "imap_port": mailbox.port if mailbox else None, "imap_security": "none",
        "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_security": "none",
        "archive_dir": str(tmp_path / "mail"), "poll_interval": 0.2, **more,
    })


@pytest.fixture
def mail_settings(settings: Settings, mailbox: Dovecot, smtp: SmtpSink, tmp_path: Path,
                  monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("OMNIROUTER_EMAIL_PASSWORD", PASSWORD)
    settings.connectors["mail"] = email_section(mailbox, smtp, tmp_path)
    return settings


@pytest.fixture
async def app(make_client: AppClient, mail_settings: Settings) -> Client:
    return await make_client(mail_settings)


# -- helpers -------------------------------------------------------------------------------


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    return await wait_for_it(probe, what, HANG)


async def deliver(mailbox: Dovecot, raw: bytes) -> None:
    await asyncio.to_thread(mailbox.deliver, MAILBOX, raw)


async def inbound_from(app: Client, address: str, count: int = 1) -> list[Message]:
    async def probe() -> list[Message] | None:
        store = app.app[STORE]
        customer = await store.find_identity(IdentityRef(kind="email", value=address))
        if customer is None:
            return None
        found = [m for m in await store.customer_messages(customer.id, 100) if m.author is Author.CUSTOMER]
        return found if len(found) >= count else None

    return await eventually(probe, f"{count} mail(s) from {address} to be stored")


async def received(smtp: SmtpSink, count: int = 1) -> list[Received]:
    async def probe() -> list[Received] | None:
        return smtp.received if len(smtp.received) >= count else None

    return await eventually(probe, f"{count} mail(s) at the SMTP server")


class Console:
    """The agent's side, through the console API as the console page uses it."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http

    async def reply(self, conversation_id: str, text: str) -> str:
        async with self.http.post(f"/api/conversations/{conversation_id}/messages", json={"text": text}) as resp:
            assert resp.status == 201, await resp.text()
            return str((await resp.json())["message"]["id"])

    async def messages(self, conversation_id: str) -> dict[str, dict[str, Any]]:
        async with self.http.get(f"/api/conversations/{conversation_id}/messages") as resp:
            assert resp.status == 200
            return {m["id"]: m for m in (await resp.json())["messages"]}


@pytest.fixture
async def console(app: Client) -> AsyncIterator[Console]:
    async with aiohttp.ClientSession(str(app.server.make_url(""))) as http:
        async with http.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD}) as resp:
            assert resp.status == 200
            cookie = "; ".join(f"{k}={v.value}" for k, v in resp.cookies.items())
        http.headers["Cookie"] = cookie
        yield Console(http)


def connector(app: Client) -> EmailConnector:
    found = app.app[CONNECTORS]["mail"]
    assert isinstance(found, EmailConnector)
    return found


# -- end to end ------------------------------------------------------------------------------


async def test_mail_in_agent_reply_out_with_threading_and_the_answer_joins(
    app: Client, mailbox: Dovecot, smtp: SmtpSink, console: Console
) -> None:
    raw, first_id = mail("Заказ 1042 не пришёл",
                         "Здравствуйте! Где мой заказ 1042?\n\n-- \nАнна Петрова\n+7 912 000-00-00")
    await deliver(mailbox, raw)
    [stored] = await inbound_from(app, CUSTOMER)
    assert stored.text == "Здравствуйте! Где мой заказ 1042?"  # the signature is not what she asked
    assert stored.external_id == first_id and stored.channel == "mail"
    assert stored.extras["subject"] == "Заказ 1042 не пришёл"
    assert "Анна Петрова\n+7 912" in stored.extras["full_text"]
    assert await asyncio.to_thread(Path(stored.extras["raw_file"]).read_bytes) == raw
    conversation = await app.app[STORE].get_conversation(stored.conversation_id or "")
    assert conversation.customer_name == "Анна Петрова" and conversation.status is ConversationStatus.QUEUED
    # the mail is flagged read only once stored
    assert await eventually(lambda: asyncio.to_thread(lambda: all(mailbox.seen(MAILBOX).values()) or None),
                            "the mail to be flagged \\Seen")

    reply_id = await console.reply(conversation.id, "Добрый день! Заказ передан курьеру, будет завтра.")
    [out] = await received(smtp)
    sent = out.message()
    assert out.rcpt_tos == [CUSTOMER] and out.mail_from == MAILBOX
    assert sent["To"] == CUSTOMER
    assert sent["From"].addresses[0].addr_spec == MAILBOX and sent["From"].addresses[0].display_name == "Shop Support"
    assert sent["Subject"] == "Re: Заказ 1042 не пришёл"
    assert sent["In-Reply-To"] == f"<{first_id}>"
    assert sent["References"] == f"<{first_id}>"
    assert sent.get_content().strip() == "Добрый день! Заказ передан курьеру, будет завтра."
    our_id = sent["Message-ID"].strip("<>")
    shown = await eventually(
        lambda: _settled(console, conversation.id, reply_id), "the reply to show as sent")
    assert shown["delivery"] == "sent" and shown["external_id"] == our_id

    # her client answers our mail: quoted text below, headers pointing at ours
    answer, _ = mail("Re: Заказ 1042 не пришёл",
                     "Спасибо, жду!\n\nвт, 24 нояб. 2026 г. в 12:00, Shop Support <support@shop.example>:\n"
                     "> Добрый день! Заказ передан курьеру, будет завтра.\n",
                     headers={"In-Reply-To": f"<{our_id}>", "References": f"<{first_id}> <{our_id}>"})
    await deliver(mailbox, answer)
    _, second = await inbound_from(app, CUSTOMER, 2)
    assert second.conversation_id == conversation.id
    assert second.text == "Спасибо, жду!"
    assert "> Добрый день!" in second.extras["full_text"]

    # the next reply carries the whole chain
    await console.reply(conversation.id, "Пожалуйста!")
    _, out2 = await received(smtp, 2)
    threaded = out2.message()
    assert threaded["In-Reply-To"] == f"<{second.external_id}>"
    assert threaded["References"] == f"<{first_id}> <{our_id}> <{second.external_id}>"
    assert threaded["Subject"] == "Re: Заказ 1042 не пришёл"


async def _settled(console: Console, conversation_id: str, message_id: str) -> dict[str, Any] | None:
    shown = (await console.messages(conversation_id))[message_id]
    return shown if shown["delivery"] in ("sent", "failed") else None


async def test_an_answer_from_another_address_with_broken_headers_falls_back_to_the_sender(
    app: Client, mailbox: Dovecot, smtp: SmtpSink, console: Console
) -> None:
    raw, first_id = mail("Счёт", "Пришлите счёт, пожалуйста")
    await deliver(mailbox, raw)
    [first] = await inbound_from(app, CUSTOMER)
    # a client that drops In-Reply-To/References: still her open conversation
    raw2, _ = mail("Re: Счёт", "И акт тоже")
    await deliver(mailbox, raw2)
    _, second = await inbound_from(app, CUSTOMER, 2)
    assert second.conversation_id == first.conversation_id
    # her accountant answers in the thread from his own address: joins it too
    raw3, _ = mail("Re: Счёт", "Реквизиты во вложении", sender="Бухгалтерия <buh@example.ru>",
                   headers={"In-Reply-To": f"<{first_id}>"})
    await deliver(mailbox, raw3)
    [third] = await inbound_from(app, "buh@example.ru")
    assert third.conversation_id == first.conversation_id


async def test_a_redelivered_mail_is_stored_once(app: Client, mailbox: Dovecot) -> None:
    raw, mid = mail("Дубль", "Один раз")
    await deliver(mailbox, raw)
    await deliver(mailbox, raw)  # the same mail twice in the mailbox (a retried delivery)
    raw_other, _ = mail("Другое", "Второе письмо")
    await deliver(mailbox, raw_other)
    stored = await inbound_from(app, CUSTOMER, 2)
    await eventually(lambda: asyncio.to_thread(
        lambda: (len(s := mailbox.seen(MAILBOX)) == 3 and all(s.values())) or None), "all three flagged")
    assert sorted(m.text for m in stored) == sorted(["Один раз", "Второе письмо"])
    assert [m.external_id for m in stored].count(mid) == 1
    assert app.app[ROUTER].metrics.duplicates.labels("mail")._value.get() == 1


async def test_a_malformed_mail_is_stored_raw_with_a_warning(app: Client, mailbox: Dovecot) -> None:
    # no From address at all, a broken MIME structure: still kept for a person to read
    raw = (b"From: nobody-knows\r\nSubject: =?utf-8?B?broken\r\nContent-Type: multipart/mixed\r\n\r\n"
           b"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 no boundary here\r\n")
    await deliver(mailbox, raw)
    [stored] = await inbound_from(app, "unknown-sender@invalid")
    assert stored.extras["parse_warnings"] == ["no sender address in From"]
    assert "Привет no boundary here" in stored.extras["raw"]
    # the raw mail is no one's typed words: shown to the agent, never read for claims
    assert (stored.text, stored.extras["description"]) == ("", "[unreadable mail] see the raw mail below")
    assert stored.conversation_id is not None  # an agent sees it


async def test_an_auto_reply_opens_nothing_and_gets_no_answer(
    app: Client, mailbox: Dovecot, smtp: SmtpSink
) -> None:
    raw, _ = mail("Автоответ: Заказ", "Я в отпуске до 1 декабря.", headers={"Auto-Submitted": "auto-replied"})
    await deliver(mailbox, raw)
    await eventually(lambda: asyncio.to_thread(lambda: all(mailbox.seen(MAILBOX).values()) or None),
                     "the auto-reply to be stored and flagged")
    store = app.app[STORE]
    assert await store.count_conversations() == {s: 0 for s in ConversationStatus}
    assert smtp.received == []
    # kept all the same (nothing lost), but as nobody's customer: stored once, and unrouted on purpose
    again = await app.app[ROUTER].on_message(parse_mail("mail", raw).inbound)
    assert again.duplicate and again.conversation_id is None
    assert await store.find_identity(IdentityRef(kind="email", value=CUSTOMER)) is None
    assert await app.app[ROUTER].ingest.resume() == 0


BOUNCE = """From: Mail Delivery System <MAILER-DAEMON@mx.example.ru>
To: {mailbox}
Subject: Undelivered Mail Returned to Sender
Date: Tue, 24 Nov 2026 10:05:00 +0300
Message-ID: <20261124070500.AB12C3@mx.example.ru>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.ru.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

--BOUNDARY
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.ru
X-Postfix-Queue-ID: AB12C3
Arrival-Date: Tue, 24 Nov 2026 10:04:58 +0300

Final-Recipient: rfc822; {customer}
Original-Recipient: rfc822;{customer}
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.ru
Diagnostic-Code: smtp; 550 5.1.1 <{customer}>: Recipient address rejected: User unknown

--BOUNDARY
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Shop Support <{mailbox}>
To: {customer}
Subject: Re: =?utf-8?b?0JfQsNC60LDQtw==?=
Message-ID: <{ours}>

--BOUNDARY--
"""


async def test_a_bounce_marks_our_mail_failed_and_opens_nothing(
    app: Client, mailbox: Dovecot, smtp: SmtpSink, console: Console
) -> None:
    raw, _ = mail("Заказ", "Где заказ?")
    await deliver(mailbox, raw)
    [stored] = await inbound_from(app, CUSTOMER)
    conversation_id = stored.conversation_id or ""
    reply_id = await console.reply(conversation_id, "Уже в пути")
    [out] = await received(smtp)
    ours = out.message()["Message-ID"].strip("<>")
    await eventually(lambda: _settled(console, conversation_id, reply_id), "the reply to be sent")

    bounce = BOUNCE.format(mailbox=MAILBOX, customer=CUSTOMER, ours=ours).replace("\n", "\r\n").encode()
    await deliver(mailbox, bounce)

    async def failed() -> dict[str, Any] | None:
        shown = (await console.messages(conversation_id))[reply_id]
        return shown if shown["delivery"] == "failed" else None

    shown = await eventually(failed, "the bounced reply to show as failed")
    assert "5.1.1" in shown["delivery_error"] and "User unknown" in shown["delivery_error"]
    # the report is in the thread for the agent, from nobody's profile, and answered by nobody
    messages = await console.messages(conversation_id)
    [report] = [m for m in messages.values() if m["core"]["automated"]]
    assert report["extras"]["delivery_report"]["status"] == "5.1.1"
    assert await app.app[STORE].find_identity(IdentityRef(kind="email", value="MAILER-DAEMON@mx.example.ru")) is None
    counts = await app.app[STORE].count_conversations()
    assert sum(counts.values()) == 1
    assert len(smtp.received) == 1


# -- delivery failures ---------------------------------------------------------------------


async def test_an_smtp_outage_is_retried_then_dead_lettered_and_the_agent_sees_why(
    app: Client, mailbox: Dovecot, smtp: SmtpSink, console: Console
) -> None:
    raw, _ = mail("Вопрос", "Алло?")
    await deliver(mailbox, raw)
    [stored] = await inbound_from(app, CUSTOMER)
    smtp.stop()  # the server is down: connection refused
    reply_id = await console.reply(stored.conversation_id or "", "Мы здесь")
    shown = await eventually(lambda: _settled(console, stored.conversation_id or "", reply_id),
                             "the reply to be dead-lettered")
    assert shown["delivery"] == "failed"
    assert shown["delivery_error"].startswith("gave up after 3 attempts: email: SMTP server 127.0.0.1:")


async def test_a_4xx_is_retried_and_the_same_mail_goes_out_once(
    app: Client, mailbox: Dovecot, smtp: SmtpSink, console: Console
) -> None:
    raw, _ = mail("Вопрос", "Алло?")
    await deliver(mailbox, raw)
    [stored] = await inbound_from(app, CUSTOMER)
    smtp.fail_next("DATA", "451 4.3.0 Temporary local problem, try later")
    reply_id = await console.reply(stored.conversation_id or "", "Мы здесь")
    shown = await eventually(lambda: _settled(console, stored.conversation_id or "", reply_id), "the reply")
    assert shown["delivery"] == "sent"
    [out] = smtp.received
    assert out.message()["Message-ID"] == f"<{shown['external_id']}>"


async def test_a_5xx_fails_at_once_with_the_servers_words(
    app: Client, mailbox: Dovecot, smtp: SmtpSink, console: Console
) -> None:
    raw, _ = mail("Вопрос", "Алло?")
    await deliver(mailbox, raw)
    [stored] = await inbound_from(app, CUSTOMER)
    smtp.fail_next("RCPT", "550 5.1.1 <anna.petrova@example.ru>: Recipient address rejected: User unknown")
    reply_id = await console.reply(stored.conversation_id or "", "Мы здесь")
    shown = await eventually(lambda: _settled(console, stored.conversation_id or "", reply_id), "the reply")
    assert shown["delivery"] == "failed"
    assert shown["delivery_error"] == (
        "email: refused by the SMTP server: anna.petrova@example.ru: 550 5.1.1 <anna.petrova@example.ru>: "
        "Recipient address rejected: User unknown")
    assert smtp.received == []


# -- the mailbox connection -------------------------------------------------------------------


async def test_polling_without_idle_and_nothing_lost_across_a_restart(
    make_client: AppClient, mail_settings: Settings, mailbox: Dovecot, smtp: SmtpSink, tmp_path: Path
) -> None:
    mail_settings.connectors["mail"] = email_section(mailbox, smtp, tmp_path, idle=False)
    first = await make_client(mail_settings)
    raw, _ = mail("Первое", "Раз")
    await deliver(mailbox, raw)
    await inbound_from(first, CUSTOMER)
    await first.close()
    # mail arriving while the service is down is read on the next start
    raw2, _ = mail("Второе", "Два")
    await deliver(mailbox, raw2)
    second = await make_client(mail_settings)
    stored = await inbound_from(second, CUSTOMER, 2)
    assert [m.text for m in stored] == ["Раз", "Два"]


async def test_idle_wakes_the_connector_without_polling(
    make_client: AppClient, mail_settings: Settings, mailbox: Dovecot, smtp: SmtpSink, tmp_path: Path
) -> None:
    # a poll interval far longer than the test: only IDLE can bring the mail in
    mail_settings.connectors["mail"] = email_section(mailbox, smtp, tmp_path, poll_interval=3600)
    app = await make_client(mail_settings)
    await eventually(lambda: _caught_up(connector(app)), "the first read of the mailbox")
    raw, _ = mail("Сейчас", "IDLE")
    await deliver(mailbox, raw)
    [stored] = await inbound_from(app, CUSTOMER)
    assert stored.text == "IDLE"


async def _caught_up(c: EmailConnector) -> bool:
    return c.caught_up.is_set()


async def test_a_wrong_password_is_retried_and_the_service_keeps_running(
    make_client: AppClient, mail_settings: Settings, mailbox: Dovecot, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("OMNIROUTER_EMAIL_PASSWORD", "wrong-Pa55")
    app = await make_client(mail_settings)

    async def refused() -> list[str] | None:
        return [r.getMessage() for r in caplog.records if "refused the login" in r.getMessage()] or None

    [logged] = await eventually(refused, "the refused login to be logged")
    # what the admin needs: which server, which login, the server's words, where the password comes from
    assert logged == ("email mail: 127.0.0.1 refused the login of support@shop.example: "
                      "[AUTHENTICATIONFAILED] Authentication failed.; check the password in "
                      "OMNIROUTER_EMAIL_PASSWORD; trying again in 300s")
    assert not any("wrong-Pa55" in r.getMessage() for r in caplog.records)
    async with app.get("/healthz") as resp:
        assert resp.status == 200
    assert not connector(app).caught_up.is_set()


def test_the_connector_is_off_until_its_password_is_set(
    mail_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OMNIROUTER_EMAIL_PASSWORD")
    options = EmailConnector.parse_options(mail_settings.connectors["mail"].options())
    assert options.disabled_reason() == "set OMNIROUTER_EMAIL_PASSWORD to the mailbox's password"
    bare = EmailConnector.parse_options({})
    assert bare.disabled_reason() == "set address, imap_host, smtp_host in its config section"


def test_bad_options_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="no api_base"):
        EmailConnector.parse_options({"api_base": "http://x"})
    with pytest.raises(ValueError, match="imap_security"):
        EmailConnector.parse_options({"imap_security": "ssl"})
    with pytest.raises(ValueError, match="mailbox's email address"):
        EmailConnector.parse_options({"address": "support"})


# -- the link to the mailbox, through a tap that breaks it as networks do ----------------------


@pytest.fixture
async def tap(mailbox: Dovecot) -> AsyncIterator[ImapTap]:
    relay = await ImapTap(mailbox.port).start()
    yield relay
    await relay.stop()


async def tapped_client(make_client: AppClient, settings: Settings, tap: ImapTap, smtp: SmtpSink,
                        tmp_path: Path, **more: Any) -> Client:
    """The service, reading the mailbox through the tap."""
    settings.connectors["mail"] = email_section(None, smtp, tmp_path, imap_port=tap.port, **more)
    return await make_client(settings)


@pytest.fixture
async def tls_tap(mailbox: Dovecot) -> AsyncIterator[ImapTap]:
    relay = await ImapTap(mailbox.tls_port, tls=True).start()
    yield relay
    await relay.stop()


@pytest.mark.parametrize("security", ["none", "tls"])
async def test_a_connection_dropped_during_idle_is_reestablished_and_mail_still_arrives(
    security: str, tap: ImapTap, tls_tap: ImapTap, make_client: AppClient, mail_settings: Settings,
    mailbox: Dovecot, smtp: SmtpSink, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    if security == "tls":
        tap = tls_tap  # the drop must be seen under TLS too, where EOF reaches IMAPClient differently
    app = await tapped_client(make_client, mail_settings, tap, smtp, tmp_path, poll_interval=3600,
                              imap_security=security, verify_certificates=False)
    await eventually(lambda: _caught_up(connector(app)), "the first read of the mailbox")
    if security == "none":
        await eventually(lambda: _sent(tap, "IDLE", 1), "the connector to wait in IDLE")
    connector(app).caught_up.clear()
    tap.cut()  # the server restarts

    async def reported() -> bool:
        return any("IMAP failed" in r.getMessage() for r in caplog.records)

    await eventually(reported, "the dropped connection to be logged")
    await eventually(lambda: _caught_up_again(connector(app)), "the mailbox read on a new connection")
    assert tap.sessions == 2
    raw, _ = mail("После обрыва", "Дошло?")
    await deliver(mailbox, raw)
    [stored] = await inbound_from(app, CUSTOMER)
    assert stored.text == "Дошло?"


async def _caught_up_again(c: EmailConnector) -> bool:
    return c.caught_up.is_set()


async def _sent(tap: ImapTap, command: str, count: int) -> bool:
    return len(tap.commands(command)) >= count


async def test_a_mail_stored_but_not_yet_flagged_comes_again_and_is_stored_once(
    tap: ImapTap, make_client: AppClient, mail_settings: Settings, mailbox: Dovecot, smtp: SmtpSink,
    tmp_path: Path,
) -> None:
    # the link dies exactly between "stored" and "flagged \Seen" (a crash there is the same)
    tap.drop_on("UID STORE")
    raw, mid = mail("Один раз", "Только один раз")
    await deliver(mailbox, raw)
    app = await tapped_client(make_client, mail_settings, tap, smtp, tmp_path)
    await eventually(lambda: asyncio.to_thread(lambda: all(mailbox.seen(MAILBOX).values()) or None),
                     "the mail to be flagged on the second connection")
    assert tap.sessions == 2
    assert len(tap.commands("UID FETCH")) == 2  # read twice...
    [stored] = await inbound_from(app, CUSTOMER)  # ...stored once
    assert stored.external_id == mid
    assert app.app[ROUTER].metrics.duplicates.labels("mail")._value.get() == 1


async def test_idle_is_renewed_before_the_servers_limit_and_still_brings_mail(
    tap: ImapTap, make_client: AppClient, mail_settings: Settings, mailbox: Dovecot, smtp: SmtpSink,
    tmp_path: Path,
) -> None:
    app = await tapped_client(make_client, mail_settings, tap, smtp, tmp_path, poll_interval=3600, idle_renew=0.3)
    await eventually(lambda: _sent(tap, "IDLE", 3), "IDLE to be issued three times")
    assert len(tap.commands("DONE")) >= 2  # each renewal ends the previous IDLE first
    assert tap.sessions == 1
    raw, _ = mail("Всё ещё здесь", "IDLE после обновлений")
    await deliver(mailbox, raw)
    [stored] = await inbound_from(app, CUSTOMER)
    assert stored.text == "IDLE после обновлений"


def test_idle_renewal_past_the_rfc_2177_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="idle_renew"):
        EmailConnector.parse_options({"idle_renew": 30 * 60})
    assert EmailConnector.parse_options({"idle_renew": 29 * 60}).model_dump()["idle_renew"] == 29 * 60


async def test_a_big_mailbox_is_fetched_in_bounded_chunks_unmarked_and_each_senders_mail_in_order(
    tap: ImapTap, make_client: AppClient, mail_settings: Settings, mailbox: Dovecot, smtp: SmtpSink,
    tmp_path: Path,
) -> None:
    senders = ["anna@example.ru", "boris@example.ru", "vera@example.ru"]
    for i in range(10):
        raw, _ = mail(f"Письмо {i}", f"Текст {i}", sender=senders[i % 3])
        await deliver(mailbox, raw)
    app = await tapped_client(make_client, mail_settings, tap, smtp, tmp_path, fetch_batch=3)
    await eventually(lambda: _caught_up(connector(app)), "the mailbox to be read through")
    fetches = tap.commands("UID FETCH")
    assert len(fetches) == 4
    for command in fetches:
        uid_set, _, items = command.removeprefix("UID FETCH ").partition(" ")
        assert len(uid_set.split(",")) <= 3 and ":" not in uid_set
        assert items == "(BODY.PEEK[])"  # read without marking: \Seen comes only after storing
    assert len(await asyncio.to_thread(mailbox.seen, MAILBOX)) == 10
    assert all((await asyncio.to_thread(mailbox.seen, MAILBOX)).values())
    for n, sender in enumerate(senders):
        stored = await inbound_from(app, sender, len(range(n, 10, 3)))
        assert [m.text for m in stored] == [f"Текст {i}" for i in range(n, 10, 3)]


async def test_shutdown_ends_idle_and_logs_out(
    tap: ImapTap, make_client: AppClient, mail_settings: Settings, mailbox: Dovecot, smtp: SmtpSink,
    tmp_path: Path,
) -> None:
    app = await tapped_client(make_client, mail_settings, tap, smtp, tmp_path, poll_interval=3600)
    await eventually(lambda: _sent(tap, "IDLE", 1), "the connector to wait in IDLE")
    await app.close()
    assert tap.commands()[-3:] == ["IDLE", "DONE", "LOGOUT"]


async def test_shutdown_does_not_hang_on_a_server_that_stopped_answering(
    tap: ImapTap, make_client: AppClient, mail_settings: Settings, mailbox: Dovecot, smtp: SmtpSink,
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    # a link that died silently (a NAT that forgot it): nothing comes back, and
    # the connection's own timeout is far longer than anyone waits at shutdown
    app = await tapped_client(make_client, mail_settings, tap, smtp, tmp_path, poll_interval=3600, timeout=3600)
    await eventually(lambda: _sent(tap, "IDLE", 1), "the connector to wait in IDLE")
    tap.freeze()
    async with asyncio.timeout(HANG):
        await app.close()
    assert "DONE" in tap.commands()
    assert any("did not answer" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_mail_is_read_over_tls_and_starttls(
    security: str, make_client: AppClient, mail_settings: Settings, mailbox: Dovecot, smtp: SmtpSink,
    tmp_path: Path,
) -> None:
    port = mailbox.tls_port if security == "tls" else mailbox.port
    # the test server's certificate is self-signed: checking it is switched off here
    mail_settings.connectors["mail"] = email_section(mailbox, smtp, tmp_path, imap_port=port,
                                                     imap_security=security, verify_certificates=False)
    app = await make_client(mail_settings)
    raw, _ = mail("Шифрование", "По TLS")
    await deliver(mailbox, raw)
    [stored] = await inbound_from(app, CUSTOMER)
    assert stored.text == "По TLS"


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_an_untrusted_certificate_is_refused_with_the_reason(
    security: str, make_client: AppClient, mail_settings: Settings, mailbox: Dovecot, smtp: SmtpSink,
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    port = mailbox.tls_port if security == "tls" else mailbox.port
    mail_settings.connectors["mail"] = email_section(mailbox, smtp, tmp_path, imap_port=port,
                                                     imap_security=security)
    app = await make_client(mail_settings)

    async def refused() -> list[str] | None:
        return [r.getMessage() for r in caplog.records if "IMAP failed to connect" in r.getMessage()] or None

    [logged, *_] = await eventually(refused, "the certificate to be refused")
    assert f"to 127.0.0.1:{port}" in logged and "CERTIFICATE_VERIFY_FAILED" in logged
    assert "self-signed certificate" in logged
    assert not connector(app).caught_up.is_set()
