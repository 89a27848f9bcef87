"""How each delivery is signed, as Stripe signs its webhooks: HMAC-SHA256,
keyed by the subscription's secret, over ``<unix time>.<body>``, sent as

    Omnirouter-Signature: t=1733390000,v1=5f1c...

The timestamp is signed with the body, so a receiver that refuses a
signature older than a few minutes (``TOLERANCE``) refuses a replay of a
captured delivery. ``verify`` is what a receiver in Python does (the README
shows it standalone)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "Omnirouter-Signature"
EVENT_ID_HEADER = "Omnirouter-Event-Id"
EVENT_TYPE_HEADER = "Omnirouter-Event-Type"
DELIVERY_HEADER = "Omnirouter-Delivery"
TOLERANCE = 300  # seconds a receiver should accept a signature's timestamp off its own clock
SECRET_PREFIX = "whsec_"


class BadSignature(ValueError):
    """The signature is missing, malformed, does not match, or is too old."""


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return mac.hexdigest()


def header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, value: str, body: bytes, tolerance: int = TOLERANCE, now: float | None = None) -> int:
    """The signed timestamp of a valid ``Omnirouter-Signature`` header value,
    else ``BadSignature``. Any ``v1`` may match (a receiver rotating its secret
    checks each of its secrets in turn)."""
    fields = [part.split("=", 1) for part in value.split(",") if "=" in part]
    stamps = [v for k, v in fields if k.strip() == "t"]
    # ASCII digits only: str.isdigit() is true of '²', which int() refuses
    if len(stamps) != 1 or not (stamps[0].strip().isascii() and stamps[0].strip().isdigit()):
        raise BadSignature("no timestamp")
    timestamp = int(stamps[0])
    expected = signature(secret, timestamp, body).encode()
    # compared as bytes: compare_digest raises TypeError on a str that is not ASCII
    if not any(k.strip() == "v1" and hmac.compare_digest(v.strip().encode(), expected) for k, v in fields):
        raise BadSignature("no matching v1 signature")
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise BadSignature("the timestamp is outside the tolerance")
    return timestamp
