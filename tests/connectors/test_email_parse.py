"""Reading mail as real clients write it: charsets, encoded headers, HTML-only
mail, attachments, quoted text and signatures in Russian and English,
machines' mail, and mail too broken to parse (kept raw, never dropped).

The samples in data/mail/ are shaped as Thunderbird, Outlook and Gmail send
them (headers, encodings and quoting styles included)."""

from __future__ import annotations

import random
import re
from email.message import EmailMessage
from pathlib import Path

import pytest

from connectors.email import EmailConnector, EmailOptions
from connectors.email_html import LAYOUT_LIMIT, html_to_text
from connectors.email_parse import _dated_address_header, fallback_id, parse_mail, strip_quotes
from router.models import MAX_TEXT_LENGTH, Author, OutboundMessage, utcnow
from tests.liveness import finishes

DATA = Path(__file__).parent / "data" / "mail"


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_koi8r_mail_with_encoded_headers_and_a_thunderbird_quote() -> None:
    parsed = parse_mail("mail", sample("koi8r_thunderbird.eml")).inbound
    assert parsed.sender.value == "ivan.petrov@example.ru" and parsed.sender_name == "Иван Петров"
    assert parsed.extras["subject"] == "Re: Заказ 1042 повреждён"
    assert parsed.text == "Добрый день!\n\nПосылка пришла повреждённой, коробка мокрая.\nЧто делать?"
    # the whole mail, quote and signature included, is kept
    assert "> Трек-номер RA123456789RU" in parsed.extras["full_text"]
    assert "С уважением, Иван Петров" in parsed.extras["full_text"]
    assert parsed.external_id == "5f1c2a9e-koi8@example.ru"
    # In-Reply-To first, then References from the newest back
    assert parsed.replies_to == ["msg_0a1b2c3d4e5f60718293@shop.example", "first-1042@example.ru"]
    assert parsed.thread == {
        "subject": "Re: Заказ 1042 повреждён", "message_id": "5f1c2a9e-koi8@example.ru",
        "references": ["first-1042@example.ru", "msg_0a1b2c3d4e5f60718293@shop.example",
                       "5f1c2a9e-koi8@example.ru"],
    }
    assert parsed.sent_at is not None and parsed.sent_at.isoformat() == "2026-11-24T08:15:03+00:00"
    assert parsed.automated is None


def test_windows1251_outlook_mail_loses_the_header_block_and_the_closing() -> None:
    parsed = parse_mail("mail", sample("cp1251_outlook.eml")).inbound
    assert parsed.sender_name == "Мария Сидорова"
    assert parsed.extras["subject"] == "RE: Счёт"
    assert parsed.text == "Здравствуйте.\n\nПрошу выставить счёт на ООО «Ромашка», ИНН 7701234567."
    assert "Отправлено: 23 ноября 2026 г. 18:02" in parsed.extras["full_text"]


def test_html_only_mail_becomes_readable_text_without_the_gmail_quote() -> None:
    parsed = parse_mail("mail", sample("html_only_gmail_ru.eml")).inbound
    assert parsed.text == (
        "Здравствуйте!\nНе могу войти в личный кабинет:\n* пароль сброшен\n* письмо не приходит\nЛогин  anna.k")
    assert "alert" not in parsed.text and "color:red" not in parsed.text and "<b>" not in parsed.text
    assert parsed.extras["from_html"] is True
    assert "Попробуйте сбросить пароль." in parsed.extras["full_text"]
    assert parsed.replies_to == ["msg_1111@shop.example"]


def test_attachments_are_kept_with_their_decoded_names() -> None:
    parsed = parse_mail("mail", sample("attachments.eml")).inbound
    assert parsed.text == "Here are the invoice and a photo of the damage."
    pdf, jpg = parsed.attachments
    assert (pdf.kind, pdf.name, pdf.mime_type, pdf.size) == ("document", "Счёт 1042.pdf", "application/pdf", 45)
    assert (jpg.kind, jpg.name, jpg.mime_type, jpg.size) == ("image", "damage.jpg", "image/jpeg", 22)
    assert jpg.extras["content_id"] == "img1@example.com"
    assert len(pdf.extras["sha256"]) == 64


