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
from router.store.sqlite_db import BUSY_TIMEOUT_MS

log = logging.getLogger(__name__)

# seconds between tries while checkpoints fail: a failed PASSIVE one is cheap, a WAL left to grow is not
MAX_PAUSE = 5.0

Call = Callable[..., Awaitable[Any]]


# WAL pages (4 KiB each) past which the writer restarts the WAL itself: 64 MiB
RESTART_PAGES = 16384
RESTART_PATIENCE_MS = 50  # how long the writer waits for readers then


def _restart(conn: sqlite3.Connection) -> tuple[int, int, int]:
    # by the writer, between its batches: copies what is left and waits for the readers'
    # current transactions to end, so that its next write starts the WAL over. Briefly: a long
    # read (a backup) would hold the writer; then it is tried again at the next checkpoint
    conn.execute(f"PRAGMA busy_timeout={RESTART_PATIENCE_MS}")
    try:
        busy, log_pages, done = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
    finally:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return int(busy), int(log_pages), int(done)


def _passive(conn: sqlite3.Connection) -> tuple[int, int, int]:
    # PASSIVE never blocks the writer or readers; what it cannot copy now it copies next time
    busy, log_pages, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(busy), int(log_pages), int(done)


async def checkpoint_regularly(call: Call, interval: float, restart: Call | None = None) -> None:
    """Checkpoint through ``call`` (a connection's ``call``) every ``interval``
    seconds; after failures every ``interval`` doubled per failure, up to
    ``MAX_PAUSE``. Ends only when cancelled.

    A WAL starts over only once a checkpoint has copied all of it and no
    reader is in it: under writes and reads without a pause that never
    happens, and it grew by ~3-6 pages a message (722 MB in 11 s at 2,700
    msg/s). Past ``RESTART_PAGES`` the writer (``restart``: its ``run_alone``,
    between two batches) checkpoints with RESTART, a pause of a few
    milliseconds for it, and the WAL starts over (truncated to the store's
    journal_size_limit)."""
    outage = Episode("sqlite store: WAL checkpoints are failing (the WAL grows until they work)", log)
    pause = interval
    while True:
        await asyncio.sleep(pause)
        try:
            _, log_pages, _ = await call(_passive)
            if restart is not None and log_pages >= RESTART_PAGES:
                await restart(_restart)
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
