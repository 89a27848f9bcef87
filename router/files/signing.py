"""Links to a stored file that work without a login until they expire: for a
platform that fetches the file itself (Twilio's MediaUrl) and for the site
chat's visitors. ``/api/files/<id>/signed?expires=<unix time>&sig=<HMAC>``: the
signature covers the id and the expiry, so neither can be changed, and a link
is no key to any other file."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode

SECRET_NAME = "file-links"
_SIGNATURE_BYTES = 16  # HMAC-SHA256 cut to 128 bits: still unforgeable


def _sign(secret: bytes, file_id: str, expires: int) -> str:
    digest = hmac.new(secret, f"{file_id}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:_SIGNATURE_BYTES]).rstrip(b"=").decode("ascii")


def signed_path(secret: bytes, file_id: str, expires: int) -> str:
    return f"/api/files/{file_id}/signed?" + urlencode({"expires": expires, "sig": _sign(secret, file_id, expires)})


def valid(secret: bytes, file_id: str, expires: int, signature: str, now: float) -> bool:
    """Signed by us for this file, and not expired."""
    if expires < now:
        return False
    return hmac.compare_digest(signature.encode(), _sign(secret, file_id, expires).encode())