@pytest.mark.parametrize(("body", "expected"), [
    # Gmail, English
    ("Thanks, got it.\n\nOn Mon, Jun 3, 2024 at 10:00 AM Support <support@shop.com> wrote:\n> Your order shipped.\n",
     "Thanks, got it."),
    # Gmail wraps a long header line in two
    ("Sure.\n\nOn Mon, Jun 3, 2024 at 10:00 AM Very Long Support Team Name <\nsupport@shop.com> wrote:\n> old\n",
     "Sure."),
    # Gmail, Russian
    ("Спасибо, получил.\n\nпн, 3 июн. 2024 г. в 10:00, Support <support@shop.ru>:\n> Ваш заказ отправлен.\n",
     "Спасибо, получил."),
    # Apple Mail, Russian, quote without '>' marks
    ("Ок!\n\n24 нояб. 2026 г., в 10:00, Иван Петров <ivan@x.ru> написал(а):\n\nСтарый текст\n", "Ок!"),
    # Yandex
    ("Да, верно.\n\n24.11.2026, 10:00, \"Поддержка\" <support@shop.ru>:\n> Верно ли?\n", "Да, верно."),
    # Mail.ru
    ("Жду.\n\n\n>Пятница, 22 ноября 2024, 10:00 +03:00 от Поддержка <support@shop.ru>:\n>\n> Ждите\n", "Жду."),
    # Outlook, English, with a closing formula and a mobile signature
    ("Hello,\nthe invoice is attached.\n\nBest regards,\nJohn Smith\nACME Inc.\n\nFrom: Support <s@shop.com>\n"
     "Sent: Monday, June 3, 2024 10:00 AM\nTo: John\nSubject: Order\n\nYour order", "Hello,\nthe invoice is attached."),
    ("Буду в офисе в 15:00\n\nОтправлено с iPhone", "Буду в офисе в 15:00"),
    ("Ok\n\n-----Original Message-----\nFrom: a\nSent: b\n\nold", "Ok"),
    # nothing but a quote: the agent sees all of it rather than nothing
    ("> only a quote\n", "> only a quote"),
    # no quote at all: untouched, even a line with a time and an address in it
    ("Позвоните мне в 10:30, пишите на anna@example.com", "Позвоните мне в 10:30, пишите на anna@example.com"),
])
def test_quoted_text_and_signatures_are_stripped(body: str, expected: str) -> None:
    assert strip_quotes(body) == expected


# The pattern the Russian clients' dated reply header was once found by: the
# specification of the linear search that replaced it.
_DATED_HEADER = re.compile(r"^.{0,200}\d{1,2}:\d{2}.{0,300}<?[^\s<>@]+@[^\s<>@]+>?\s*:\s*$")


def test_the_dated_reply_header_is_found_exactly_where_its_pattern_says() -> None:
    rnd = random.Random(24)
    pieces = ["1", "2", "0", ":", "@", "<", ">", " ", "\t", "a", "б", ".", "\"", "x" * 60, " " * 50, "10:00", "٣"]

    def noise(most: int) -> str:
        return "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, most)))

    found = 0
    for n in range(20_000):
        # half of the lines shaped as a header (each part may be spoilt by the noise), half noise
        fill = ["", " ", "ab", "x" * 60, " " * 50, "x" * 150, "x" * 260]
        line = noise(30) if n % 2 else (
            f"{noise(2)}{rnd.choice(fill)}{rnd.choice(['10:00', '9:3', '1:23'])}{rnd.choice(fill)}{noise(1)}"
            f"{rnd.choice(['<', ''])}{rnd.choice(['a', 'a.b', ''])}{noise(1)}@{rnd.choice(['x.ru', ''])}"
            f"{rnd.choice(['>', ''])}{rnd.choice([' ', ''])}{rnd.choice([':', ''])}{noise(1)}")
        expected = bool(_DATED_HEADER.match(line))
        assert _dated_address_header(line) is expected, line
        found += expected
    assert found > 400  # the sample reaches both answers, and lines on either side of the 200 and 300 bounds


