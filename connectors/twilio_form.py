"""Twilio's webhook form, parsed and its ``X-Twilio-Signature`` checked.

The same answers as ``urllib.parse.parse_qsl`` and twilio's
``RequestValidator`` (tests/connectors/test_twilio_form.py holds both against
them on generated forms), at a third of their cost per webhook
(``bench.webhooks``): the form is split by yarl's ``query_to_pairs`` (the
parser aiohttp's own ``Request.post`` uses; ``parse_qsl`` unquotes each
escape in Python, ~16 µs a WhatsApp message), and the signature of the URL
as configured is one HMAC call over the pairs sorted once: ``sorted(set(pairs))``
is the validator's order (names sorted, each name's values sorted without
repeats), without its set and ``getall`` per name and its HMAC object.
A signature that does not match is then given to ``RequestValidator.validate``
itself, which also tries the URL with and without its default port.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Sequence

from multidict import MultiDict
from twilio.request_validator import RequestValidator
from yarl import query_to_pairs

FORM_TYPE = "application/x-www-form-urlencoded"

Pairs = list[tuple[str, str]]


def parse_form(content_type: str, charset: str | None, body: bytes) -> Pairs | None:
    """The url-encoded form Twilio posts (flat: no nesting to bound) as its
    (name, value) pairs in order, or None for another content type or text
    that is not in its charset. The body is decoded in its charset; the
    escapes in it are UTF-8, as ``parse_qsl`` reads them by default."""
    if content_type != FORM_TYPE:
        return None
    try:
        text = body.decode(charset or "utf-8")
        # what no UTF-8 holds (a lone surrogate, which a charset such as unicode_escape can make)
        # is no form Twilio signed: refused here, not a 500 when the signature is computed
        text.encode("utf-8")
        return query_to_pairs(text)
    except (UnicodeError, LookupError, ValueError):
        return None


def signature_of(key: bytes, url: str, pairs: Sequence[tuple[str, str]]) -> str:
    """``RequestValidator(token).compute_signature(url, MultiDict(pairs))``
    (HMAC-SHA1, Twilio's auth token signature), ``key`` the token's UTF-8."""
    signed = url + "".join([name + value for name, value in sorted(set(pairs))])
    return base64.b64encode(hmac.digest(key, signed.encode("utf-8"), "sha1")).decode("ascii")


class Signatures:
    """Checks X-Twilio-Signature with one account's auth token."""

    def __init__(self, auth_token: str) -> None:
        self.validator = RequestValidator(auth_token)
        self._key: bytes = self.validator.token

    def valid(self, url: str, pairs: Pairs, signature: str) -> bool:
        """Twilio's check: its signature of the URL as we know it first, then
        ``validate``'s variants (the URL with and without its port), which
        compute two signatures every time."""
        if not signature.isascii():  # base64 is ASCII: a header of other bytes is no signature
            return False
        mine = signature_of(self._key, url, pairs)
        return (hmac.compare_digest(mine.encode(), signature.encode())
                or bool(self.validator.validate(url, MultiDict(pairs), signature)))
