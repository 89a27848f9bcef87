"""Reading mail for the email connector: raw RFC 5322 bytes -> ``InboundMessage``.

Parsed with the stdlib ``email`` package and ``policy.default``, which decodes
RFC 2047 headers, RFC 2231 file names and any charset Python has a codec for
(KOI8-R, windows-1251, ...). HTML-only mail is turned into readable text
(``connectors.email_html``). Quoted earlier text and signatures are stripped from
what the agent sees (quotequail plus our patterns for Russian and common
clients); the full body is kept in ``extras["full_text"]`` when anything was
cut. A mail that cannot be read is still stored: its raw text with the parse
warnings, never dropped.

Machines' mail (auto-replies, out-of-office notes, bounces) is marked
``automated`` so it never opens a conversation or gets an answer; a bounce's
delivery report is read so the connector can mark our message failed.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any

import quotequail

from connectors.email_charset import disarmed, part_text, unknown_charset
from connectors.email_files import attachments_of
from connectors.email_headers import bounded_headers
from connectors.email_html import html_to_text
from router.models import MAX_TEXT_LENGTH, IdentityRef, InboundMessage

log = logging.getLogger(__name__)

IDENTITY_KIND = "email"
# what the agent sees of a long mail; the rest stays in full_text
# as much as the raw mail kept: a webhook's whole body is a MiB too
MAX_FULL_TEXT = 1_000_000
MAX_RAW_KEPT = 1_000_000
MAX_REFERENCES = 30
# a mail of more MIME parts is kept raw: the stdlib reads each part's headers
# in Python (~1 ms a part), and 10,000 one-byte parts held the mailbox's
# reader for 5-10 s. Real mail, even a scanner's batch, has tens of parts
MAX_PARTS = 1_000
_BOUNDARY = re.compile(rb'boundary\s*=\s*(?:"([^"\r\n]+)"|([^\s;"]+))', re.IGNORECASE)
_DASH_LINE = re.compile(rb"^--([^\r\n]*)", re.MULTILINE)
_MSGID = re.compile(r"<([^<>\s]+)>")

# -- auto-replies and bounces (RFC 3834, RFC 2076, RFC 3464) ---------------------------

_AUTO_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
_DAEMONS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """One recipient's line of a delivery-status report, about our ``message_id``."""

    message_id: str | None
    action: str
    status: str | None
    diagnostic: str | None
    recipient: str | None

    @property
    def failed(self) -> bool:
        return self.action == "failed"

    def reason(self) -> str:
        parts = [f"bounced ({self.action}"]
        if self.status:
            parts.append(f" {self.status}")
        parts.append(")")
        if self.recipient:
            parts.append(f" for {self.recipient}")
        if self.diagnostic:
            parts.append(f": {self.diagnostic}")
        return "".join(parts)[:1000]


@dataclass(slots=True)
class ParsedMail:
    inbound: InboundMessage
    report: DeliveryReport | None = None
    warnings: list[str] = field(default_factory=list)


def message_ids(value: str | None) -> list[str]:
    """The ids in a Message-ID / In-Reply-To / References header, without <>."""
    if not value:
        return []
    found = _MSGID.findall(value)
    if not found and value.strip() and " " not in value.strip():
        # a client that forgot the angle brackets
        found = [value.strip()]
    return found


def automated_reason(msg: Message, sender: str) -> str | None:
    """Why this mail was written by a machine, or None for a person's mail:
    at most 256 characters (a longer one made the mail unreadable, and an
    auto-reply was then answered as a person's mail)."""
    reason = _automated(msg, sender)
    return None if reason is None else _text(reason)[:256]


def _automated(msg: Message, sender: str) -> str | None:
    auto = str(msg.get("Auto-Submitted", "")).strip().lower()
    if auto and not auto.startswith("no"):
        return f"Auto-Submitted: {auto}"
    precedence = str(msg.get("Precedence", "")).strip().lower()
    if precedence in _AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond"):
        if value := str(msg.get(name, "")).strip():
            return f"{name}: {value}"
    if msg.get_content_type() == "multipart/report":
        return f"delivery report ({msg.get_param('report-type') or 'unknown type'})"
    if _DAEMONS.match(sender):
        return f"sent by {sender}"
    if str(msg.get("Return-Path", "")).strip() == "<>":
        return "empty Return-Path (a delivery notification)"
    return None


