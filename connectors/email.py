"""Email: one mailbox, read over IMAP and answered over SMTP.

Inbound: the connector logs in to the mailbox with IMAPClient (BSD) in a
worker thread of its own (IMAP is a stateful, blocking conversation; invariant
6 keeps it off the event loop), waits with IDLE where the server offers it and
polls every ``poll_interval`` seconds otherwise. Each unseen mail is fetched
without marking it, archived (``archive_dir``), parsed (``connectors.email_parse``)
and handed to the router; only after the router has stored it is the mail
flagged ``\\Seen``. A crash in between means the mail comes again and is
deduped by its Message-ID, so nothing is lost or doubled.

Outbound: aiosmtplib (implicit TLS, STARTTLS or plain for a local relay).
Each reply gets its own stable ``Message-ID`` (made from the outbox message id,
so a retried send reuses it), ``In-Reply-To`` the customer's mail and
``References`` the chain, with ``Subject: Re: …``; the Message-ID is the
outbound message's external id, so the customer's answer finds its thread.
SMTP 4xx and network trouble are retried by the outbox; 5xx is permanent.

Bounces (delivery-status reports) about one of our mails mark it failed with
the report's status and diagnostic, through ``ConnectorHost.on_delivery_status``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import imaplib
import logging
import os
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import aiosmtplib
from imapclient import IMAPClient
from pydantic import Field, field_validator

from connectors.base import (
    Connector,
    ConnectorHost,
    ConnectorOptions,
    PermanentError,
    SendResult,
    TransientError,
)
from connectors.email_parse import ParsedMail, parse_mail
from router.models import Author, Delivery, OutboundMessage

log = logging.getLogger(__name__)

T = TypeVar("T")
RECONNECT_MAX = 300.0
# how often an IDLE wait looks up to see whether it should stop
IDLE_TICK = 0.5
_RE_PREFIX = ("re:", "ответ:", "aw:", "sv:", "re ")
ImapError = (imaplib.IMAP4.error, OSError, ssl.SSLError, socket.timeout)


class EmailOptions(ConnectorOptions):
    # the mailbox's own address: the From of every reply
    address: str | None = None
    display_name: str | None = None
    username: str | None = None  # IMAP/SMTP login; default: address
    password_env: str = "OMNIROUTER_EMAIL_PASSWORD"

    imap_host: str | None = None
    imap_port: int | None = Field(None, ge=1, le=65535)  # default: 993 for tls, 143 otherwise
    imap_security: Literal["tls", "starttls", "none"] = "tls"
    mailbox: str = "INBOX"
    idle: bool = True  # False: poll even when the server supports IDLE
    poll_interval: float = Field(60.0, gt=0)
    # RFC 2177: re-issue IDLE before servers' 30-minute timeout
    idle_renew: float = Field(25 * 60.0, gt=0)
    fetch_batch: int = Field(50, ge=1, le=1000)

    smtp_host: str | None = None
    smtp_port: int | None = Field(None, ge=1, le=65535)  # default: 465 for tls, 587 starttls, 25 none
    smtp_security: Literal["tls", "starttls", "none"] = "starttls"
    smtp_username: str | None = None  # default: username
    smtp_password_env: str | None = None  # default: password_env
    timeout: float = Field(30.0, gt=0)
    verify_certificates: bool = True

    # raw mail (with its attachments) is kept here, one file per mail; None: not kept
    archive_dir: str | None = "var/mail"
    # subject of a message that answers no mail (a verification code)
    default_subject: str = "Message from support"

    @field_validator("api_base")
    @classmethod
    def _no_api_base(cls, value: str | None) -> str | None:
        if value is not None:
            raise ValueError("the email connector has no api_base: set imap_host/imap_port and smtp_host/smtp_port")
        return value

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and ("@" not in value or value.strip() != value):
            raise ValueError("address must be the mailbox's email address, such as support@example.com")
        return value

    def disabled_reason(self) -> str | None:
        missing = [n for n in ("address", "imap_host", "smtp_host") if getattr(self, n) is None]
        if missing:
            return f"set {', '.join(missing)} in its config section"
        if not os.environ.get(self.password_env):
            return f"set {self.password_env} to the mailbox's password"
        return None

    def login(self) -> str:
        return self.username or self.address or ""

    def imap_port_or_default(self) -> int:
        return self.imap_port or (993 if self.imap_security == "tls" else 143)

    def smtp_port_or_default(self) -> int:
        return self.smtp_port or {"tls": 465, "starttls": 587, "none": 25}[self.smtp_security]


def _reply_subject(subject: str) -> str:
    subject = " ".join(subject.split())
    if not subject:
        return ""
    return subject if subject.lower().startswith(_RE_PREFIX) else f"Re: {subject}"


class EmailConnector(Connector):
    type_name: ClassVar[str] = "email"
    options_model: ClassVar[type[ConnectorOptions]] = EmailOptions

    def __init__(self, name: str, options: ConnectorOptions, host: ConnectorHost) -> None:
        if not isinstance(options, EmailOptions):
            options = EmailOptions.model_validate(options.model_dump())
        super().__init__(name, options, host)
        self.settings: EmailOptions = options
        self._password = os.environ.get(options.password_env, "")
        self._smtp_password = os.environ.get(options.smtp_password_env or options.password_env, "")
        address = options.address or "omnirouter@localhost"
        self._domain = address.rsplit("@", 1)[-1]
        self._archive = Path(options.archive_dir) / name if options.archive_dir else None
        # one thread owns the IMAP connection: its commands never interleave
        self._imap_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"imap-{name}")
        self._imap: IMAPClient | None = None
        self._stop = threading.Event()
        self._reader: asyncio.Task[None] | None = None
        # mails stored but not yet flagged (the flag failed): not handed over again
        self._stored_uids: set[int] = set()
        # set each time the mailbox has been read through (tests and the bench wait on it)
        self.caught_up = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------
    async def __aenter__(self) -> EmailConnector:
        self._stop.clear()
        self._reader = asyncio.create_task(self._read_forever(), name=f"email-{self.name}")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        with contextlib.suppress(*ImapError):
            await self._in_imap_thread(self._logout)
        await asyncio.to_thread(self._imap_thread.shutdown, True)

    async def _in_imap_thread(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._imap_thread, fn, *args)

    # -- IMAP, on the connector's thread --------------------------------------------------
    def _connect(self) -> bool:
        """Log in and select the mailbox; True when IDLE can be used."""
        s = self.settings
        context = ssl.create_default_context()
        if not s.verify_certificates:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        assert s.imap_host is not None
        client = IMAPClient(s.imap_host, port=s.imap_port_or_default(), ssl=s.imap_security == "tls",
                            ssl_context=context, timeout=s.timeout)
        try:
            if s.imap_security == "starttls":
                client.starttls(context)
            client.login(s.login(), self._password)
            client.select_folder(s.mailbox)
            idle = s.idle and client.has_capability("IDLE")
        except BaseException:
            with contextlib.suppress(*ImapError):
                client.shutdown()
            raise
        self._imap = client
        # a mail stored but never flagged comes again and is deduped
        self._stored_uids.clear()
        return idle

    def _logout(self) -> None:
        client, self._imap = self._imap, None
        if client is not None:
            try:
                client.logout()
            except ImapError:
                client.shutdown()

    def _fetch_unseen(self) -> list[tuple[int, ParsedMail]]:
        """The next batch of unseen mail, parsed (oldest first)."""
        client = self._imap
        assert client is not None
        unseen = sorted(client.search(["UNSEEN"]))
        if stored := [u for u in unseen if u in self._stored_uids]:
            self._mark_seen(stored)  # stored earlier, but the flag did not get through
        uids = [u for u in unseen if u not in self._stored_uids]
        batch = uids[: self.settings.fetch_batch]
        if not batch:
            return []
        fetched = client.fetch(batch, ["BODY.PEEK[]"])
        parsed: list[tuple[int, ParsedMail]] = []
        for uid in batch:
            data = fetched.get(uid, {}).get(b"BODY[]")
            if not isinstance(data, bytes):
                log.warning("email %s: mail uid %d vanished before it was read", self.name, uid)
                continue
            mail = parse_mail(self.name, data)
            self._archive_raw(data, mail)
            parsed.append((uid, mail))
        return parsed

    def _archive_raw(self, raw: bytes, mail: ParsedMail) -> None:
        """Keep the mail as received (attachments included) before it is acknowledged."""
        if self._archive is None:
            return
        digest = hashlib.sha256(raw).hexdigest()
        path = self._archive / digest[:2] / f"{digest}.eml"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".part")
            partial.write_bytes(raw)
            partial.replace(path)
        mail.inbound.extras["raw_file"] = str(path)

    def _mark_seen(self, uids: list[int]) -> None:
        assert self._imap is not None
        self._imap.add_flags(uids, [b"\\Seen"], silent=True)
        self._stored_uids.difference_update(uids)

    def _idle_wait(self) -> bool:
        """Wait in IDLE until new mail, a renewal or a stop; True on new mail."""
        client = self._imap
        assert client is not None
        client.idle()
        try:
            deadline = time.monotonic() + self.settings.idle_renew
            while not self._stop.is_set() and time.monotonic() < deadline:
                for response in client.idle_check(timeout=IDLE_TICK):
                    if len(response) > 1 and response[1] in (b"EXISTS", b"RECENT"):
                        return True
            return False
        finally:
            client.idle_done()

    # -- the reading loop ---------------------------------------------------------------
    async def _read_forever(self) -> None:
        delay = 1.0
        while True:
            try:
                idle = await self._in_imap_thread(self._connect)
                log.info("email %s: reading %s on %s (%s)", self.name, self.settings.mailbox,
                         self.settings.imap_host, "IDLE" if idle else f"polling every {self.settings.poll_interval:g}s")
                delay = 1.0
                await self._session(idle)
            except ImapError as exc:
                log.warning("email %s: IMAP failed, reconnecting in %gs: %s", self.name, delay, exc)
            except Exception:
                # the router could not store a mail: it stays unseen and comes again
                log.exception("email %s: storing mail failed, retrying in %gs", self.name, delay)
            with contextlib.suppress(*ImapError):
                await self._in_imap_thread(self._logout)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX)

    async def _session(self, idle: bool) -> None:
        while True:
            while await self._read_batch():
                pass
            self.caught_up.set()
            if idle:
                await self._in_imap_thread(self._idle_wait)
            else:
                await asyncio.sleep(self.settings.poll_interval)

    async def _read_batch(self) -> bool:
        """Hand one batch of unseen mail to the router; False when none was left."""
        batch: list[tuple[int, ParsedMail]] = await self._in_imap_thread(self._fetch_unseen)
        if not batch:
            return False
        # one sender's mail in order, different senders' side by side
        by_sender: dict[str, list[tuple[int, ParsedMail]]] = {}
        for uid, mail in batch:
            by_sender.setdefault(mail.inbound.sender.value.lower(), []).append((uid, mail))
        stored: list[int] = []

        async def accept_in_order(mails: list[tuple[int, ParsedMail]]) -> None:
            for uid, mail in mails:
                await self._accept(mail)
                stored.append(uid)
                self._stored_uids.add(uid)

        results = await asyncio.gather(*(accept_in_order(m) for m in by_sender.values()), return_exceptions=True)
        if stored:
            await self._in_imap_thread(self._mark_seen, sorted(stored))
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return True

    async def _accept(self, mail: ParsedMail) -> None:
        accepted = await self.host.on_message(mail.inbound)
        log.debug("email %s: mail %s is message %s%s", self.name, mail.inbound.external_id, accepted.message_id,
                  " (duplicate)" if accepted.duplicate else "")
        report = mail.report
        if report is not None and report.failed and report.message_id and not accepted.duplicate:
            await self.host.on_delivery_status(self.name, report.message_id, Delivery.FAILED, report.reason())

    # -- delivery -------------------------------------------------------------------------
    def message_id_for(self, message_id: str) -> str:
        """Our Message-ID for an outbox message: the same on every retry."""
        return f"{message_id}@{self._domain}"

    def compose(self, message: OutboundMessage) -> EmailMessage:
        s = self.settings
        thread = message.thread
        mail = EmailMessage()
        mail["From"] = formataddr((s.display_name or "", s.address or ""))
        mail["To"] = message.recipient
        mail["Subject"] = _reply_subject(str(thread.get("subject") or "")) or s.default_subject
        mail["Date"] = format_datetime(message.created_at)
        mail["Message-ID"] = f"<{self.message_id_for(message.message_id)}>"
        answered = thread.get("message_id")
        if isinstance(answered, str) and answered:
            mail["In-Reply-To"] = f"<{answered}>"
            references = [r for r in thread.get("references") or [] if isinstance(r, str)] or [answered]
            mail["References"] = " ".join(f"<{r}>" for r in references)
        if message.author is Author.BOT:
            # RFC 3834: the customer's auto-responder must not answer our bot
            mail["Auto-Submitted"] = "auto-replied"
        elif message.author is Author.SYSTEM:
            mail["Auto-Submitted"] = "auto-generated"
        text = message.text
        links = [a.url for a in message.attachments if a.url]
        if links:
            text = "\n".join([text, "", *links]) if text else "\n".join(links)
        mail.set_content(text, cte="quoted-printable")
        return mail

    async def send(self, message: OutboundMessage) -> SendResult:
        if "@" not in message.recipient:
            raise PermanentError(f"email: {message.recipient!r} is not an email address")
        s = self.settings
        mail = self.compose(message)
        try:
            await aiosmtplib.send(
                mail, hostname=s.smtp_host, port=s.smtp_port_or_default(),
                username=s.smtp_username or s.login(), password=self._smtp_password or None,
                use_tls=s.smtp_security == "tls", start_tls=s.smtp_security == "starttls",
                validate_certs=s.verify_certificates, timeout=s.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise _by_code(min(r.code for r in exc.recipients),
                           "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _by_code(exc.code, f"{exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TransientError(f"email: SMTP server {s.smtp_host}: {exc}") from exc
        return SendResult(external_id=self.message_id_for(message.message_id))


def _by_code(code: int, detail: str) -> TransientError | PermanentError:
    """SMTP replies: 4xx is worth another try later, 5xx is final."""
    if 500 <= code < 600:
        return PermanentError(f"email: refused by the SMTP server: {detail}")
    return TransientError(f"email: SMTP server asked to try later: {detail}")
