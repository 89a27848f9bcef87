"""Twilio's webhook form is read and its signature checked exactly as
``urllib.parse.parse_qsl`` and twilio's ``RequestValidator`` do: the faster
code (connectors/twilio_form.py) is held against both on generated forms,
and through the running service for what a sender sees."""

from __future__ import annotations

import asyncio
import encodings.punycode
import random
from urllib.parse import parse_qsl, quote_plus

import pytest
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from connectors.twilio_form import FORM_TYPE, MAX_FORM_BYTES, Signatures, parse_form, signature_of
from tests.connectors.twilio_helpers import PUBLIC_URL, TOKEN, Client, inbound, whatsapp_form
from tests.fakes.twilio_api import signature

# what a url-encoded body can hold: escapes valid and not, separators, UTF-8 text, raw non-ASCII
PIECES = ["a", "Z", "0", "%", "%2", "%D0%B3", "%d0%b3", "%2B", "%26", "%3D", "%25", "%FF", "%E2%82", "%zz",
          "+", "=", "&", ";", "#", " ", "é", "г", "\t", "%00", "Body", "From"]
URL = PUBLIC_URL + "/webhooks/twilio/whatsapp"


def generated(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 24))) for _ in range(count)]


EDGES = ["", "&", "=", "a", "a=", "=b", "a=1&&b=2&", "a=1;b=2", "a=x+y", "a+b=c%20d", "a=%", "a=%D0", "a=%2b",
         "a=1&a=2&a=1", "a==b", "a=b=c"]


def test_the_form_reads_as_parse_qsl_reads_it() -> None:
    for text in EDGES + generated(24, 3000):
        assert parse_form(FORM_TYPE, "utf-8", text.encode()) == parse_qsl(text, keep_blank_values=True), text


def test_a_body_not_in_its_charset_or_not_a_form_is_no_form() -> None:
    assert parse_form(FORM_TYPE, None, b"Body=\xff") is None
    assert parse_form(FORM_TYPE, "no-such-charset", b"Body=x") is None
    assert parse_form("application/json", None, b"Body=x") is None
    # only the charsets Twilio's ASCII bodies are read in alike: no other codec is run
    assert parse_form(FORM_TYPE, "cp1251", "Body=где".encode("cp1251")) is None
    assert parse_form(FORM_TYPE, "UTF-8", "Body=где".encode()) == [("Body", "где")]
    assert parse_form(FORM_TYPE, "ISO-8859-1", b"Body=%D0%B3%D0%B4%D0%B5") == [("Body", "где")]


def forms(seed: int, count: int) -> list[list[tuple[str, str]]]:
    """Forms with repeated names and repeated values, empty ones, and any text."""
    rng = random.Random(seed)
    names = ["Body", "From", "To", "MediaUrl0", "a", "A", "", "é", "Body2"]
    values = ["", "x", "где мой заказ?", "+7 912", "a&b=c", "%41", "x", "é\u0301", "\U0001f600"]
    return [[(rng.choice(names), rng.choice(values)) for _ in range(rng.randint(0, 12))] for _ in range(count)]


def test_the_signature_is_the_validators() -> None:
    validator = RequestValidator(TOKEN)
    for pairs in forms(7, 1000):
        assert signature_of(TOKEN.encode(), URL, pairs) == validator.compute_signature(URL, MultiDict(pairs)), pairs


def test_a_signature_is_accepted_for_the_url_with_or_without_its_port_and_nothing_else() -> None:
    pairs = [("Body", "hi"), ("MessageSid", "SM" + "0" * 32)]
    check = Signatures(TOKEN)
    with_port = URL.replace("example.com", "example.com:443")
    assert check.valid(URL, pairs, signature(TOKEN, URL, dict(pairs)))
    assert check.valid(URL, pairs, signature(TOKEN, with_port, dict(pairs)))
    assert not check.valid(URL, pairs, signature(TOKEN, URL, {"Body": "bye", "MessageSid": pairs[1][1]}))
    assert not check.valid(URL, pairs, signature("0" * 32, URL, dict(pairs)))
    assert not check.valid(URL, pairs, "")


async def test_a_form_with_a_repeated_field_signed_by_twilio_is_stored_with_its_last_value(tw: Client) -> None:
    route = "/webhooks/twilio/whatsapp"
    body = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in whatsapp_form("first").items())
    body += "&Body=" + quote_plus("second")
    fields = parse_qsl(body)

    async def sent(signed_fields: MultiDict[str] | dict[str, str]) -> int:
        headers = {"X-Twilio-Signature": signature(TOKEN, PUBLIC_URL + route, signed_fields),  # type: ignore[arg-type]
                   "Content-Type": FORM_TYPE}
        async with tw.post(route, data=body, headers=headers) as resp:
            return resp.status

    # Twilio signs every value of a name: one of them left out is a forgery
    assert await sent(dict(fields)) == 403
    assert await sent(MultiDict(fields)) == 200
    assert [m.text for m in await inbound(tw)] == ["second"]


