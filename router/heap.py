"""The process's heap tuned for a long-running process: the server, and the
store's writer process. The cyclic collector, and the C heap's free memory
given back to the system."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Callable

log = logging.getLogger(__name__)

# young-generation allowance of the cyclic collector (CPython's default: 700)
GC_YOUNG_THRESHOLD = 50_000


def settle_heap() -> None:
    """Once everything is loaded, tune the cyclic collector for a server.

    What exists now (modules, config, compiled rules) lives as long as the
    process: ``gc.freeze`` takes it out of every later scan. Per-message
    objects die by reference counting, so a larger young-generation allowance
    costs little memory and makes the collections, each a pause for every
    open connection (or every call waiting on the writer), rarer. Measured in
    bench/load.py."""
    if os.environ.get("OMNIROUTER_GC_DEFAULTS"):
        return  # for comparing against CPython's defaults
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)
    release_free_memory()


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, looked up in the C library the process runs on
    (no ldconfig run to find one by name); None on a Python built without
    ctypes, and on musl's, macOS's and the BSDs', which give back by themselves."""
    try:
        import ctypes  # noqa: PLC0415 - optional: a Python may be built without it
    except ImportError:
        return None
    try:
        trim: Callable[[int], int] | None = getattr(ctypes.CDLL(None), "malloc_trim", None)
    except OSError:
        return None
    return trim


_MALLOC_TRIM = _malloc_trim()


def release_free_memory() -> None:
    """Gives the C heap's free pages back to the system (glibc's
    ``malloc_trim``). After a load that made and dropped much (the bot's
    model: its vocabulary as Python lists, its graph as a protobuf, ~20 MB
    freed but kept by malloc, bench/memory.py) the process's RSS is what it
    uses, not its peak. A no-op on other C libraries."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
