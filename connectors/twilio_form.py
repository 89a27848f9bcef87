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
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Iterator, Sequence
from urllib.parse import urlparse

from twilio.request_validator import add_port, remove_port
from yarl import query_to_pairs

FORM_TYPE = "application/x-www-form-urlencoded"
# the largest form read: Twilio's are a few kB (a WhatsApp text of 4,096 emoji, percent-escaped,
# is ~49 kB with every other field); a forged 1 MB one held the event loop ~80 ms to check
MAX_FORM_BYTES = 256 * 1024

Pairs = list[tuple[str, str]]


def parse_form(content_type: str, charset: str | None, body: bytes) -> Pairs | None:
    """The url-encoded form Twilio posts (flat: no nesting to bound) as its
    (name, value) pairs in order, or None for another content type or text
    that is not in its charset. The body is decoded in its charset; the
    escapes in it are UTF-8, as ``parse_qsl`` reads them by default."""
    if content_type != FORM_TYPE:
        return None
    try:
        return query_to_pairs(body.decode(charset or "utf-8"))
    except (UnicodeDecodeError, LookupError, ValueError):
        return None


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
        except UnicodeEncodeError:  # a lone surrogate (a charset such as unicode_escape made it): nothing Twilio signed
            return False