def test_long_lines_of_times_and_addresses_are_read_in_time() -> None:
    """Lines the old pattern tried in cubic time (0.7 s a kilobyte: this mail,
    half an hour); a mail is read on the mailbox's thread, which holds the
    interpreter's lock while a pattern runs and so stalls every conversation."""
    line = "0:00" * 50 + "a" * 300 + "@" + "a" * 500 + "!"
    body = "Hello\n" + (line + "\n") * 1200
    assert finishes(strip_quotes, body).startswith(f"Hello\n{line}\n{line}")
    long_run = "Hello\n" + "x" * 1_000_000 + " a@b:"  # a run of address characters read once, not from each start
    assert finishes(strip_quotes, long_run) == long_run
    answer = "Ok\n\n" + "x" * 150 + " 10:00, " + "y" * 280 + " <support@shop.ru>:\n> old"
    assert finishes(strip_quotes, answer) == "Ok"


def _mail(headers: dict[str, str], body: str = "text") -> bytes:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Anna <anna@example.com>")
    msg["To"] = "support@shop.example"
    msg["Subject"] = "Subject"
    msg["Message-ID"] = "<m1@example.com>"
    for name, value in headers.items():
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes()


@pytest.mark.parametrize(("headers", "reason"), [
    ({"Auto-Submitted": "auto-replied"}, "Auto-Submitted: auto-replied"),
    ({"Auto-Submitted": "auto-generated"}, "Auto-Submitted: auto-generated"),
    ({"Precedence": "bulk"}, "Precedence: bulk"),
    ({"Precedence": "auto_reply"}, "Precedence: auto_reply"),
    ({"X-Autoreply": "yes"}, "X-Autoreply: yes"),
    ({"X-Autorespond": "Out of office"}, "X-Autorespond: Out of office"),
    ({"From": "MAILER-DAEMON@mx.example.com"}, "sent by MAILER-DAEMON@mx.example.com"),
    ({"Return-Path": "<>"}, "empty Return-Path (a delivery notification)"),
])
def test_machines_mail_is_marked_automated(headers: dict[str, str], reason: str) -> None:
    assert parse_mail("mail", _mail(headers)).inbound.automated == reason


def test_a_persons_mail_is_not_automated() -> None:
    assert parse_mail("mail", _mail({"Auto-Submitted": "no", "Precedence": "normal"})).inbound.automated is None


def test_a_mail_without_message_id_is_identified_by_its_bytes() -> None:
    raw = _mail({}).replace(b"Message-ID: <m1@example.com>\n", b"")
    parsed = parse_mail("mail", raw)
    assert parsed.inbound.external_id == fallback_id(raw) == parse_mail("mail", raw).inbound.external_id
    assert "no usable Message-ID: identified by a hash of the mail" in parsed.inbound.extras["parse_warnings"]


def test_a_from_no_parser_can_read_is_kept_raw_not_raised() -> None:
    """600 nested comments in a display name: the library's address parser
    recurses past Python's limit, in the parse and again in the raw reading;
    the mailbox's reader stopped there and every later mail waited."""
    raw = (b"From: Anna " + b"(" * 600 + b" <anna@example.ru>\r\nMessage-ID: <paren@example.ru>\r\n"
           b"Subject: hello\r\n\r\nbody\r\n")
    inbound = parse_mail("mail", raw).inbound
    assert inbound.description == "[unreadable mail] see the raw mail below"
    assert inbound.external_id == "paren@example.ru" and inbound.sender.value == "unknown-sender@invalid"
    assert inbound.extras["raw"].endswith("body\r\n")


def test_a_raw_mail_is_read_by_its_own_headers_not_a_forward_in_its_body() -> None:
    """No From and no Message-ID of its own, and a forwarded mail's headers in
    the body (CRLF line ends, as mail has them): the raw reading took the
    forward's Message-ID for the mail's, and the mail was dropped as a
    duplicate of the forwarded one."""
    raw = (b"To: support@shop.example\r\nSubject: fwd\r\n\r\nSee below\r\n\r\n"
           b"From: boss@corp.example\r\nMessage-ID: <original@corp.example>\r\n\r\nold\r\n")
    inbound = parse_mail("mail", raw).inbound
    assert inbound.sender.value == "unknown-sender@invalid"
    assert inbound.external_id == fallback_id(raw)
    assert inbound.thread is not None and inbound.thread.get("subject") == "fwd"