def delivery_report(msg: EmailMessage) -> DeliveryReport | None:
    """The first recipient line of a delivery-status report, and the
    Message-ID of the mail it is about (from the returned headers)."""
    if msg.get_content_type() != "multipart/report":
        return None
    status_part = original = None
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status" and status_part is None:
            status_part = part
        elif kind in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers") and original is None:
            original = part
    if status_part is None:
        return None
    fields: dict[str, str] = {}
    for block in status_part.get_payload():
        if isinstance(block, Message) and block.get("Action"):
            fields = {k.lower(): str(v) for k, v in block.items()}
            break
    return DeliveryReport(
        message_id=_original_id(original),
        action=fields.get("action", "unknown").strip().lower(),
        status=fields.get("status", "").strip() or None,
        diagnostic=fields.get("diagnostic-code", "").strip() or None,
        recipient=fields.get("final-recipient", "").split(";")[-1].strip() or None,
    )


def _original_id(part: Message | None) -> str | None:
    if part is None:
        return None
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        ids = message_ids(str(payload[0].get("Message-ID", "")))
    else:
        decoded = part.get_payload(decode=True)
        data = decoded if isinstance(decoded, bytes) else str(payload).encode()
        headers = BytesParser(policy=policy.default).parsebytes(data, headersonly=True)
        ids = message_ids(str(headers.get("Message-ID", "")))
    return ids[0] if ids else None


# -- bodies -----------------------------------------------------------------------


def body_text(msg: EmailMessage, warnings: list[str]) -> tuple[str, bool]:
    """The mail's text and whether it came from HTML."""
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return _unsplit(msg), False
    if not isinstance(part, EmailMessage):  # pragma: no cover - policy.default always gives EmailMessage
        return str(part.get_payload()), False
    text = part_text(part, warnings)
    if part.get_content_subtype() == "html":
        return html_to_text(text, warnings), True
    plain = text.replace("\r\n", "\n")
    if not plain.strip():
        # some clients send an empty text part next to the real HTML one
        html = msg.get_body(preferencelist=("html",))
        if isinstance(html, EmailMessage):
            return html_to_text(part_text(html, warnings), warnings), True
    return plain, False


def _unsplit(msg: EmailMessage) -> str:
    """A multipart mail whose boundary is missing or never comes holds its
    text as one unsplit payload: shown as it is (it showed nothing at all)."""
    if msg.get_content_maintype() != "multipart" or not isinstance(msg.get_payload(), str):
        return ""
    raw = msg.get_payload(decode=True)
    text = unknown_charset(raw) if isinstance(raw, bytes) else ""
    return text.replace("\r\n", "\n").strip()


# -- quoted text and signatures -------------------------------------------------------

_REPLY_HEADERS: list[Callable[[str], object]] = [re.compile(p, re.IGNORECASE).match for p in (
    r"^\s*On\b.{0,300}\bwrote:\s*$",
    r"^\s*-{2,}\s*(Original Message|Исходное сообщение|Пересланное сообщение)\s*-{2,}",
    r"^.{0,300}\bнаписал(?:\(а\)|а)?\s*:\s*$",
    r"^.{0,300}\bпишет\s*:\s*$",
)]
# every time in a line, overlapping ones included ("10:00" holds "0:00"): one can start at most at each place
_TIMES = re.compile(r"(?=(\d{1,2}:\d{2}))")


def _address_char(char: str) -> bool:
    return not char.isspace() and char not in "<>@"


def _dated_address_header(line: str) -> bool:
    r"""Gmail/Yandex/Mail.ru in Russian: "пн, 3 июн. 2024 г. в 10:00, Имя <a@b>:",
    "24.11.2026, 10:00, "Иван" <a@b>:", "Пятница, 22 ноября 2024, 10:00 +03:00 от Иван <a@b>:".

    What ``^.{0,200}\d{1,2}:\d{2}.{0,300}<?[^\s<>@]+@[^\s<>@]+>?\s*:\s*$`` matches
    (a line without a newline), in linear time: that pattern tried every place
    of the time against every length of the gap and rescanned the address each
    time, and a 600-character line took 160 ms (a mail of such lines, minutes).
    The line must end in the address's domain, an optional ``>`` and a colon;
    the @ before that domain is the line's last; its local part may start
    anywhere in the run of address characters before the @ (or at a ``<`` just
    before that run). So a time that starts within the first 200 characters
    fits when it ends before the @ and at most 300 characters before the run."""
    tail = line.rstrip()
    if not tail.endswith(":"):
        return False
    tail = tail[:-1].rstrip()
    tail = tail[:-1] if tail.endswith(">") else tail
    at = tail.rfind("@")
    if at < 1 or at == len(tail) - 1 or not all(map(_address_char, tail[at + 1:])):
        return False
    run = at
    while run > 0 and _address_char(line[run - 1]):
        run -= 1
    if run == at:
        return False
    lo = run - (line[run - 1 : run] == "<")
    # a time starting by the 200th character ends by the 205th
    return any(lo - 300 <= time.end(1) <= at - 1 for time in _TIMES.finditer(line, 0, min(len(line), 205)))


