"""A file's attributes (``chattr``'s flags) read by its name, never through a
descriptor of our own: closing any descriptor of a file drops every POSIX
lock the process holds on it, SQLite's included (``sqlite_faults``).

statx(2) (Linux 4.11+, glibc 2.28+) through ctypes; where either is missing
(another system, a Python built without ctypes, an older libc) nothing is
read and ``attributes`` answers None."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

# linux/stat.h
IMMUTABLE = 0x10  # STATX_ATTR_IMMUTABLE
_AT_FDCWD, _AT_SYMLINK_NOFOLLOW = -100, 0x100


def _reader() -> Callable[[str], int | None] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes  # noqa: PLC0415 - a Python without it still runs the service, unchecked
    except ImportError:
        return None

    class Statx(ctypes.Structure):
        # struct statx up to stx_attributes_mask, then the rest of its 256 bytes
        _fields_ = (("stx_mask", ctypes.c_uint32), ("stx_blksize", ctypes.c_uint32),
                    ("stx_attributes", ctypes.c_uint64), ("stx_nlink", ctypes.c_uint32),
                    ("stx_uid", ctypes.c_uint32), ("stx_gid", ctypes.c_uint32), ("stx_mode", ctypes.c_uint16),
                    ("spare0", ctypes.c_uint16), ("stx_ino", ctypes.c_uint64), ("stx_size", ctypes.c_uint64),
                    ("stx_blocks", ctypes.c_uint64), ("stx_attributes_mask", ctypes.c_uint64),
                    ("rest", ctypes.c_uint8 * 192))

    try:
        statx = ctypes.CDLL(None, use_errno=True).statx
    except (OSError, AttributeError):
        return None
    statx.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(Statx))
    statx.restype = ctypes.c_int

    def read(path: str) -> int | None:
        found = Statx()
        if statx(_AT_FDCWD, os.fsencode(path), _AT_SYMLINK_NOFOLLOW, 0, ctypes.byref(found)) != 0:
            return None  # no such file (yet), or no access
        return int(found.stx_attributes & found.stx_attributes_mask)

    return read


_READ = _reader()


def attributes(path: str) -> int | None:
    """The attributes the file system reports of ``path`` (``IMMUTABLE``...), or None: unknown."""
    return _READ(path) if _READ is not None else None
