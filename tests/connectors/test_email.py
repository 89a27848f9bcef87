"""Email against the whole running service, a real IMAP server (Debian's
dovecot) and a real SMTP server (aiosmtpd): mail delivered to the mailbox
becomes a conversation, the agent's answer arrives as a threaded mail, and
the customer's answer to that joins the same conversation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connectors.email_parse import parse_mail
from router.models import ConversationStatus, IdentityRef
from router.server.app import ROUTER, STORE
from tests.conftest import ADMIN_PASSWORD
from tests.connectors.email_helpers import (
    CUSTOMER,
    MAILBOX,
    Client,
    deliver,
    eventually,
    inbound_from,
    mail,
)
from tests.fakes.mail_servers import Dovecot, Received, SmtpSink

# the SMTP sink listens on 127.0.0.1 only: AUTH without TLS is what a local relay does
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


# -- helpers -------------------------------------------------------------------------------


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
    assert shown["delivery_error"].startswith("gave up after 3 attempts: [unavailable] email: SMTP server 127.0.0.1:")


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
        "[no_recipient] email: refused by the SMTP server: anna.petrova@example.ru: "
        "550 5.1.1 <anna.petrova@example.ru>: Recipient address rejected: User unknown")
    assert smtp.received == []