_HEADERS = b"To: support@shop.example\r\nSubject: hi\r\nMessage-ID: <m1@example.ru>\r\n"


@pytest.mark.parametrize(("head", "sender", "name", "automated"), [
    # RFC 6532: UTF-8 in the header itself, as SMTPUTF8 mail has it
    ("From: Анна Петрова <anna@example.ru>\r\n".encode(), "anna@example.ru", "Анна Петрова", None),
    (b"From: =?utf-8?B?/w==?= <anna@example.ru>\r\n", "anna@example.ru", "\ufffd", None),
    # a line break encoded into the name: the address as written, the name left out
    (b"From: =?utf-8?Q?Anna=0D=0ABcc:_x@evil.example?= <anna@example.ru>\r\n", "anna@example.ru", None, None),
    (b"From: anna@example.ru\r\nIn-Reply-To: <" + b"x" * 300 + b"@example.ru>\r\n", "anna@example.ru", None, None),
    (b"From: anna@example.ru\r\nAuto-Submitted: auto-replied; " + b"x" * 300 + b"\r\n", "anna@example.ru", None,
     "Auto-Submitted: auto-replied; " + "x" * 226),
])
def test_a_small_fault_in_a_header_leaves_the_mail_readable(
        head: bytes, sender: str, name: str | None, automated: str | None) -> None:
    """Each made the whole mail "[unreadable mail]" (a model's check on a
    name with the library's surrogate escapes, an id or a reason over 256
    characters); an auto-reply then lost its mark and was answered."""
    inbound = parse_mail("mail", head + _HEADERS + b"\r\nthe words\r\n").inbound
    assert (inbound.text, inbound.description) == ("the words", None)
    assert (inbound.sender.value, inbound.sender_name, inbound.automated) == (sender, name, automated)
    assert inbound.extras["subject"] == "hi"


@pytest.mark.parametrize(("head", "cut"), [
    (b"From: anna@example.ru\r\nSubject: " + b" ".join([b"=?utf-8?Q?a?="] * 10_000) + b"\r\n", "Subject"),
    (b"From: anna@example.ru\r\nSubject: start" + b"\r\n word" * 20_000 + b"\r\n", "Subject"),
    (b"From: anna@example.ru\r\nTo: " + b", ".join(b"u%d@example.ru" % i for i in range(50_000)) + b"\r\n", "To"),
])
def test_a_header_past_its_bound_is_cut_and_the_mail_read(head: bytes, cut: str) -> None:
    """The library's header parser costs far more than a header's length (this
    Subject: 683 MB; this To: 12 s), on the mailbox's thread: a header is cut
    at 16 KiB before it is parsed, and the mail is read with a warning."""
    inbound = parse_mail("mail", head + b"Message-ID: <big@example.ru>\r\n\r\nthe words\r\n").inbound
    assert (inbound.sender.value, inbound.text) == ("anna@example.ru", "the words")
    assert inbound.external_id == "big@example.ru"
    assert f"header {cut} cut to 16384 bytes" in inbound.extras["parse_warnings"]


def test_a_sender_past_its_bound_keeps_the_mail_raw_quickly() -> None:
    raw = b'From: ' + b'"' * 100_000 + b"<anna@example.ru>\r\nMessage-ID: <q@example.ru>\r\n\r\nthe words\r\n"
    inbound = finishes(parse_mail, "mail", raw).inbound
    assert inbound.external_id == "q@example.ru" and inbound.extras["raw"] == raw.decode()