async def test_a_form_no_utf8_holds_is_refused_not_a_500(tw: Client) -> None:
    """A codec that decodes the body to a lone surrogate (unicode_escape) is no charset Twilio sends."""
    headers = {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl",
               "Content-Type": FORM_TYPE + "; charset=unicode_escape"}
    async with tw.post("/webhooks/twilio/whatsapp", data=b"Body=\\ud800", headers=headers) as resp:
        assert resp.status == 415, await resp.text()
    assert await inbound(tw) == []


@pytest.mark.parametrize("path", ["", "/status"])
async def test_a_body_in_a_codec_that_is_no_charset_is_refused_unread(
    tw: Client, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """punycode's decoder is quadratic: "-" and 262,000 nines, decoded as the
    Content-Type said before the signature was checked, held the event loop
    ~10 s for every customer. Refused now, before the body is decoded."""
    decoded: list[int] = []

    def spy(text: bytes, errors: str) -> str:  # counts, and spares the test the 10 s
        decoded.append(len(text))
        return ""

    monkeypatch.setattr(encodings.punycode, "punycode_decode", spy)
    route = "/webhooks/twilio/whatsapp" + path
    body = b"-" + b"9" * 262_000
    headers = {"X-Twilio-Signature": signature(TOKEN, PUBLIC_URL + route, {}),
               "Content-Type": FORM_TYPE + "; charset=punycode"}
    async with tw.post(route, data=body, headers=headers) as resp:
        assert resp.status == 415, await resp.text()
        assert "UTF-8" in await resp.text()
    assert decoded == []
    assert await inbound(tw) == []


@pytest.mark.parametrize("charset", ["utf-8", "UTF-8", "us-ascii", "ISO-8859-1"])
async def test_a_signed_form_that_names_its_charset_is_taken(tw: Client, charset: str) -> None:
    route = "/webhooks/twilio/whatsapp"
    form = whatsapp_form("Где мой заказ?")
    body = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in form.items())
    headers = {"X-Twilio-Signature": signature(TOKEN, PUBLIC_URL + route, form),
               "Content-Type": f"{FORM_TYPE}; charset={charset}"}
    async with tw.post(route, data=body.encode("ascii"), headers=headers) as resp:
        assert resp.status == 200, await resp.text()
    assert [m.text for m in await inbound(tw)] == ["Где мой заказ?"]


async def test_a_signed_message_in_another_charset_is_refused_and_not_stored(tw: Client) -> None:
    """Twilio posts UTF-8 only: a form that says cp1251 is no request of Twilio's, even signed."""
    route = "/webhooks/twilio/whatsapp"
    form = whatsapp_form("Где мой заказ?")
    headers = {"X-Twilio-Signature": signature(TOKEN, PUBLIC_URL + route, form),
               "Content-Type": f"{FORM_TYPE}; charset=cp1251"}
    body = "&".join(f"{k}={v}" for k, v in form.items()).encode("cp1251")
    async with tw.post(route, data=body, headers=headers) as resp:
        assert resp.status == 415, await resp.text()
    assert await inbound(tw) == []


async def test_a_signature_header_of_other_bytes_than_ascii_is_refused_not_a_500(tw: Client) -> None:
    body = b"Body=hi"
    raw = (b"POST /webhooks/twilio/whatsapp HTTP/1.1\r\nHost: x\r\nContent-Type: " + FORM_TYPE.encode()
           + b"\r\nX-Twilio-Signature: \xff\xfe\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    assert tw.server.host is not None and tw.server.port is not None
    reader, writer = await asyncio.open_connection(tw.server.host, tw.server.port)
    try:
        writer.write(raw)
        status_line = await reader.readline()
    finally:
        writer.close()
    assert status_line.split()[1] == b"403", status_line
    assert await inbound(tw) == []


def test_the_check_accepts_what_the_validator_accepts_and_nothing_else() -> None:
    """Against RequestValidator.validate itself, on URLs with and without their port and forms
    of any shape: signed for each URL variant, for another URL, with another token."""
    validator, check = RequestValidator(TOKEN), Signatures(TOKEN)
    urls = [URL, URL.replace("example.com", "example.com:443"), "http://example.com/webhooks/twilio/x",
            "http://example.com:80/a?b=1", "https://example.com:8443/a", "https://other.example/a"]
    for n, pairs in enumerate(forms(11, 300)):
        url = urls[n % len(urls)]
        for signer_url in urls:
            for token in (TOKEN, "0" * 32):
                sig = RequestValidator(token).compute_signature(signer_url, MultiDict(pairs))
                assert check.valid(url, pairs, sig) == bool(validator.validate(url, MultiDict(pairs), sig)), (
                    url, signer_url, token, pairs)


async def test_a_form_larger_than_twilio_ever_sends_is_refused_unread(tw: Client) -> None:
    headers = {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl", "Content-Type": FORM_TYPE}
    body = b"Body=" + b"a" * MAX_FORM_BYTES
    async with tw.post("/webhooks/twilio/whatsapp", data=body, headers=headers) as resp:
        assert resp.status == 413, await resp.text()
    assert await inbound(tw) == []
