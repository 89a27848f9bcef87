"""The charset of a mail body that names none, or names US-ASCII and is not.

RFC 2045 reads such a body as US-ASCII, and a Russian letter in it is U+FFFD.
UTF-8 is tried first (scripts send it so); what is not UTF-8 comes, in this
market, from old clients and 1C/CRM scripts writing Windows-1251, KOI8-R or
DOS's 866. charset-normalizer chooses among those by how the text reads (it
tells KOI8-R from Windows-1251 on one sentence); Windows-1252 is there for
Western letters. A guess is still a guess, so the caller warns."""

from __future__ import annotations

import re
from email.message import EmailMessage

import charset_normalizer

# the order breaks ties: Windows-1251 is by far the commonest of these here
CANDIDATES = ("cp1251", "koi8_r", "cp866", "iso8859_5", "cp1252")
# enough to read the language by; the whole body is then decoded with what was found
_SAMPLE_BYTES = 64 * 1024
# a part that says it is US-ASCII and holds 8-bit bytes says nothing true of its charset
_ASCII_NAMES = frozenset({"us-ascii", "ascii", "us_ascii", "ansi_x3.4-1968"})


# codecs Python reads as text that no mail's charset is: punycode's decoder is quadratic (a
# 800 KB part took 79 s, every later mail waiting), and idna's runs it. Named where a mail
# names a charset (a part's charset=, an encoded word's =?…?, RFC 2231's *=…'), they are
# renamed to one no codec has (x-refused-punycode), which the parser reads as an unknown
# charset: UTF-8 with replacements, and a warning
_NOT_CHARSETS = re.compile(rb"""(?i)(charset\s*=\s*"?|=\?|\*\s*=\s*"?)(punycode|idna)(?=["'?;\s*]|$)""")


def disarmed(raw: bytes) -> tuple[bytes, list[str]]:
    """``raw`` with every charset that is no charset renamed, and a warning when one was."""
    found = _NOT_CHARSETS.findall(raw)
    if not found:
        return raw, []
    names = sorted({name.decode("ascii").lower() for _, name in found})
    return _NOT_CHARSETS.sub(rb"\1x-refused-\2", raw), [f"charset {', '.join(names)} is no mail charset: not used"]


def part_text(part: EmailMessage, warnings: list[str]) -> str:
    """A text part's content, decoded by its charset; a charset Python does
    not know is read as UTF-8 with replacements, and said so. A part that
    names no charset or US-ASCII but holds 8-bit bytes is read as UTF-8 where
    it is that, else by ``guess``: every Russian letter of it was U+FFFD."""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError) as exc:
        warnings.append(f"body charset {part.get_content_charset()!r} could not be used: {exc}")
        raw = part.get_payload(decode=True)
        content = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    text = content if isinstance(content, str) else content.decode("utf-8", "replace")
    # only where the ASCII reading replaced something: a header's every reading parses it anew
    if "\ufffd" in text and (part.get_content_charset() or "us-ascii") in _ASCII_NAMES:
        raw = part.get_payload(decode=True)
        return _not_ascii(raw, warnings) if isinstance(raw, bytes) else text
    return text


def unknown_charset(raw: bytes) -> str:
    """Bytes no part names a charset for: UTF-8 where they are that, else the best guess."""
    return _not_ascii(raw, [])


def _not_ascii(raw: bytes, warnings: list[str]) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        guessed = guess(raw)
    if guessed is None:
        warnings.append("body has no charset and is not UTF-8: read as ASCII with replacements")
        return raw.decode("ascii", "replace")
    warnings.append(f"body has no charset and is not UTF-8: read as {guessed[1]}, a guess")
    return guessed[0]


def guess(raw: bytes) -> tuple[str, str] | None:
    """``(text, charset)`` for a body that is not UTF-8, or None where no candidate reads it."""
    best = charset_normalizer.from_bytes(raw[:_SAMPLE_BYTES], cp_isolation=list(CANDIDATES)).best()
    if best is None:
        return None
    return raw.decode(best.encoding, "replace"), best.encoding