@pytest.mark.parametrize(("maintype", "subtype", "filename", "kind", "shown"), [
    ("application", "pdf", "scan.pdf", "document", "Скан договора"),  # a scanner sends the file as the mail
    ("image", "png", None, "image", "Скан договора"),
])
def test_a_mail_that_is_one_file_lists_it(maintype: str, subtype: str, filename: str | None, kind: str,
                                          shown: str) -> None:
    """A mail whose only part is a file, not text: nothing was listed, and the
    agent saw the subject alone with no word of the file."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = (
        "scanner@office.example", "support@shop.example", "Скан договора", "<scan1@office.example>")
    msg.set_content(b"%PDF-1.7\n%scan\n", maintype=maintype, subtype=subtype, filename=filename)
    inbound = parse_mail("mail", msg.as_bytes()).inbound
    assert inbound.text == shown
    assert [(a.kind, a.name, a.mime_type, a.size) for a in inbound.attachments] == [
        (kind, filename, f"{maintype}/{subtype}", 15)]


def test_a_body_in_utf8_without_a_charset_is_read_as_utf8() -> None:
    raw = ("From: anna@example.ru\r\nMessage-ID: <nocs@example.ru>\r\nContent-Type: text/plain\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\nЗдравствуйте, где мой заказ?\r\n").encode()
    parsed = parse_mail("mail", raw)
    assert parsed.inbound.text == "Здравствуйте, где мой заказ?" and parsed.warnings == []


_RUSSIAN_BODY = "Добрый день! Счёт оплатил вчера, а заказ всё ещё не отправлен. Подскажите, когда ждать?"


@pytest.mark.parametrize("charset", ["cp1251", "koi8_r", "cp866"])
@pytest.mark.parametrize("declared", ["", "; charset=us-ascii"])
def test_a_russian_body_with_no_true_charset_is_read_in_its_own(charset: str, declared: str) -> None:
    """Old clients and 1C/CRM scripts send Windows-1251 (or KOI8-R, 866) with no
    charset or with US-ASCII: every Russian letter was U+FFFD, and the agent
    saw a mail of question marks."""
    raw = (f"From: anna@example.ru\r\nMessage-ID: <cs@example.ru>\r\nContent-Type: text/plain{declared}\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\n").encode() + _RUSSIAN_BODY.encode(charset) + b"\r\n"
    inbound = parse_mail("mail", raw).inbound
    assert inbound.text == _RUSSIAN_BODY
    assert inbound.extras["parse_warnings"] == [
        f"body has no charset and is not UTF-8: read as {charset}, a guess"]


def test_a_body_of_bytes_no_charset_reads_is_read_with_replacements() -> None:
    raw = (b"From: anna@example.ru\r\nMessage-ID: <bin@example.ru>\r\nContent-Type: text/plain\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\nok " + bytes(range(128, 256)) * 4 + b"\r\n")
    inbound = parse_mail("mail", raw).inbound
    assert inbound.text.startswith("ok ")
    assert any(w.startswith("body has no charset and is not UTF-8") for w in inbound.extras["parse_warnings"])


def test_html_nested_past_255_levels_is_read_to_its_end() -> None:
    """libxml2 stops at 255 nested elements: everything after was dropped without a word."""
    html = "<p>Здравствуйте</p>" + "<div>" * 300 + "глубоко" + "</div>" * 300 + "<p>Где заказ?</p>"
    assert html_to_text(html).split() == ["Здравствуйте", "глубоко", "Где", "заказ?"]


def test_a_mail_of_many_short_lines_is_shown_to_its_end() -> None:
    """quotequail reads 1,000 lines and calls the rest a quote: the last 500 were cut without a word."""
    body = "\n".join(f"{i}" for i in range(1500))
    assert strip_quotes(body) == body


def test_an_unknown_charset_is_read_with_replacements_and_a_warning() -> None:
    raw = (b"From: a@example.com\r\nMessage-ID: <x@y>\r\nContent-Type: text/plain; charset=x-no-such-charset\r\n"
           b"\r\nHello \xff world\r\n")
    parsed = parse_mail("mail", raw).inbound
    assert parsed.text == "Hello \ufffd world"
    assert any("x-no-such-charset" in w for w in parsed.extras["parse_warnings"])


def test_a_huge_mail_is_cut_for_the_agent_but_kept_whole() -> None:
    body = "слово " * 5000
    parsed = parse_mail("mail", _mail({}, body)).inbound
    assert len(parsed.text) == MAX_TEXT_LENGTH and parsed.text.endswith("…")
    assert parsed.extras["full_text"].strip() == body.strip()


def test_garbage_is_kept_raw() -> None:
    parsed = parse_mail("mail", b"\x00\x01 not a mail at all \xff")
    assert parsed.inbound.sender.value == "unknown-sender@invalid"
    assert parsed.inbound.extras["raw"] == "\x00\x01 not a mail at all \ufffd"
    assert parsed.inbound.extras["parse_warnings"] == ["no sender address in From"]


# -- what goes out ------------------------------------------------------------------


def _connector() -> EmailConnector:
    options = EmailOptions(address="support@shop.example", display_name="Магазин", imap_host="x", smtp_host="y")
    return EmailConnector("mail", options, host=None)  # type: ignore[arg-type]


def _outbound(author: Author = Author.AGENT, thread: dict[str, object] | None = None) -> OutboundMessage:
    return OutboundMessage(message_id="msg_1", channel="mail", recipient="anna@example.com", author=author,
                           text="Здравствуйте", created_at=utcnow(), thread=thread or {})


def test_a_reply_without_a_thread_gets_the_default_subject_and_no_reply_headers() -> None:
    mail = _connector().compose(_outbound())
    assert mail["Subject"] == "Сообщение от службы поддержки"  # the message is Russian
    english = _outbound().model_copy(update={"text": "Your code is 123456"})
    assert _connector().compose(english)["Subject"] == "Message from support"
    own = EmailOptions(address="support@shop.example", imap_host="x", smtp_host="y", default_subject="Чайная лавка")
    assert EmailConnector("mail", own, host=None).compose(english)["Subject"] == "Чайная лавка"  # type: ignore[arg-type]
    assert mail["In-Reply-To"] is None and mail["References"] is None
    assert mail["Message-ID"] == "<msg_1@shop.example>"
    assert mail["Auto-Submitted"] is None
    assert str(mail["From"]) == "Магазин <support@shop.example>"


def test_a_subject_is_not_prefixed_twice_and_the_bot_marks_its_mail_automatic() -> None:
    thread = {"subject": "Ответ: Заказ", "message_id": "a@b", "references": ["z@b", "a@b"]}
    mail = _connector().compose(_outbound(Author.BOT, thread))
    assert mail["Subject"] == "Ответ: Заказ"
    assert mail["References"] == "<z@b> <a@b>"
    assert mail["Auto-Submitted"] == "auto-replied"
    assert _connector().compose(_outbound(Author.SYSTEM))["Auto-Submitted"] == "auto-generated"


@pytest.mark.parametrize("content_type", ["multipart/mixed", 'multipart/alternative; boundary="XX"'])
def test_a_multipart_mail_whose_boundary_is_missing_shows_its_text(content_type: str) -> None:
    """No boundary, or one that never comes: the agent saw an empty message."""
    raw = (f"From: anna@example.ru\r\nMessage-ID: <nb@example.ru>\r\nContent-Type: {content_type}\r\n\r\n"
           "Где мой заказ?\r\n").encode()
    inbound = parse_mail("mail", raw).inbound
    assert inbound.text == "Где мой заказ?" and inbound.attachments == []


def _many_parts(count: int) -> bytes:
    head = (b"From: Anna <anna@example.ru>\r\nMessage-ID: <parts@example.ru>\r\nSubject: files\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
            b"--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe files, as promised\r\n")
    parts = b"".join(b"--B\r\nContent-Type: application/octet-stream\r\n"
                     b"Content-Disposition: attachment; filename=f%d.bin\r\n\r\nx\r\n" % i for i in range(count))
    return head + parts + b"--B--\r\n"


def test_a_mail_of_thousands_of_parts_is_kept_raw_not_read_part_by_part() -> None:
    """The stdlib reads each part's headers in Python: 10,000 one-byte parts
    held the mailbox's reader for seconds, every later mail waiting."""
    parsed = parse_mail("mail", _many_parts(5_000)).inbound
    assert parsed.sender.value == "anna@example.ru" and parsed.external_id == "parts@example.ru"
    assert parsed.attachments == [] and parsed.description == "[unreadable mail] see the raw mail below"
    assert parsed.extras["parse_warnings"] == ["mail of more than 1,000 MIME parts: kept raw, not read"]
    assert "The files, as promised" in parsed.extras["raw"]


