"""The site chat's visitor tokens: ``<random>.<signature>``, issued and checked
with the installation's secret, so nobody reads another visitor's history by
guessing or editing an id, and issuing one costs no storage.

The token is a credential: it goes between the widget and the chat only (the
hello, the welcome, the upload form). Past the hello a visitor is named by the
token's public part (``public_part``), which proves nothing: their identity's
value, what agents, the API, events and webhooks see, the key of their tabs."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

_RANDOM_BYTES = 24
_SIGNATURE_BYTES = 16  # HMAC-SHA256 truncated to 128 bits: still unforgeable


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class VisitorTokens:
    """``<random>.<signature>``: stateless, so issuing one costs no storage."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _sign(self, random_part: str) -> str:
        digest = hmac.new(self._secret, random_part.encode("ascii"), hashlib.sha256).digest()
        return _b64(digest[:_SIGNATURE_BYTES])

    def issue(self) -> str:
        return self.token_of(_b64(secrets.token_bytes(_RANDOM_BYTES)))

    def token_of(self, visitor_id: str) -> str:
        """The token whose public part is ``visitor_id`` (one this installation issued): what the
        welcome gives the widget back, as the signature is the same every time."""
        return f"{visitor_id}.{self._sign(visitor_id)}"

    def verify(self, token: str) -> bool:
        random_part, dot, signature = token.partition(".")
        if not dot or not random_part.isascii() or not signature.isascii():
            return False
        try:
            if len(_unb64(random_part)) != _RANDOM_BYTES:
                return False
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(signature, self._sign(random_part))


def public_part(token: str) -> str:
    """The token's random part: it names the visitor, and proves nothing without the signature,
    which the installation's secret alone makes. What may be written where the token must not:
    the visitor's identity value (stored, shown to agents, sent to integrations), a message's
    external id, the log. A public part is its own public part (it holds no ".")."""
    return token.partition(".")[0]


def visitor_tag(token: str | None) -> str:
    """A visitor in a log line: the start of the token's public part, enough to follow one visitor
    ("-" before their hello). The whole token is a credential (a hello with it reads the visitor's
    history)."""
    return public_part(token)[:10] if token else "-"
