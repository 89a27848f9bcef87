"""A file's content type, read from its bytes: the name and the type a client
(a browser, a platform) gives are claims, never trusted. Magic numbers by
``filetype``; text that carries none is ``text/plain``, unless it is markup a
browser would run (``text/html``, ``image/svg+xml``), which no default
allows."""

from __future__ import annotations

import mimetypes
import re

import filetype

# what filetype reads of a file's head
HEAD_BYTES = 8192
# One optional comment, not a repeated one: ``.*?`` already runs across as many
# comments as come before the tag, and ``(?:<!--.*?-->\s*)*`` tried every way of
# splitting a run of them (2^k for k comments: 200 bytes of ``<!---->`` held
# the event loop for minutes).
_MARKUP = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)?<(!doctype\s+html|html|head|body|script|svg|iframe)\b",
    re.IGNORECASE | re.DOTALL)
# what a browser would take for markup anywhere in the head, not only at its start
_ACTIVE = re.compile(rb"<(script|iframe|object|embed)\b|<svg\b[^>]*xmlns", re.IGNORECASE)


def _text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multibyte character cut by the head's end is still text
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True


def sniff(head: bytes) -> str:
    """The content type of a file that starts with ``head`` (its first
    ``HEAD_BYTES``): ``application/octet-stream`` when nothing is recognised."""
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    if not head:
        return "application/x-empty"
    if _text(head):
        match = _MARKUP.match(head)
        if match is not None:
            return "image/svg+xml" if match.group(1).lower() == b"svg" else "text/html"
        return "text/html" if _ACTIVE.search(head) else "text/plain"
    return "application/octet-stream"


def claimed(name: str, declared: str | None) -> str | None:
    """The type the client said (its header, else the name's extension), lower case."""
    if declared:
        declared = declared.split(";", 1)[0].strip().lower()
        if declared and declared != "application/octet-stream":
            return declared
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed


def forged(name: str, declared: str | None, sniffed: str) -> bool:
    """The client named an image, a video or a sound (by type or extension)
    that the bytes are not: a disguise (an .exe called photo.jpg), refused
    rather than stored under a name that lies."""
    said = claimed(name, declared)
    if said is None:
        return False
    family = said.split("/", 1)[0]
    if family not in ("image", "video", "audio"):
        return False
    return sniffed.split("/", 1)[0] != family
