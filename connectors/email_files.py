"""A mail's files: every part that is no body, listed with its name, type,
size and checksum (the mail itself is kept whole in the archive)."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage, MIMEPart
from typing import Any, Literal

from router.models import Attachment

_KINDS: dict[str, Literal["image", "audio", "video", "document"]] = {
    "image": "image", "audio": "audio", "video": "video"}


def attachments_of(msg: EmailMessage, warnings: list[str]) -> list[Attachment]:
    found: list[Attachment] = []
    # a mail that is one file and no text (a scanner's PDF, a photo): the mail's body is the file
    whole = not msg.is_multipart() and msg.get_content_maintype() not in ("text", "multipart")
    for index, part in enumerate([msg] if whole else _attached(msg)):
        kind = part.get_content_type()
        if kind in ("message/delivery-status", "text/rfc822-headers", "message/rfc822-headers"):
            continue  # the report itself, read by delivery_report
        try:
            data = part.get_payload(decode=True)
        except (ValueError, TypeError) as exc:
            warnings.append(f"attachment {index} could not be decoded: {exc}")
            data = None
        if not isinstance(data, bytes):
            data = part.as_bytes() if part.is_multipart() or kind == "message/rfc822" else b""
        name = part.get_filename()
        extras: dict[str, Any] = {"part": index, "sha256": hashlib.sha256(data).hexdigest()}
        if part.get("Content-ID"):
            extras["content_id"] = str(part["Content-ID"]).strip("<>")
        found.append(Attachment(
            kind=_KINDS.get(part.get_content_maintype(), "document"),
            name=name, mime_type=kind, size=len(data), extras=extras,
        ))
    return found


def _attached(msg: MIMEPart) -> list[MIMEPart]:
    """The mail's files: the parts that are no body, in the body's own
    containers too. ``iter_attachments`` looks at one level: an image inside
    the HTML's multipart/related, inside multipart/alternative (Thunderbird's
    and Gmail's inline pictures) was never listed, and the agent never knew it."""
    found: list[MIMEPart] = list(msg.iter_attachments())
    for part in msg.iter_parts() if msg.get_content_maintype() == "multipart" else ():
        if part.get_content_maintype() == "multipart" and not any(part is f for f in found):
            found += _attached(part)
    return found