def test_a_mail_of_many_signature_lines_but_few_parts_is_read() -> None:
    """Lines that start with "--" are counted first, cheaply; only boundaries make parts."""
    raw = _many_parts(30).replace(b"The files, as promised", b"The files\r\n" + b"-- \r\n" * 1_500)
    parsed = parse_mail("mail", raw).inbound
    assert len(parsed.attachments) == 30 and parsed.text.startswith("The files")


def test_html_past_the_layout_limit_keeps_every_word_a_block_a_line() -> None:
    """inscriptis costs ~3.5 µs a byte of a table: a 3 MB one held the reader 10 s or more."""
    rows = "".join(f"<tr><td>Заказ {i}</td><td>оплачен</td></tr>" for i in range(12_000))
    html = (f"<html><head><style>p {{color: red}}</style><title>Отчёт</title></head><body>"
            f"<p>Здравствуйте,</p><p>вот таблица:</p><table>{rows}</table><script>alert(1)</script>"
            f"<div>Последняя строка</div></body></html>")
    assert len(html) > LAYOUT_LIMIT
    warnings: list[str] = []
    lines = html_to_text(html, warnings).splitlines()
    assert lines[:4] == ["Здравствуйте,", "вот таблица:", "Заказ 0 оплачен", "Заказ 1 оплачен"]
    assert lines[-2:] == ["Заказ 11999 оплачен", "Последняя строка"]
    assert not any("color" in line or "alert" in line or "Отчёт" in line for line in lines)
    assert warnings == [f"HTML of {len(html):,} characters, over {LAYOUT_LIMIT:,}: its text read without layout"]