_REPLY_HEADERS.append(_dated_address_header)
# Outlook's header block: "From:"/"От:" then "Sent:"/"Отправлено:" within a few lines
_BLOCK_START = re.compile(r"^\s*\**(From|От|Von|De)\s*:\**\s", re.IGNORECASE)
_BLOCK_NEXT = re.compile(r"^\s*\**(Sent|Date|Отправлено|Дата|Gesendet|Envoyé)\s*:", re.IGNORECASE)
_SIG_DELIMITER = re.compile(r"^--\s?$")
_MOBILE_SIG = re.compile(
    r"^\s*(Sent from my .{1,60}|Sent from (Mail|Outlook|Yahoo).{0,60}|Get Outlook for .{1,40}"
    r"|Отправлено (с|из) .{1,80}|Отправлено с моего .{1,60}|Sent with .{1,40})\s*$",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"^\s*(С уважением|С наилучшими пожеланиями|Всего доброго|Best regards|Kind regards|Regards"
    r"|Best wishes|Cheers|Sincerely)[,.!]?\s*$",
    re.IGNORECASE,
)


def _reply_header_at(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        joined = f"{line} {lines[i + 1]}" if i + 1 < len(lines) else line
        for matches in _REPLY_HEADERS:
            if matches(line):
                return i
            # a client that wrapped the header line in two
            if line.strip() and not line.lstrip().startswith(">") and matches(joined):
                return i
        if _BLOCK_START.match(line) and any(_BLOCK_NEXT.match(nxt) for nxt in lines[i + 1 : i + 5]):
            return i
    return None


# quotequail's own bound: it costs ~70 µs a line
QUOTE_LINES = 1000


def _first_quote_at(text: str) -> int | None:
    """Line index where quotequail sees the first quoted block. It reads the
    first ``QUOTE_LINES`` lines and calls the rest quoted: that is no quote,
    and a longer mail's shown text had lost its end without a word."""
    try:
        parts = quotequail.quote(text, limit=QUOTE_LINES)
    except (ValueError, IndexError, RecursionError):  # a library bug must not lose the mail
        return None
    lines = 0
    for visible, chunk in parts:
        if not visible:
            return None if lines == QUOTE_LINES else lines
        lines += len(chunk.splitlines()) or 1
    return None


def _strip_signature(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if _SIG_DELIMITER.match(line) and i > 0:
            return lines[:i]
    while lines and (not lines[-1].strip() or _MOBILE_SIG.match(lines[-1])):
        lines = lines[:-1]
    tail = len(lines) - 6
    for i in range(max(1, tail), len(lines)):
        after = [x for x in lines[i + 1 :] if x.strip()]
        if _CLOSING.match(lines[i]) and len(after) <= 4 and all(len(x) <= 80 for x in after):
            return lines[:i]
    return lines


def strip_quotes(text: str) -> str:
    """What the customer wrote this time: without the quoted earlier mail,
    the client's reply header and the signature. Never empty when ``text``
    is not: a mail that is all quote keeps its full text."""
    lines = text.replace("\r\n", "\n").split("\n")
    cuts = [c for c in (_reply_header_at(lines), _first_quote_at(text)) if c is not None]
    if cuts:
        lines = lines[: min(cuts)]
    lines = _strip_signature(lines)
    # the header line quotequail leaves in the visible part ("On ... wrote:")
    while lines and (not lines[-1].strip() or any(matches(lines[-1]) for matches in _REPLY_HEADERS)):
        lines = lines[:-1]
    stripped = "\n".join(lines).strip()
    return stripped or text.strip()


# -- the whole mail -----------------------------------------------------------------


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_LAST_ANGLE_ADDRESS = re.compile(r"<([^<>\s]+@[^<>\s]+)>\s*$")


def _text(value: str) -> str:
    """A header's words as people read them: raw UTF-8 (RFC 6532), which the
    library keeps as surrogate escapes, decoded (a byte no UTF-8 has becomes
    U+FFFD), and line breaks and other control characters a space."""
    return _CONTROL.sub(" ", value.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))


def _sender(msg: EmailMessage, warnings: list[str]) -> tuple[str | None, str | None]:
    try:
        header = msg.get("From")
        addresses: Iterable[Address] = getattr(header, "addresses", ()) if header is not None else ()
        first = next(iter(addresses), None)
        if first is not None and first.addr_spec and "@" in first.addr_spec:
            return _text(first.addr_spec), _text(first.display_name).strip() or None
    except (ValueError, IndexError, TypeError) as exc:  # "address parts cannot contain CR or LF", and worse
        warnings.append(f"From header unreadable: {type(exc).__name__}")
    raw = next((str(v) for k, v in msg.raw_items() if k.lower() == "from"), "")
    if (angle := _LAST_ANGLE_ADDRESS.search(raw)) is not None:  # the address as written, its name left unread
        warnings.append("From header malformed, address taken as written")
        return _text(angle.group(1)), None
    name, addr = parseaddr(raw)
    if "@" in addr:
        warnings.append("From header malformed, address taken as written")
        return _text(addr), _text(name).strip() or None
    return None, None


def _sent_at(msg: EmailMessage, warnings: list[str]) -> datetime | None:
    value = msg.get("Date")
    if value is None:
        return None
    try:
        sent = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        warnings.append(f"Date header unreadable: {str(value)[:100]!r}")
        return None
    return sent if sent.tzinfo else sent.replace(tzinfo=UTC)


def fallback_id(raw: bytes) -> str:
    """An external id for a mail without a usable Message-ID: the same bytes
    delivered twice are still stored once."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _parts(raw: bytes) -> int:
    """How many MIME parts the mail holds, read off its boundary lines
    without parsing it (a line of "--" and a declared boundary starts a part)."""
    if raw.count(b"\n--") <= MAX_PARTS:
        return 0  # the common case: too few lines of "--" to hold that many parts
    boundaries = {quoted or bare for quoted, bare in _BOUNDARY.findall(raw)}
    parts = 0
    for line in _DASH_LINE.finditer(raw):
        token = line.group(1).rstrip()
        if token in boundaries or (token.endswith(b"--") and token[:-2] in boundaries):
            parts += 1
    return parts


def _header(msg: EmailMessage, name: str) -> str:
    try:
        return _text(str(msg.get(name, "") or ""))
    except (ValueError, IndexError, TypeError):
        return ""


def parse_mail(channel: str, raw: bytes) -> ParsedMail:
    """Read one mail; never raises for bad input (see ``raw_fallback``)."""
    try:
        return _parse(channel, raw)
    except Exception as exc:  # any parser failure: keep the mail raw, never drop it
        # the exception's type only: a parser's message can quote the mail
        log.warning("email %s: mail could not be parsed, stored raw (%s)", channel, type(exc).__name__)
        return raw_fallback(channel, raw, f"mail could not be parsed: {type(exc).__name__}: {exc}")


def _parse(channel: str, raw: bytes) -> ParsedMail:
    if _parts(raw) > MAX_PARTS:
        return raw_fallback(channel, raw, f"mail of more than {MAX_PARTS:,} MIME parts: kept raw, not read")
    bounded, warnings = bounded_headers(raw)
    bounded, renamed = disarmed(bounded)
    warnings += renamed
    msg = BytesParser(policy=policy.default).parsebytes(bounded)
    assert isinstance(msg, EmailMessage)
    warnings.extend(f"{type(d).__name__}: {d}" for d in msg.defects)
    sender, name = _sender(msg, warnings)
    if sender is None:
        return raw_fallback(channel, raw, "no sender address in From")
    subject = _header(msg, "Subject").strip()
    ids = message_ids(_header(msg, "Message-ID"))
    message_id = ids[0] if ids and len(ids[0]) <= 256 else None
    if message_id is None:
        warnings.append("no usable Message-ID: identified by a hash of the mail")
    in_reply_to = message_ids(_header(msg, "In-Reply-To"))
    references = message_ids(_header(msg, "References"))[-MAX_REFERENCES:]
    report = delivery_report(msg)
    full, from_html = body_text(msg, warnings)
    text = strip_quotes(full) if full.strip() else ""
    attachments = attachments_of(msg, warnings)
    shown = text or subject
    # our words for a mail with none of the customer's: shown, never read as theirs
    description = None if shown else ("[attachments]" if attachments else "[empty mail]")
    if len(shown) > MAX_TEXT_LENGTH:
        warnings.append(f"text cut to {MAX_TEXT_LENGTH} characters; the whole is in full_text")
        shown = shown[: MAX_TEXT_LENGTH - 1] + "…"
    # an id past the store's 256 characters is no mail of ours: it threads nothing
    replies_to = [i for i in dict.fromkeys([*in_reply_to, *reversed(references)]) if len(i) <= 256]
    if report is not None and report.message_id and len(report.message_id) <= 256:
        replies_to.insert(0, report.message_id)
    extras: dict[str, Any] = {
        "subject": subject,
        "message_id": message_id,
        "in_reply_to": in_reply_to[:MAX_REFERENCES],
        "references": references,
        "to": _header(msg, "To"),
    }
    # what a reply needs to thread: handed back with it as OutboundMessage.thread
    thread = {
        "subject": subject,
        "message_id": message_id,
        "references": [*(references or in_reply_to), *([message_id] if message_id else [])][-MAX_REFERENCES:],
    }
    if cc := _header(msg, "Cc"):
        extras["cc"] = cc
    if from_html:
        extras["from_html"] = True
    if full.strip() and shown != full.strip():
        extras["full_text"] = full[:MAX_FULL_TEXT]
        if len(full) > MAX_FULL_TEXT:
            warnings.append(f"full_text cut to {MAX_FULL_TEXT} characters; the rest is only in the mailbox")
    if report is not None:
        extras["delivery_report"] = {
            "message_id": report.message_id, "action": report.action, "status": report.status,
            "diagnostic": report.diagnostic, "recipient": report.recipient,
        }
    if warnings:
        extras["parse_warnings"] = warnings[:20]
    inbound = InboundMessage(
        channel=channel,
        external_id=message_id or fallback_id(raw),
        sender=IdentityRef(kind=IDENTITY_KIND, value=sender[:512]),
        sender_name=name[:256] if name else None,
        text=shown,
        description=description,
        attachments=attachments,
        sent_at=_sent_at(msg, warnings),
        extras=extras,
        thread=thread,
        replies_to=replies_to[:100],
        automated=automated_reason(msg, sender),
    )
    return ParsedMail(inbound, report, warnings)


def raw_fallback(channel: str, raw: bytes, warning: str) -> ParsedMail:
    """A mail we cannot read, stored as its raw text with the warning: an
    agent can still read it, and it is never silently dropped. Never raises:
    the mailbox's reader stops at a mail that raises here, and every later
    mail waits behind it."""
    try:
        return _raw(channel, raw, warning)
    except Exception as exc:  # a header that defeats even this reading: the mail, kept by its bytes alone
        log.warning("email %s: a mail's headers could not be read at all (%s): kept by its bytes",
                    channel, type(exc).__name__)
        text = raw[:MAX_RAW_KEPT].decode("utf-8", "replace")
        warnings = [warning, f"headers unreadable: {type(exc).__name__}"]
        return ParsedMail(InboundMessage(
            channel=channel, external_id=fallback_id(raw),
            sender=IdentityRef(kind=IDENTITY_KIND, value="unknown-sender@invalid"),
            description="[unreadable mail] see the raw mail below",
            extras={"parse_warnings": warnings, "raw": text}, thread={"references": []},
        ), None, warnings)


def _raw(channel: str, raw: bytes, warning: str) -> ParsedMail:
    text = raw.decode("utf-8", "replace")
    try:
        _, addr = parseaddr(_raw_header(text, "from"))
    except (RecursionError, ValueError, IndexError):  # the stdlib's parser on 600 "(": the reason we are here
        addr = ""
    sender = addr if "@" in addr else "unknown-sender@invalid"
    ids = message_ids(_raw_header(text, "message-id"))
    extras: dict[str, Any] = {
        "parse_warnings": [warning],
        "raw": text[:MAX_RAW_KEPT],
    }
    inbound = InboundMessage(
        channel=channel,
        external_id=ids[0] if ids and len(ids[0]) <= 256 else fallback_id(raw),
        sender=IdentityRef(kind=IDENTITY_KIND, value=sender[:512]),
        # the raw mail, headers and all, is what an agent reads of it; it is
        # not the customer's typed words (its To/Cc addresses are no claim)
        description="[unreadable mail] see the raw mail below",
        extras=extras,
        thread={"subject": _raw_header(text, "subject"), "message_id": ids[0] if ids else None, "references": []},
    )
    return ParsedMail(inbound, None, [warning])


_HEADERS_END = re.compile(r"\r?\n\r?\n")


def _raw_header(text: str, name: str) -> str:
    """A header of the mail's own header block: never of its body, where a
    forwarded mail's From and Message-ID stand (mail ends its lines in CRLF:
    the block ends at the first empty line of either kind)."""
    end = _HEADERS_END.search(text)
    match = re.search(rf"^{re.escape(name)}:[ \t]*(.*(?:\r?\n[ \t].*)*)", text[: end.start() if end else len(text)],
                      re.IGNORECASE | re.MULTILINE)
    return re.sub(r"\r?\n[ \t]+", " ", match.group(1)).strip()[:998] if match else ""
