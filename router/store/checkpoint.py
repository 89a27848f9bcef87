"""The WAL's checkpoints, run by the store all the time: they fold committed
pages back into the database file, so the WAL stays small. A checkpoint that
fails (the disk full, the file read-only) is retried, ever less often, and
logged once per outage: before, the first failure ended the task silently and
the WAL grew without bound."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from router.store.errors import StoreError
from router.store.faults import Episode

log = logging.getLogger(__name__)

# seconds between tries while checkpoints fail: a failed PASSIVE one is cheap, a WAL left to grow is not
MAX_PAUSE = 5.0

Call = Callable[..., Awaitable[Any]]


def _passive(conn: sqlite3.Connection) -> tuple[int, int, int]:
    # PASSIVE never blocks the writer or readers; what it cannot copy now it copies next time
    busy, log_pages, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(busy), int(log_pages), int(done)


async def checkpoint_regularly(call: Call, interval: float) -> None:
    """Checkpoint through ``call`` (a connection's ``call``) every ``interval``
    seconds; after failures every ``interval`` doubled per failure, up to
    ``MAX_PAUSE``. Ends only when cancelled."""
    outage = Episode("sqlite store: WAL checkpoints are failing (the WAL grows until they work)", log)
    pause = interval
    while True:
        await asyncio.sleep(pause)
        try:
            await call(_passive)
        except StoreError as exc:  # the engine's: no sqlite3 error crosses it
            outage.failed(str(exc))
            pause = min(MAX_PAUSE, pause * 2)
            continue
        except Exception:  # the last resort: a bug of ours is said loudly, and the WAL still looked after
            # (a dead task would let it grow without bound); cancellation is no Exception and ends the task
            log.exception("sqlite store: a WAL checkpoint failed")
            pause = min(MAX_PAUSE, pause * 2)
            continue
        outage.succeeded()
        pause = interval
