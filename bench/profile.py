"""Where a server's CPU goes under load: py-spy attached to a running server
(and its child processes, the store's writer), and the top frames of what it
recorded.

``bench.load --profile DIR`` records each server it starts into DIR (py-spy's
raw, collapsed stacks; ``pip install py-spy``, and ptrace allowed: root, or
``kernel.yama.ptrace_scope`` 0). Attached from outside, py-spy is no child of
the server, so the CPU per message ``bench.load`` reads from /proc does not
count it (sampling pauses the server a little: latencies under it read high).

    python -m bench.profile DIR/omnirouter.txt [--top 25]

prints the frames with the most samples where the CPU was spent (self), and
those most often on the stack (inclusive), per process, idle samples left out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import shutil
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

# a waiting event loop, a waiting writer, a thread pool's idle worker: no CPU spent
_IDLE = re.compile(r"\b(select|poll|epoll|_run_once \(asyncio/base_events|wait \(threading|recv_bytes|_recv_bytes|"
                   r"_worker \(concurrent/futures/thread|_recv \(multiprocessing)")


@contextlib.asynccontextmanager
async def recording(pid: int, out: Path | None, rate: int = 200) -> AsyncIterator[None]:
    """py-spy on ``pid`` and its children while the block runs (nothing if ``out`` is None)."""
    if out is None:
        yield
        return
    # installed in this venv (not on PATH when the venv is not activated), or anywhere on PATH
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy: pip install py-spy")
    proc = await asyncio.create_subprocess_exec(
        spy, "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--rate", str(rate),
        "--format", "raw", "--output", str(out), stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        await asyncio.wait_for(proc.wait(), 60)


def _process_of(frames: list[str]) -> str:
    # a child's stacks are under its parent's "process" frame: the innermost one names it
    named = [f for f in frames if f.startswith("process ")]
    return "writer" if named and "spawn_main" in named[-1] else "server"


def top_frames(path: Path, top: int) -> str:
    self_time: dict[str, Counter[str]] = {}
    inclusive: dict[str, Counter[str]] = {}
    busy: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if _IDLE.search(frames[-1]):
            continue
        process = _process_of(frames)
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        n = int(count)
        busy[process] += n
        self_time.setdefault(process, Counter())[_short(frames[-1])] += n
        for frame in {_short(f) for f in frames}:
            inclusive.setdefault(process, Counter())[frame] += n
    lines = []
    for process in sorted(busy, key=busy.__getitem__, reverse=True):
        total = busy[process]
        lines.append(f"== {process}: {total} busy samples")
        lines.append("-- self")
        lines += [f"{n / total:6.1%}  {frame}" for frame, n in self_time[process].most_common(top)]
        lines.append("-- inclusive")
        lines += [f"{n / total:6.1%}  {frame}" for frame, n in inclusive[process].most_common(top)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    """``fn (path/to/module.py:123)`` without the line: a function's samples together."""
    return re.sub(r":\d+\)$", ")", frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("raw", type=Path, help="py-spy's raw output (bench.load --profile)")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(top_frames(args.raw, args.top))


if __name__ == "__main__":
    main()
