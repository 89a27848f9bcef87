"""Configured secrets never leave the process: not in a log line, not in an
error an agent or a platform is shown.

The app factory registers every secret it reads (connectors' tokens, webhook
secrets and passwords from the environment, the admin password) with
``register``; ``RedactingFilter`` on the root logger's handlers replaces each
one with ``***`` in every record, its traceback included, whatever logger
wrote it (ours, aiohttp's, aiogram's, twilio's...). The delivery and media
errors connectors raise pass their reason through ``redact`` too: a last line
behind error messages that are built from our own words in the first place.

Only a leaf module (no import of the core), so connectors may use it.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

log = logging.getLogger(__name__)

PLACEHOLDER = "***"
# a shorter "secret" would mangle every log line and protects nothing anyway
MIN_SECRET_LENGTH = 6

def _forms(secret: str) -> set[str]:
    """The secret as it may be written: as is, and escaped in a URL."""
    return {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}


class _Registry:
    """The secrets of this process (tests build several apps: the union)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self.pattern: re.Pattern[str] | None = None

    def register(self, secrets: Iterable[str | None]) -> list[str]:
        too_short: list[str] = []
        with self._lock:
            for secret in secrets:
                if not secret:
                    continue
                if len(secret) < MIN_SECRET_LENGTH:
                    too_short.append(secret)
                    continue
                self._secrets.update(_forms(secret))
            if self._secrets:
                # the longest first, so a secret that contains another goes whole
                alternatives = sorted(self._secrets, key=len, reverse=True)
                self.pattern = re.compile("|".join(re.escape(s) for s in alternatives))
        return too_short


_REGISTRY = _Registry()


def register(secrets: Iterable[str | None]) -> list[str]:
    """Redact these from now on. Returns the ones too short to be redacted
    (the caller says so, without printing them)."""
    return _REGISTRY.register(secrets)


def redact(text: str) -> str:
    pattern = _REGISTRY.pattern
    return text if pattern is None else pattern.sub(PLACEHOLDER, text)


def contains_secret(text: str) -> bool:
    pattern = _REGISTRY.pattern
    return pattern is not None and pattern.search(text) is not None


class RedactingFilter(logging.Filter):
    """Rewrites a record whose message, traceback or stack holds a secret.
    On a handler it sees every record that handler writes, propagated ones
    included (a filter on a logger would miss its children's records)."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if _REGISTRY.pattern is None:
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # a broken format string: the handler reports it itself
        if contains_secret(message):
            record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            # formatted now, so that every handler prints this redacted text
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text and contains_secret(record.exc_text):
            record.exc_text = redact(record.exc_text)
        if record.stack_info and contains_secret(record.stack_info):
            record.stack_info = redact(record.stack_info)
        return True


FILTER = RedactingFilter()


def install_log_filter() -> None:
    """Put the filter on every handler of the root logger (idempotent)."""
    for handler in logging.getLogger().handlers:
        if FILTER not in handler.filters:
            handler.addFilter(FILTER)


def textless_traceback(exc: BaseException) -> str:
    """``exc``'s traceback as logging prints it (its causes first), but each
    exception by its type only: an error's words may quote what a customer
    wrote (a validation error quotes its input), and customer text never goes
    to logs. The frames and their lines of code are ours."""
    parts: list[str] = []
    current: traceback.TracebackException | None = traceback.TracebackException.from_exception(exc)
    while current is not None:
        name = current.exc_type.__qualname__ if current.exc_type is not None else "an exception"
        parts.append("Traceback (most recent call last):\n" + "".join(current.stack.format())
                     + f"{name} (its words are left out of the log: they may quote a customer)\n")
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return "\nwhich led to\n\n".join(reversed(parts)).rstrip("\n")


# a customer's address or number as a platform's error may quote it ("550 5.1.1 <ivan@mail.ru>: no such
# user", "The 'To' number +79161234567 is not valid"): the agent is shown it, a log line is not
_ADDRESS = re.compile(r"[^\s<>()\[\]'\"@,;:]+@[^\s<>()\[\]'\"@,;:]+|\+\d[\d\s().-]{5,}\d")


def without_addresses(text: str) -> str:
    """``text`` for a log line: e-mail addresses and international phone numbers in it as ``<address>``."""
    return _ADDRESS.sub("<address>", text)


# a platform's error may quote what it was sent ("Bad Request: message text is ...", a mail
# server's "550 content rejected: <the first lines>", "the file passport-ivanov.pdf was not
# fetched"): any run of the reason this long that what was sent holds goes out of a log line
QUOTE_MIN = 10
QUOTED = "<what was sent>"


def without_quotes(text: str, sent: Iterable[str | None], whole: Iterable[str | None] = ()) -> str:
    """``text`` for a log line: every run of at least ``QUOTE_MIN`` characters of it that one of
    ``sent`` (a message's words) holds, and each of ``sent`` and ``whole`` (its files' names and
    URLs, whose parts, a host, are no quote) written whole, as ``<what was sent>``. The agent is
    shown the reason as it came."""
    words = {s for s in sent if s and len(s.strip()) >= 4}
    for source in sorted(words | {s for s in whole if s and len(s.strip()) >= 4}, key=len, reverse=True):
        text = text.replace(source, QUOTED)
        if len(source) < QUOTE_MIN or source not in words:
            continue
        kept: list[str] = []
        start = i = 0
        while i <= len(text) - QUOTE_MIN:
            if text[i : i + QUOTE_MIN] not in source:
                i += 1
                continue
            end = i + QUOTE_MIN
            while end < len(text) and text[i : end + 1] in source:
                end += 1
            # the spaces around a quote stay, so that the words beside it stay apart
            inner = text[i:end]
            if not inner.strip():
                i = end
                continue
            lead, tail = len(inner) - len(inner.lstrip()), len(inner) - len(inner.rstrip())
            kept += [text[start : i + lead], QUOTED]
            start, i = end - tail, end
        text = "".join(kept) + text[start:]
    return text
