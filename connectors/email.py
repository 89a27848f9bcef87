"""Email: one mailbox, read over IMAP and answered over SMTP.

Inbound: the connector logs in to the mailbox with IMAPClient in a worker
thread of its own (IMAP is a stateful, blocking conversation; invariant 6 keeps
it off the event loop), waits with IDLE where the server offers it (re-issued
every ``idle_renew``, under RFC 2177's 30 minutes) and polls every
``poll_interval`` seconds otherwise. Not aioimaplib, the asyncio client the
design first named: it is GPL-3.0-only, and this Apache-2.0 project takes no
GPL dependency; IMAPClient is BSD. Unseen mail is fetched ``fetch_batch`` mails at a time
without marking it, archived (``archive_dir``), parsed
(``connectors.email_parse``) and handed to the router; only after the router has
stored it is the mail flagged ``\\Seen``. A crash in between means the mail
comes again and is deduped by its Message-ID, so nothing is lost or doubled.

A dropped connection is reopened with backoff (1 s doubling to 5 min); a
refused login is retried only every 5 minutes (doubling to an hour), since the
same password will not do better and servers lock out clients that keep trying.

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
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import aiosmtplib
from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from pydantic import Field, field_validator

from connectors.email_parse import ParsedMail, parse_mail
from router.connector import (
    Cause,
    ChannelLabel,
    Connector,
    ConnectorHost,
    ConnectorOptions,
    FileUnavailable,
    HostFailed,
    HostUnavailable,
    Language,
    Localized,
    MediaFile,
    PermanentError,
    SendProgress,
    SendResult,
    TransientError,
    localized,
    ru_en,
    written_language,
)
from router.models import Attachment, Author, Delivery, OutboundMessage

log = logging.getLogger(__name__)

T = TypeVar("T")
RECONNECT_MAX = 300.0
# a refused login is retried this slowly (doubling up to the max)
LOGIN_RETRY = 300.0
LOGIN_RETRY_MAX = 3600.0
# how often an IDLE wait looks up to see whether it should stop
IDLE_TICK = 0.5
CLOSED_AFTER_EMPTY_WAKEUPS = 3
# how long a shutdown waits for the server's goodbye
SHUTDOWN_GRACE = 5.0
# RFC 2177: servers may end an IDLE after 30 minutes
IDLE_RENEW_MAX = 29 * 60.0
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
    idle_renew: float = Field(25 * 60.0, gt=0, le=IDLE_RENEW_MAX)
    fetch_batch: int = Field(50, ge=1, le=1000)

    smtp_host: str | None = None
    smtp_port: int | None = Field(None, ge=1, le=65535)  # default: 465 for tls, 587 starttls, 25 none
    smtp_security: Literal["tls", "starttls", "none"] = "starttls"
    smtp_username: str | None = None  # default: username
    smtp_password_env: str | None = None  # default: password_env
    timeout: float = Field(30.0, gt=0)
    verify_certificates: bool = True
    # the largest mail (attachments base64-encoded) to send: set it to the SMTP server's SIZE (25 MB is
    # common); the default lets through one file of the default files.max_bytes (20 MiB)
    max_mail_bytes: int = Field(30 * 1024**2, gt=0)

    # raw mail (with its attachments) is kept here, one file per mail; None: not kept
    archive_dir: str | None = "var/mail"
    # subject of a message that answers no mail (a verification code): one text, or one per language,
    # chosen by the script the message is written in
    default_subject: str | Localized = Field(default_factory=lambda: ru_en("Сообщение от службы поддержки",
                                                                         "Message from support"))

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

    def secret_envs(self) -> list[str]:
        return [self.password_env, *([self.smtp_password_env] if self.smtp_password_env else [])]

    def login(self) -> str:
        return self.username or self.address or ""

    def imap_port_or_default(self) -> int:
        return self.imap_port or (993 if self.imap_security == "tls" else 143)

    def smtp_port_or_default(self) -> int:
        return self.smtp_port or {"tls": 465, "starttls": 587, "none": 25}[self.smtp_security]


def _subject(default: str | dict[Language, str], text: str) -> str:
    """The default subject in the script the message is written in (a code alone: Russian, the market's)."""
    return default if isinstance(default, str) else localized(default, written_language(text) or "ru")


def _reply_subject(subject: str) -> str:
    subject = " ".join(subject.split())
    if not subject:
        return ""
    return subject if subject.lower().startswith(_RE_PREFIX) else f"Re: {subject}"


class EmailConnector(Connector[EmailOptions]):
    type_name: ClassVar[str] = "email"
    # how customers and agents see the channel named; the section's ``label`` overrides it
    LABEL: ClassVar[ChannelLabel] = ChannelLabel(name={"ru": "почта", "en": "email"},
                                           where={"ru": "по почте", "en": "by email"})

    def default_label(self) -> ChannelLabel:
        return self.LABEL


    def __init__(self, name: str, options: EmailOptions, host: ConnectorHost) -> None:
        super().__init__(name, options, host)
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
        # set each time the mailbox has been read through (tests and the bench wait on it)
        self.caught_up = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------
    async def __aenter__(self) -> EmailConnector:
        # one reader per mailbox in the whole cluster
        self._reader = asyncio.create_task(self.leadership.run(f"email:{self.name}", self._read_while_leading),
                                           name=f"email-{self.name}")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._stop.set()  # an IDLE wait sees it within IDLE_TICK and sends DONE
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        await self._close_imap()  # never logged in (no lead) or already logged out: a no-op
        # still blocked only while a connection is being opened: that ends by `timeout`
        self._imap_thread.shutdown(wait=False, cancel_futures=True)

    async def _read_while_leading(self) -> None:
        """The reading loop, logged out when it stops: at shutdown, or when
        another node takes the mailbox over."""
        self._stop.clear()
        try:
            await self._read_forever()
        finally:
            self._stop.set()
            await self._close_imap()

    async def _close_imap(self) -> None:
        try:
            async with asyncio.timeout(SHUTDOWN_GRACE):
                await self._in_imap_thread(self._logout)
        except TimeoutError:
            # the server stopped answering (a dead link): pull the socket from
            # under the thread's blocking read instead of waiting out `timeout`
            log.warning("email %s: the IMAP server did not answer within %gs; connection closed",
                        self.name, SHUTDOWN_GRACE)
            self._abort()
        except ImapError:
            pass  # logout on a broken connection: it is closed all the same

    async def _in_imap_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._imap_thread, fn, *args)

    # -- IMAP, on the connector's thread --------------------------------------------------
    def _connect(self) -> bool:
        """Log in and select the mailbox; True when IDLE can be used."""
        s = self.options
        context = ssl.create_default_context()
        if not s.verify_certificates:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        assert s.imap_host is not None
        client = IMAPClient(s.imap_host, port=s.imap_port_or_default(), ssl=s.imap_security == "tls",
                            ssl_context=context, timeout=s.timeout)
        self._imap = client  # from here on a shutdown can abort it
        try:
            if s.imap_security == "starttls":
                client.starttls(context)
            client.login(s.login(), self._password)
            client.select_folder(s.mailbox)
            return s.idle and client.has_capability("IDLE")
        except BaseException:
            self._imap = None
            with contextlib.suppress(*ImapError):
                client.shutdown()
            raise

    def _logout(self) -> None:
        client, self._imap = self._imap, None
        if client is not None:
            try:
                client.logout()
            except ImapError:
                with contextlib.suppress(*ImapError):
                    client.shutdown()

    def _abort(self) -> None:
        """From the event loop: make the IMAP thread's blocked read fail now."""
        client = self._imap
        if client is not None:
            with contextlib.suppress(OSError):
                # the plain socket's shutdown, also under TLS: it wakes the reader
                # without touching the TLS object the other thread is using
                socket.socket.shutdown(client.socket(), socket.SHUT_RDWR)

    def _unseen(self) -> list[int]:
        assert self._imap is not None
        return sorted(self._imap.search(["UNSEEN"]))

    def _fetch(self, uids: list[int]) -> list[tuple[int, ParsedMail]]:
        """These mails, without marking them read, archived and parsed."""
        assert self._imap is not None
        fetched = self._imap.fetch(uids, ["BODY.PEEK[]"])
        parsed: list[tuple[int, ParsedMail]] = []
        for uid in uids:
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

    def _idle_wait(self) -> bool:
        """Wait in IDLE until new mail, a renewal or a stop; True on new mail."""
        client = self._imap
        assert client is not None
        client.idle()
        # IDLE tells of mail that comes after it starts; one that came between the last
        # search and IDLE is found at the next search: no later than poll_interval
        deadline = time.monotonic() + min(self.options.idle_renew, self.options.poll_interval)
        empty_wakeups = 0
        while not self._stop.is_set() and time.monotonic() < deadline:
            woken = time.monotonic()
            responses = client.idle_check(timeout=IDLE_TICK)
            if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                break
            # idle_check swallows the end of the stream: a closed connection
            # shows as a socket that is readable at once yet yields nothing
            quick_and_empty = not responses and time.monotonic() - woken < IDLE_TICK / 2
            empty_wakeups = empty_wakeups + 1 if quick_and_empty else 0
            if empty_wakeups >= CLOSED_AFTER_EMPTY_WAKEUPS:
                raise ConnectionResetError("the IMAP server closed the connection")
        else:
            client.idle_done()
            return False
        client.idle_done()
        return True

    # -- the reading loop ---------------------------------------------------------------
    async def _read_forever(self) -> None:
        delay = 1.0
        refused_delay = LOGIN_RETRY
        while True:
            try:
                idle = await self._in_imap_thread(self._connect)
            except LoginError as exc:
                if _login_refused(exc):
                    # the same password will not do better soon, and servers lock
                    # out (or fail2ban bans) a client that keeps trying it
                    log.error("email %s: %s refused the login of %s: %s; check the password in %s; "
                              "trying again in %gs", self.name, self.options.imap_host, self.options.login(),
                              _reason(exc), self.options.password_env, refused_delay)
                    await asyncio.sleep(refused_delay)
                    refused_delay = min(refused_delay * 2, LOGIN_RETRY_MAX)
                    continue
                log.warning("email %s: IMAP failed at login, reconnecting in %gs: %s", self.name, delay, _reason(exc))
            except ImapError as exc:
                log.warning("email %s: IMAP failed to connect to %s:%d, reconnecting in %gs: %s", self.name,
                            self.options.imap_host, self.options.imap_port_or_default(), delay, _reason(exc))
            else:
                log.info("email %s: reading %s on %s (%s)", self.name, self.options.mailbox,
                         self.options.imap_host, "IDLE" if idle else f"polling every {self.options.poll_interval:g}s")
                delay, refused_delay = 1.0, LOGIN_RETRY
                try:
                    await self._session(idle)
                except ImapError as exc:
                    log.warning("email %s: IMAP failed, reconnecting in %gs: %s", self.name, delay, _reason(exc))
                except HostUnavailable:  # an outage the router logs once: the mail stays unseen
                    log.debug("email %s: the router is unavailable, retrying in %gs", self.name, delay)
                except HostFailed as exc:  # logged by the router with its traceback: the mail stays unseen
                    log.warning("email %s: storing mail failed, retrying in %gs: %s", self.name, delay, exc.reason)
                with contextlib.suppress(*ImapError):
                    await self._in_imap_thread(self._logout)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX)

    async def _session(self, idle: bool) -> None:
        while True:
            while await self._read_unseen():
                pass
            self.caught_up.set()
            if idle:
                await self._in_imap_thread(self._idle_wait)
            else:
                await asyncio.sleep(self.options.poll_interval)

    async def _read_unseen(self) -> bool:
        """Hand the unseen mail to the router, ``fetch_batch`` mails per fetch
        (a big mailbox is never one giant response); False when there was none."""
        uids = await self._in_imap_thread(self._unseen)
        if not uids:
            return False
        size = self.options.fetch_batch
        chunks = [uids[i:i + size] for i in range(0, len(uids), size)]
        # the next chunk is fetched and parsed on the IMAP thread while the router
        # stores this one; it is flagged only after it is stored in its turn
        loop = asyncio.get_running_loop()
        pending = loop.create_task(self._in_imap_thread(self._fetch, chunks[0]))
        try:
            for following in [*chunks[1:], None]:
                batch = await pending
                if following is not None:
                    pending = loop.create_task(self._in_imap_thread(self._fetch, following))
                await self._store_batch(batch)
        finally:
            if not pending.done():
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, *ImapError):
                    await pending
        return True

    async def _store_batch(self, batch: list[tuple[int, ParsedMail]]) -> None:
        # one sender's mail in order, different senders' side by side
        by_sender: dict[str, list[tuple[int, ParsedMail]]] = {}
        for uid, mail in batch:
            by_sender.setdefault(mail.inbound.sender.value.lower(), []).append((uid, mail))
        stored: list[int] = []

        async def accept_in_order(mails: list[tuple[int, ParsedMail]]) -> None:
            for uid, mail in mails:
                await self._accept(mail)
                stored.append(uid)

        results = await asyncio.gather(*(accept_in_order(m) for m in by_sender.values()), return_exceptions=True)
        if stored:
            await self._in_imap_thread(self._mark_seen, sorted(stored))
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _accept(self, mail: ParsedMail) -> None:
        await self.host.admission(self.name, None)  # over the lag bound: the mail waits in the mailbox
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

    def compose(self, message: OutboundMessage, files: Sequence[tuple[Attachment, MediaFile]] = ()) -> EmailMessage:
        """The mail of a message; ``files``: its stored files' bytes, attached as MIME parts."""
        s = self.options
        thread = message.thread
        mail = EmailMessage()
        mail["From"] = formataddr((s.display_name or "", s.address or ""))
        mail["To"] = message.recipient
        mail["Subject"] = _reply_subject(str(thread.get("subject") or "")) or _subject(s.default_subject, message.text)
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
        for attachment, media in files:
            maintype, _, subtype = media.content_type.partition("/")
            mail.add_attachment(media.body, maintype=maintype, subtype=subtype or "octet-stream",
                                filename=attachment.name or "file")
        return mail

    async def send(self, message: OutboundMessage, progress: SendProgress | None = None) -> SendResult:
        if "@" not in message.recipient:
            raise PermanentError(f"email: {message.recipient!r} is not an email address", Cause.NO_RECIPIENT)
        s = self.options
        mail = self.compose(message, await self._stored_files(message))
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


    async def _stored_files(self, message: OutboundMessage) -> list[tuple[Attachment, MediaFile]]:
        """The stored files' bytes, whole: aiosmtplib sends a mail it holds
        whole (it flattens the MIME before DATA, with no way to stream a
        part), so the only bound on what one send holds is this check, made
        on the storage's sizes before a byte is read: a mail over the SMTP
        server's limit would be refused after holding it all anyway. The
        attachments' own sizes are checked before any stream is opened; each
        stream is then opened, read and closed in turn (the storage's size
        checked again), so a refusal or a failure leaves none open."""
        stored = [attachment for attachment in message.attachments if attachment.file is not None]
        self._check_size(sum(_base64_size(a.size or 0) for a in stored))
        files = []
        read = 0  # the encoded bytes of the files read so far
        for n, attachment in enumerate(stored):
            try:
                size, pieces = await self.files.stream(attachment)
                try:
                    # the storage's size, with the rest's as the attachments say
                    self._check_size(read + _base64_size(size) + sum(_base64_size(a.size or 0) for a in stored[n + 1:]))
                    body = b"".join([piece async for piece in pieces])
                finally:
                    await _close(pieces)
            except FileUnavailable as exc:
                raise (TransientError if exc.transient else PermanentError)(f"email: {exc}") from exc
            read += _base64_size(size)
            files.append((attachment, MediaFile(body, attachment.mime_type or "application/octet-stream")))
        return files

    def _check_size(self, encoded: int) -> None:
        if encoded > self.options.max_mail_bytes:
            raise PermanentError(f"email: the attachments make a mail of about {encoded} bytes, over the "
                                 f"{self.options.max_mail_bytes} of max_mail_bytes: send them as links")


