"""What the email tests share: a mail as a desktop client writes it, the real
IMAP (dovecot) and SMTP (aiosmtpd) servers and the service configured for them
(fixtures, exposed to the tests by tests/connectors/conftest.py), and waiting
for mail to be stored."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from router.config import ConnectorConfig, Settings
from router.models import Author, IdentityRef, Message
from router.server.app import STORE
from tests.conftest import HANG, AppClient
from tests.conftest import eventually as wait_for_it
from tests.fakes.mail_servers import Dovecot, SmtpSink

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
