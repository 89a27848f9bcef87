"""A client's malformed HTTP request, logged as one line at most once a minute.

aiohttp answers a request it cannot parse (a request line over 8 KB, a bad
header) with 400 and logs it as an ERROR with its traceback, once per request:
anyone who can reach the port can fill the log with them, and an operator
reads each as our failure. It is the client's: one WARNING line names the
client and the fault, and how many more came since the last one.
"""

from __future__ import annotations

import logging
import time

from aiohttp.http_exceptions import HttpProcessingError

AIOHTTP_SERVER = "aiohttp.server"
EVERY = 60.0


class QuietBadRequests(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._last: float | None = None
        self._quiet = 0

    def filter(self, record: logging.LogRecord) -> bool:
        fault = record.exc_info[1] if record.exc_info else None
        if not isinstance(fault, HttpProcessingError):
            return True  # our own failure in a handler: its traceback is what to read
        now = time.monotonic()
        if self._last is not None and now - self._last < EVERY:
            self._quiet += 1
            return False
        quiet, self._last, self._quiet = self._quiet, now, 0
        client = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        # the fault's kind only: its message may quote what the client sent
        record.msg = "malformed HTTP request from %s refused with %s: %s (logged at most once a minute%s)"
        record.args = (client, fault.code, type(fault).__name__, f"; {quiet} more since the last line" if quiet else "")
        record.exc_info, record.exc_text = None, None
        return True


def quiet_bad_requests() -> None:
    """Installed once on aiohttp's server logger, however many apps are made."""
    server = logging.getLogger(AIOHTTP_SERVER)
    if not any(isinstance(f, QuietBadRequests) for f in server.filters):
        server.addFilter(QuietBadRequests())
