"""One sqlite3 connection and the work run on it, in a thread of the server
or alone in the store's writer process (``router.store.engine``): the part of
the store that meets the disk, and so its faults."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from router.store.sqlite_faults import FileId, file_id, guard, needs_reopen, same_file, translated

T = TypeVar("T")
Synchronous = Literal["off", "normal", "full"]
# bytes a reset WAL is cut back to (journal_size_limit): above the size a steady load keeps it at
# (the writer folds it past checkpoint.FOLD_PAGES, 64 MiB, and it grows meanwhile: 135-160 MB at
# 1,000-6,000 msg/s, measured), so that when it starts over its blocks are written over. With 16
# MiB every start cut ~120 MB off, and the next writes allocated and zeroed those blocks again (the
# file system's block allocation: 12.6 % of the writer's CPU against 5.4 %, perf); p99 from send
# to agent at 2,150 msg/s, side by side: 51-73 ms against 18-29 (bench.wal, bench.load). What it
# still cuts back is a WAL grown past it: while checkpoints failed (a full disk), or a read held it
# long (a copy of a live store); one grown less by those is kept, and cut at a clean close. The
# search index's file has it too; its WAL, checkpointed every 1,000 pages, stays a few MB.
WAL_SIZE_LIMIT = 256 * 1024 * 1024
BUSY_TIMEOUT_MS = 5000  # how long a statement waits for a lock another connection holds
# MiB of pages each connection keeps (store.cache_mb): the writer's, the reader's, the
# checkpointer's and the search index's each fill theirs as they read, up to the database's size
CACHE_MB = 16

Work = Callable[[sqlite3.Connection], Any]


class Db:
    """One sqlite3 connection and the work run on it: in a thread of the
    server, or alone in a process of its own (the writer, see ``router.store.engine.Connection``).

    A platform fault (disk full, read-only or immutable files) comes back to
    the caller as ``StoreUnavailable``; after one that may leave the
    connection with a stale view of its files (opened read-only while they
    were), it is opened afresh before its next use, so the store recovers by
    itself once the fault is gone."""

    def __init__(self) -> None:
        self.conn: sqlite3.Connection | None = None
        self._args: tuple[str, Synchronous, bool, int] | None = None
        self._stale = False
        # the database file a writing connection opened first: writes stop if its name comes to
        # name another file, or none (``same_file``), and it is never opened afresh in its place
        self._file: FileId | None = None

    def open(self, path: str, synchronous: Synchronous, read_only: bool, cache_mb: int = CACHE_MB) -> None:
        self._args = (path, synchronous, read_only, cache_mb)
        try:
            self._open(path, synchronous, read_only, cache_mb)
        except Exception as exc:
            raise translated(exc) from None

    def _open(self, path: str, synchronous: Synchronous, read_only: bool, cache_mb: int) -> None:
        guard(path)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=True)
        try:
            self._configure(conn, synchronous, read_only, cache_mb)
        except BaseException:
            conn.close()
            raise
        self.conn, self._stale = conn, False
        if not read_only and self._file is None:
            self._file = file_id(path)

    @staticmethod
    def _configure(conn: sqlite3.Connection, synchronous: Synchronous, read_only: bool, cache_mb: int) -> None:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # hot rows (open conversations, identities) stay in the page cache;
        # what it misses the OS's file cache still has (a read, not the disk).
        # No memory-mapped I/O (mmap_size): a mapped file made immutable or
        # cut short kills the process with SIGBUS, not an error
        conn.execute(f"PRAGMA cache_size={-1024 * cache_mb}")
        if read_only:
            conn.execute("PRAGMA query_only=ON")
        else:
            # a checkpoint fsyncs: done by the store's checkpointer off the
            # commit path, not by whichever COMMIT happens to cross 1000 pages
            conn.execute("PRAGMA wal_autocheckpoint=0")
            # a WAL grown while checkpoints failed (a full disk) is cut back
            # to this once they work again, not kept at its peak until a restart
            conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error as exc:
                raise translated(exc) from None

    def _ready(self) -> sqlite3.Connection:
        """The connection, checked and (after a fault) reopened for a batch."""
        if self._args is None:
            raise RuntimeError("store is not open")
        guard(self._args[0])
        if self._file is not None:
            same_file(self._args[0], self._file)
        if self._stale or self.conn is None:
            self.close()
            self.open(*self._args)
        assert self.conn is not None
        return self.conn

    def _failed(self, exc: BaseException) -> BaseException:
        if needs_reopen(exc):
            self._stale = True
        return translated(exc)

    def run_one(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return fn(self._ready())
        except Exception as exc:
            raise self._failed(exc) from None

    def run_each(self, batch: list[Work]) -> list[tuple[bool, Any]]:
        try:
            conn = self._ready()
        except Exception as exc:
            return [(False, self._failed(exc))] * len(batch)
        outcomes: list[tuple[bool, Any]] = []
        for work in batch:
            try:
                outcomes.append((True, work(conn)))
            except Exception as exc:  # handed to the caller, who raises it
                outcomes.append((False, self._failed(exc)))
        return outcomes

    def run_transaction(self, batch: list[Work]) -> list[tuple[bool, Any]]:
        try:
            conn = self._ready()
        except Exception as exc:
            return [(False, self._failed(exc))] * len(batch)
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for work in batch:
                outcomes.append(_in_savepoint(conn, work))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._roll_back(conn)
            return [(False, self._failed(exc))] * len(batch)
        return [(ok, value if ok else self._failed(value)) for ok, value in outcomes]

    def _roll_back(self, conn: sqlite3.Connection) -> None:
        """After a failed batch. A rollback that fails too (the disk gone)
        leaves the connection to be reopened: closing it rolls back."""
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            self._stale = True


def _in_savepoint(conn: sqlite3.Connection, work: Work) -> tuple[bool, Any]:
    """One caller's unit of work: all of it, or none of it."""
    conn.execute("SAVEPOINT work")
    try:
        result = work(conn)
    except Exception as exc:  # undone, then handed to the caller
        conn.execute("ROLLBACK TO work")
        conn.execute("RELEASE work")
        return False, exc
    conn.execute("RELEASE work")
    return True, result
