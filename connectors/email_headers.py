"""A mail's header block, bounded before the library parses it.

The standard library's header parser (``policy.default``) costs far more than
a header's length: a Subject of 10,000 encoded words (140 KB) took 683 MB and
a From of 100,000 quotes 53 s, on the mailbox's thread, which holds the
interpreter's lock while it parses. No header a person's client writes comes
near ``MAX_HEADER_BYTES`` (a To of some hundred addresses does), so a longer
one is cut there and the mail is read with a warning; the archive keeps the
mail as it came."""

from __future__ import annotations

import re

MAX_HEADER_BYTES = 16 * 1024
# one address and its name: the parser's cost grows fastest on these (20,000 quotes, 2.3 s)
MAX_SENDER_BYTES = 2048
_SENDER_HEADERS = frozenset({b"from", b"sender", b"reply-to", b"return-path"})
_BLOCK_END = re.compile(rb"\r?\n\r?\n")


def bounded_headers(raw: bytes) -> tuple[bytes, list[str]]:
    """``raw`` with each header (its folded lines together) cut to
    ``MAX_HEADER_BYTES`` (the sender's to ``MAX_SENDER_BYTES``), and a warning
    per header cut; ``raw`` itself when none is that long."""
    end = _BLOCK_END.search(raw)
    head, rest = (raw[: end.start()], raw[end.start():]) if end else (raw, b"")
    if len(head) <= MAX_SENDER_BYTES:
        return raw, []
    kept: list[bytes] = []
    warnings: list[str] = []
    size, limit, name = 0, MAX_HEADER_BYTES, b""
    for line in head.splitlines(keepends=True):
        if line[:1] not in (b" ", b"\t"):  # a header starts; a folded line goes on with the one before
            name = line.split(b":", 1)[0][:64]
            size, limit = 0, MAX_SENDER_BYTES if name.strip().lower() in _SENDER_HEADERS else MAX_HEADER_BYTES
        if size >= limit:
            continue
        part = line
        if size + len(line) > limit:
            part = line[: limit - size].rstrip(b"\r\n") + b"\r\n"
            warnings.append(f"header {name.decode('ascii', 'replace')} cut to {limit} bytes")
        size += len(part)
        kept.append(part)
    return b"".join(kept).rstrip(b"\r\n") + rest, warnings
