"""What a server's heap holds, counted from inside it (``bench.memory --census``).

Copied beside the bench's ``sitecustomize`` and imported by it, so it must not
import the project: on SIGUSR2 the server writes a JSON census to the
snapshots folder -- objects the cyclic collector tracks, by type (count and
``sys.getsizeof`` bytes), asyncio tasks by coroutine, glibc's ``mallinfo2``
(the C heap: in use against free but kept) and pymalloc's arenas -- which the
bench compares between two readings, per open conversation.
"""

from __future__ import annotations

import asyncio
import collections
import ctypes
import gc
import json
import os
import re
import signal
import sys
import tempfile
import tracemalloc
from typing import Any


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def mallinfo() -> dict[str, int]:
    """glibc's view of the C heap (main arena and threads' arenas), bytes; {} elsewhere."""
    try:
        call = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return {}
    call.restype = _MallInfo2
    info = call()
    return {field[0]: getattr(info, field[0]) for field in _MallInfo2._fields_}


def pymalloc() -> dict[str, int]:
    """pymalloc's arenas: ``sys._debugmallocstats`` writes them to stderr, read back here."""
    with tempfile.TemporaryFile() as out:
        saved = os.dup(2)
        try:
            os.dup2(out.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    found: dict[str, int] = {}
    for key in ("arenas allocated current", "bytes in allocated blocks", "bytes in available blocks",
                "unused pools", "bytes lost to pool headers", "bytes lost to quantization",
                "bytes lost to arena alignment", "Total"):
        match = re.search(rf"^# {re.escape(key)}\s*=\s*([\d,]+)" if key != "Total" else r"^Total\s*=\s*([\d,]+)",
                          text, re.MULTILINE)
        if match:
            found[key] = int(match.group(1).replace(",", ""))
    return found


def census() -> dict[str, Any]:
    gc.collect()
    types: dict[str, list[int]] = {}
    for obj in gc.get_objects():
        kind = type(obj)
        key = f"{kind.__module__}.{kind.__qualname__}"
        row = types.setdefault(key, [0, 0])
        row[0] += 1
        row[1] += sys.getsizeof(obj)
    tasks: collections.Counter[str] = collections.Counter()
    loop = asyncio._get_running_loop()
    if loop is not None:
        for task in asyncio.all_tasks(loop):
            coro = task.get_coro()
            tasks[getattr(coro, "__qualname__", type(coro).__name__)] += 1
    return {"types": types, "tasks": dict(tasks), "mallinfo": mallinfo(), "pymalloc": pymalloc(),
            "traced": tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else None}


def install(folder: str) -> None:
    def dump(_signum: int, _frame: object) -> None:
        count = sum(name.endswith(".census") for name in os.listdir(folder))
        partial = os.path.join(folder, "partial.census.tmp")
        with open(partial, "w", encoding="utf-8") as out:
            json.dump(census(), out)
        os.replace(partial, os.path.join(folder, f"{count}.census"))

    signal.signal(signal.SIGUSR2, dump)