def test_a_charset_that_is_no_charset_is_not_decoded_with() -> None:
    """Python reads punycode as a text codec, and its decoder is quadratic: an
    800 KB part took 79 s of the mailbox's reader, every later mail waiting."""
    body = "-" + "9" * 9_000
    raw = (f"From: anna@example.ru\r\nMessage-ID: <puny@example.ru>\r\nSubject: =?punycode?q?-99?=\r\n"
           f"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
           f"--B\r\nContent-Type: text/plain; charset=\"PunyCode\"\r\n\r\n{body}\r\n"
           f"--B\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename*=idna''xn--80a.pdf\r\n"
           f"\r\nx\r\n--B--\r\n").encode()
    parsed = parse_mail("mail", raw).inbound
    assert parsed.text == body and parsed.extras["subject"] == "-99"
    assert parsed.extras["parse_warnings"][0] == "charset idna, punycode is no mail charset: not used"
    assert len(parsed.attachments) == 1
    # the words in a text are no charset
    plain = parse_mail("mail", b"From: a@example.ru\r\nMessage-ID: <t@e>\r\nContent-Type: text/plain; charset=utf-8"
                                b"\r\n\r\nIDN: punycode and idna=xn--80a\r\n").inbound
    assert plain.text == "IDN: punycode and idna=xn--80a" and "parse_warnings" not in plain.extras


@pytest.mark.parametrize(("sample_name", "files"), [
    ("inline_image_thunderbird.eml", [("skol.png", "image/png", "ii_skol01")]),
    ("inline_image_gmail.eml", [("check.pdf", "application/pdf", None), ("skol.png", "image/png", "ii_abc")]),
])
def test_a_picture_inside_the_html_of_an_alternative_is_listed(sample_name: str, files: list[tuple[str, ...]]) -> None:
    """Thunderbird and Gmail put an inline picture in the HTML's multipart/related,
    inside multipart/alternative: one level deeper than the stdlib's iter_attachments
    looks, so the agent saw "[image: skol.png]" in the text and no file."""
    parsed = parse_mail("mail", sample(sample_name)).inbound
    assert [(a.name, a.mime_type, a.extras.get("content_id")) for a in parsed.attachments] == files
    assert all(a.kind == ("image" if a.mime_type == "image/png" else "document") for a in parsed.attachments)
    assert parsed.text.startswith("Вот скол")
