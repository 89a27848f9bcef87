"""The cyclic collector tuned for a long-running process: the server, and the
store's writer process."""

from __future__ import annotations

import gc
import os

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
