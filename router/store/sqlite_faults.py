"""SQLite's errors turned into the store's own at its boundary, so that no
``sqlite3`` error crosses the ``Store`` contract: those that mean "the disk or
the files cannot take a write now" into ``StoreUnavailable``, told apart from
a broken rule of the schema (``IntegrityViolation``) and our own bugs
(``BackendError``); and the one fault SQLite cannot report as an error.

Files made immutable (``chattr +i``) under a running server: ext4 refuses a
write fault on a page of a shared mapping of such a file with SIGBUS, and
SQLite maps its WAL index (``-shm``) into memory, so the next commit after the
kernel wrote that page back killed the whole process instead of answering 503.
``guard`` looks at the files' flags before each batch (one ``statx`` a file,
microseconds) and refuses the batch instead. The database file itself is no
longer memory-mapped (``PRAGMA mmap_size``), which died the same way.

The flags are read by the files' names, never through a descriptor of our own:
closing any descriptor of a file drops every POSIX lock the process holds on
it, SQLite's included, and the next program to close its last connection to
the database (``omnirouter agents set-password`` beside a running service)
then took the WAL and its index for its own and deleted them, leaving the
service writing to a WAL nobody else could see."""

from __future__ import annotations

import errno
import os
import sqlite3

from router.store.errors import BackendError, IntegrityViolation, StoreError, StoreUnavailable
from router.store.file_attributes import IMMUTABLE, attributes

# primary result codes (https://sqlite.org/rescode.html) of faults of the
# platform, not of our SQL: the disk, the files, the locks, the memory
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_NOMEM, _SQLITE_READONLY = 3, 5, 6, 7, 8
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_PROTOCOL = 10, 11, 13, 14, 15
_SQLITE_NOTADB = 26
_REASONS = {
    _SQLITE_FULL: "the disk is full",
    _SQLITE_READONLY: "the database is read-only",
    _SQLITE_PERM: "the database's files may not be written",
    _SQLITE_IOERR: "the disk failed a read or a write",
    _SQLITE_CANTOPEN: "the database's files cannot be opened",
    _SQLITE_BUSY: "the database is locked by another program",
    _SQLITE_LOCKED: "the database is locked",
    _SQLITE_NOMEM: "out of memory",
    _SQLITE_CORRUPT: "the database file is damaged",
    _SQLITE_NOTADB: "the database file is not a database",
    _SQLITE_PROTOCOL: "the database's locks are in trouble",
}
# the same faults by SQLite's own words, for an error raised without its code
_MESSAGES = {
    "database or disk is full": _SQLITE_FULL,
    "attempt to write a readonly database": _SQLITE_READONLY,
    "disk i/o error": _SQLITE_IOERR,
    "unable to open database file": _SQLITE_CANTOPEN,
    "database is locked": _SQLITE_BUSY,
    "database table is locked": _SQLITE_LOCKED,
    "database disk image is malformed": _SQLITE_CORRUPT,
    "file is not a database": _SQLITE_NOTADB,
}
# after these a connection may hold a stale view of its files (opened
# read-only, a failed write's half state): it is opened afresh before its next use
_REOPEN = {_SQLITE_READONLY, _SQLITE_PERM, _SQLITE_IOERR, _SQLITE_CANTOPEN, _SQLITE_CORRUPT, _SQLITE_NOTADB}



def _code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF  # an extended code (SQLITE_IOERR_WRITE...) carries its primary one
    return _MESSAGES.get(str(exc).strip().lower())


def unavailable(exc: BaseException) -> StoreUnavailable | None:
    """``exc`` as the outage it reports, or None when it is no fault of the platform."""
    if isinstance(exc, StoreUnavailable):
        return exc
    if not isinstance(exc, sqlite3.OperationalError | sqlite3.DatabaseError) or isinstance(
        exc, sqlite3.IntegrityError | sqlite3.ProgrammingError | sqlite3.InterfaceError
    ):
        return None
    code = _code(exc)
    if code not in _REASONS:
        return None
    return StoreUnavailable(f"{_REASONS[code]} ({exc})")


def translated(exc: BaseException) -> BaseException:
    """The error to hand a caller: a driver's error as the store's own (a
    platform fault as ``StoreUnavailable``, a broken rule of the schema as
    ``IntegrityViolation``, anything else as ``BackendError``, SQLite's words
    kept); any other exception (``NotFound``, a bug of ours) as it is."""
    if not isinstance(exc, sqlite3.Error):
        return exc
    typed: StoreError | None = unavailable(exc)
    if typed is None:
        typed = (IntegrityViolation(str(exc)) if isinstance(exc, sqlite3.IntegrityError)
                 else BackendError(f"{type(exc).__name__}: {exc}"))
    typed.__cause__ = exc
    return typed


def needs_reopen(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.Error) and _code(exc) in _REOPEN


def _immutable(path: str) -> bool:
    # unknown (no such file yet, another system): SQLite reports what it finds
    return bool((attributes(path) or 0) & IMMUTABLE)


FileId = tuple[int, int]  # a file's device and inode: which file a name names


def file_id(path: str) -> FileId | None:
    """Which file ``path`` names now (read by its name: nothing is opened), or None for a database
    with no file of its own (``:memory:``, a URI) or none there."""
    if path == ":memory:" or path.startswith("file:"):
        return None
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def same_file(path: str, opened: FileId) -> None:
    """``StoreUnavailable`` when ``path`` no longer names the database file the store opened:
    deleted, or another put in its place (a backup restored under a running service). SQLite
    goes on writing to the file it has open, which nobody will open again: every message
    acknowledged from then on would be gone at the next start."""
    now = file_id(path)
    if now != opened:
        what = "deleted" if now is None else "replaced by another file"
        raise StoreUnavailable(f"the database file {path} was {what} while the service ran: nothing more "
                               f"is stored until the service is restarted on a database file in place")


def guard(path: str) -> None:
    """``StoreUnavailable`` when a file of the database is immutable: SQLite
    would die of SIGBUS touching its mapped WAL index (see the module)."""
    if path == ":memory:" or path.startswith("file:"):
        return
    for name in (path, f"{path}-wal", f"{path}-shm"):
        if _immutable(name):
            raise StoreUnavailable(f"the database's files may not be written ({os.path.basename(name)} is "
                                   f"immutable: {errno.errorcode[errno.EPERM]})")
