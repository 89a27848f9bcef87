"""asyncpg's pool maintenance, logged as one line per outage at most.

With ``min_size`` connections to keep, asyncpg's pool reconnects in the
background whenever one is lost, and while the database is down it logs
``Failed to restore the pool connection floor; retrying`` with the whole
traceback of the refused connect at every retry (1, 2, 4... s apart, up to
60 s): six ~25-line tracebacks per node in a 25 s outage, beside the store's
own one clean line (``router.store.faults.Episode``). The outage is the
store's to report; this keeps asyncpg's part to one short line naming the
fault as the outage starts, without a traceback, as
``router.server.bad_requests`` does for aiohttp's malformed requests. asyncpg
logs nothing when the floor is back, so an outage ends, for this filter, once
no such line came for longer than asyncpg's longest wait between retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from router.store.pg_faults import translated

ASYNCPG_POOL = "asyncpg.pool"
FLOOR = "Failed to restore the pool connection floor"
# asyncpg's retries of the floor are at most 60 s apart, plus a connect's timeout
# (``pg_engine.CONNECT_TIMEOUT``): a longer silence means the floor was restored
QUIET_FOR = 90.0  # seconds


class QuietPoolFloor(logging.Filter):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._last: float | None = None  # when asyncpg last said it failed

    def filter(self, record: logging.LogRecord) -> bool:
        if not (isinstance(record.msg, str) and record.msg.startswith(FLOOR)):
            return True  # anything else asyncpg's pool says is rare and worth its words
        now = self._clock()
        ongoing = self._last is not None and now - self._last < QUIET_FOR
        self._last = now
        if ongoing:
            return False
        fault = record.exc_info[1] if record.exc_info else None
        reason = str(translated(fault)) if fault is not None else "no reason given"
        record.msg = ("postgres store: the pool cannot reconnect (%s); asyncpg retries"
                      " quietly until it can")
        record.args = (reason,)
        record.exc_info, record.exc_text = None, None
        return True


def quiet_pool_floor() -> None:
    """Installed once on asyncpg's pool logger, however many stores are opened."""
    pool = logging.getLogger(ASYNCPG_POOL)
    if not any(isinstance(f, QuietPoolFloor) for f in pool.filters):
        pool.addFilter(QuietPoolFloor())
