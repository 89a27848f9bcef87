"""Twilio's webhook form, parsed and its ``X-Twilio-Signature`` checked,
with the answers of ``urllib.parse.parse_qsl`` and twilio's
``RequestValidator`` (tests/connectors/test_twilio_form.py holds both against
them on generated forms) at a third of their cost (28 against 10 µs a
WhatsApp message, timed alone). The form is split by yarl's
``query_to_pairs`` (the parser aiohttp's own ``Request.post`` uses); the
pairs are sorted once (``sorted(set(pairs))`` is the validator's order:
names sorted, each name's values sorted without repeats) and signed with one
HMAC per URL tried: as configured, then as ``validate`` also tries it, with
and without its default port (twilio's own ``add_port`` and ``remove_port``).
``validate`` itself sorted a form twice more: ~240 ms of the event loop for
a forged 1 MB form.

The body is decoded only in a charset of ``CHARSETS``, before anyone has
proven who sent it: Python's codec registry also holds codecs that are no
text charset (``punycode``, whose decoder is quadratic: a body of 262 kB held
the event loop ~10 s; ``unicode_escape``, which makes lone surrogates), so a
Content-Type naming any other is refused (415) before its body is read.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Iterator, Sequence
from urllib.parse import urlparse

from aiohttp import web
from twilio.request_validator import add_port, remove_port
from yarl import query_to_pairs

from connectors.webhook import read_body

FORM_TYPE = "application/x-www-form-urlencoded"
# the largest form read: Twilio's are a few kB (a WhatsApp text of 4,096 emoji, percent-escaped,
# is ~49 kB with every other field); a forged 1 MB one held the event loop ~80 ms to check
MAX_FORM_BYTES = 256 * 1024

Pairs = list[tuple[str, str]]


# the charsets (as a Content-Type names them, lower-cased) a form is read in, and the codec of each:
# Twilio posts UTF-8, and its bodies are ASCII (every other byte percent-escaped), which ASCII and
# Latin-1 read alike. No other codec a caller names is ever run (see above)
CHARSETS = {"utf-8": "utf-8", "utf8": "utf-8", "us-ascii": "ascii", "ascii": "ascii",
            "iso-8859-1": "latin-1", "latin-1": "latin-1", "latin1": "latin-1"}


def form_codec(content_type: str, charset: str | None) -> str | None:
    """The codec a body of this content type and charset is read in: None for
    another content type, or a charset that is not in ``CHARSETS``."""
    if content_type != FORM_TYPE:
        return None
    return CHARSETS.get((charset or "utf-8").strip().lower())


def parse_form(content_type: str, charset: str | None, body: bytes) -> Pairs | None:
    """The url-encoded form Twilio posts (flat: no nesting to bound) as its
    (name, value) pairs in order, or None for another content type, a
    charset we do not read (``form_codec``) or text that is not in its
    charset. The escapes in it are UTF-8, as ``parse_qsl`` reads them by default."""
    codec = form_codec(content_type, charset)
    if codec is None:
        return None
    try:
        return query_to_pairs(body.decode(codec))
    except (UnicodeDecodeError, ValueError):
        return None


async def read_form(request: web.Request) -> Pairs | None:
    """A webhook's form, or None for a body that is not in its charset. Another
    content type, or a charset not in ``CHARSETS``, is refused (415) and a body
    over ``MAX_FORM_BYTES`` (413), both before the body is read."""
    if form_codec(request.content_type, request.charset) is None:
        raise web.HTTPUnsupportedMediaType(text=f"send the form as {FORM_TYPE} in UTF-8, as Twilio does")
    return parse_form(request.content_type, request.charset, await read_body(request, MAX_FORM_BYTES))


def _joined(pairs: Sequence[tuple[str, str]]) -> str:
    """What Twilio signs after the URL: names sorted, each name's values sorted without repeats."""
    return "".join([name + value for name, value in sorted(set(pairs))])


def _signed(key: bytes, text: str) -> str:
    return base64.b64encode(hmac.digest(key, text.encode("utf-8"), "sha1")).decode("ascii")


def signature_of(key: bytes, url: str, pairs: Sequence[tuple[str, str]]) -> str:
    """``RequestValidator(token).compute_signature(url, MultiDict(pairs))``
    (HMAC-SHA1, Twilio's auth token signature), ``key`` the token's UTF-8."""
    return _signed(key, url + _joined(pairs))


def url_variants(url: str) -> Iterator[str]:
    """The URL as we know it, then as ``RequestValidator.validate`` also tries it: with its
    default port and without its port (twilio's own ``add_port`` and ``remove_port``). Lazily:
    a form signed for the URL as configured, every real one, never parses it (~4.5 µs)."""
    yield url
    try:
        parsed = urlparse(url)
        others = (add_port(parsed), remove_port(parsed))
    except ValueError:  # a port that is no number: only the URL as it is
        return
    yield from (variant for variant in dict.fromkeys(others) if variant != url)


class Signatures:
    """Checks X-Twilio-Signature with one account's auth token."""

    def __init__(self, auth_token: str) -> None:
        self.token = auth_token
        self._key = auth_token.encode("utf-8")  # as RequestValidator keys its HMAC

    def valid(self, url: str, pairs: Pairs, signature: str) -> bool:
        """Twilio's check (``RequestValidator.validate``'s: the URL with and without its port),
        the URL as we know it first, with the pairs sorted once: a forged 1 MB form sorted
        three times by ``validate`` held the event loop ~240 ms."""
        if not signature.isascii():  # base64 is ASCII: a header of other bytes is no signature
            return False
        given, joined = signature.encode(), _joined(pairs)
        try:
            return any(hmac.compare_digest(_signed(self._key, variant + joined).encode(), given)
                       for variant in url_variants(url))
        except UnicodeEncodeError:  # a lone surrogate (only an escape could make one): nothing Twilio signed
            return False
