"""The WAL's checkpoints, run by the store all the time: they fold committed
pages back into the database file, so the WAL stays small. A checkpoint that
fails (the disk full, the file read-only) is retried, ever less often, and
logged once per outage: before, the first failure ended the task silently and
the WAL grew without bound.

What bounds the WAL under writes that never pause: SQLite starts a WAL over
(writes its next frames at its start, and cuts the file back to the store's
journal_size_limit) only in the writer's first write of a transaction begun
while every frame had been copied into the database, and no reader was in the
WAL. A checkpoint from the side, while the writer keeps appending, never
catches up with it: 2.3 GB of WAL after 60 s at 1,000 msg/s. So once the WAL is
past ``FOLD_PAGES``, the writer itself, right after its next batch's COMMIT,
runs a PASSIVE checkpoint too: the side one has copied the bulk, the writer
copies what came since, and its next transaction starts the WAL over. PASSIVE
never waits, for readers or for the side checkpointer (it copies what it can
and returns); a RESTART one in the writer, which waits for the readers, was
measured to put the p99 from send to agent at 70-123 ms against 17-29 ms."""

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
# WAL pages (4 KiB, SQLite's default and the store's) past which the writer finishes the
# side checkpoint's work, 64 MiB: each time costs the writer two fsyncs (5-30 ms at 1,000
# msg/s, up to 0.1 s with the disk busy), so not every second (the WAL grows ~38 MB a
# second at 1,000 msg/s); 256 MiB was worse (p99 53-80 ms against 30 at 1,000 msg/s)
FOLD_PAGES = 64 * 1024 * 1024 // 4096

# side passes at most before the writer's (each syncs what the one before met), and the pages written
# during one (1 MiB) that leave the writer's too little to sync to be worth another
CATCH_UP_PASSES, CAUGHT_UP_PAGES = 6, 256

Call = Callable[..., Awaitable[Any]]


def _passive(conn: sqlite3.Connection) -> tuple[int, int, int]:
    # PASSIVE never blocks the writer or readers; what it cannot copy now it copies next time
    busy, log_pages, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(busy), int(log_pages), int(done)


def _fold(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """The writer's PASSIVE checkpoint, between two of its batches. SQLite
    calls no busy handler for a PASSIVE one; the timeout is set to 0 all the
    same, for builds whose locks wait by themselves (SQLITE_ENABLE_SETLK_TIMEOUT
    waits that long for the side checkpointer's lock): the writer never waits."""
    conn.execute("PRAGMA busy_timeout=0")
    try:
        return _passive(conn)
    finally:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


async def _catch_up(call: Call, log_pages: int) -> None:
    """Side passes back to back while the writes during the last one were many: the writer's own
    checkpoint then copies and syncs only what came during the last, short one. A pass copies,
    then syncs, all that was written since the one before: one that met tens of MB of writes
    left the writer's fold as much again to sync, 0.1-0.4 s in the writer's path."""
    for _ in range(CATCH_UP_PASSES):
        _, now, _ = await call(_passive)
        if now - log_pages <= CAUGHT_UP_PAGES:
            return
        log_pages = now


async def checkpoint_regularly(call: Call, interval: float, after_batch: Call | None = None) -> None:
    """Checkpoint through ``call`` (a connection's ``call``) every ``interval``
    seconds; after failures every ``interval`` doubled per failure, up to
    ``MAX_PAUSE``. When the WAL is past ``FOLD_PAGES``, the writer (its
    ``after_batch``) checkpoints too, right after its next batch, so that the
    WAL starts over. Ends only when cancelled."""
    outage = Episode("sqlite store: WAL checkpoints are failing (the WAL grows until they work)", log)
    pause = interval
    while True:
        await asyncio.sleep(pause)
        try:
            _, log_pages, _ = await call(_passive)
            if after_batch is not None and log_pages >= FOLD_PAGES:
                await _catch_up(call, log_pages)
                await after_batch(_fold)
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