async def _close(pieces: AsyncIterator[bytes]) -> None:
    """A stream of the storage closed (its file handle or connection given back), read or not."""
    close = getattr(pieces, "aclose", None)
    if close is not None:
        await close()


def _base64_size(size: int) -> int:
    """A MIME part's size for ``size`` bytes: base64 (4 for 3), in lines of 76 and a line break."""
    chars = -(-size // 3) * 4
    return chars + -(-chars // 76) * 2


def _login_refused(exc: LoginError) -> bool:
    """The server said no to these credentials (not: the link broke, or RFC 5530's
    UNAVAILABLE, a temporary failure of the server's own)."""
    if isinstance(exc.__context__, (imaplib.IMAP4.abort, OSError)):
        return False
    return "[UNAVAILABLE]" not in str(exc)


def _reason(exc: BaseException) -> str:
    """The server's words as text (imaplib hands them over as bytes reprs)."""
    text = str(exc) or type(exc).__name__
    return text[2:-1] if text[:2] in ("b'", 'b"') and text[-1:] == text[1] else text


# RFC 5321's and RFC 3463's final replies, in an agent's terms
_CAUSES = {530: Cause.ACCOUNT, 534: Cause.ACCOUNT, 535: Cause.ACCOUNT, 550: Cause.NO_RECIPIENT,
           551: Cause.NO_RECIPIENT, 552: Cause.TOO_LARGE, 553: Cause.NO_RECIPIENT, 554: Cause.REJECTED}


def _by_code(code: int, detail: str) -> TransientError | PermanentError:
    """SMTP replies: 4xx is worth another try later, 5xx is final."""
    if 500 <= code < 600:
        return PermanentError(f"email: refused by the SMTP server: {detail}", _CAUSES.get(code, Cause.REJECTED))
    return TransientError(f"email: SMTP server asked to try later: {detail}")
