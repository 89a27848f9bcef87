"""The WAL's size under sustained writes: omnirouter from this tree and,
with ``--before DIR``, from an older source tree, each on a fresh store, one
after the other (``--turns`` times), offered site-chat messages at one rate
(``--rate 0``: ``--max-rate``, saturation) for ``--duration`` seconds. Prints,
per run, the WAL's peak size and its size at the end (its file, sampled every
20 ms from a thread), the delivered rate, the p99 from send to the agent's
socket and the server's CPU per message::

    python -m bench.wal --rate 0 --duration 20 --before /tmp/before
    python -m bench.wal --rate 1000 --duration 60 --before /tmp/before --burn 0.5

The other options are ``bench.load``'s (``--customers``, ``--agents``...).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from bench.load import measure, parse_args
from bench.reference import burners, omnirouter

_EVERY = 0.02  # seconds between two looks at the WAL's size
MB = 1024 * 1024


@contextlib.contextmanager
def watched(wal: Path) -> Iterator[list[int]]:
    """The WAL file's peak size (bytes) while the block runs: the list's one item."""
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(_EVERY):
            with contextlib.suppress(FileNotFoundError):
                peak[0] = max(peak[0], wal.stat().st_size)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


async def one(args: argparse.Namespace, name: str, source: Path | None) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        async with omnirouter(args, Path(tmp), name, source) as who:
            wal = Path(tmp) / name / "bench.db-wal"
            with watched(wal) as peak:
                r = await measure(who.base, who.base.replace("http", "ws") + "/chat/ws", args, echo=False,
                                  cpu=who.cpu)
            end = wal.stat().st_size if wal.exists() else 0
    lost = "" if r["received"] == r["sent"] else f"  LOST {r['sent'] - r['received']:.0f}"
    return (f"{name:<10} WAL peak {peak[0] / MB:7.1f} MB, at the end {end / MB:6.1f} MB  delivered "
            f"{r['rate']:6.0f} msg/s  p50 {r['p50']:6.1f} ms  p99 {r['p99']:7.1f} ms  "
            f"CPU/msg {r['cpu_us']:5.0f} µs{lost}")


async def main(args: argparse.Namespace, turns: int) -> None:
    offered = args.max_rate if args.rate == 0 else args.rate
    print(f"WAL: {args.customers} customers, {args.agents} agent sockets, {offered} msg/s offered for "
          f"{args.duration:g} s on a fresh store, {turns} turn(s)"
          + (f", every core kept {args.burn:.0%} busy" if args.burn else ""), flush=True)
    args.rate = offered
    with burners(args.burn):
        for _ in range(turns):
            print(await one(args, "omnirouter", None), flush=True)
            if args.before is not None:
                print(await one(args, "before", args.before), flush=True)


if __name__ == "__main__":
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--turns", type=int, default=1)
    mine, rest = own.parse_known_args()
    asyncio.run(main(parse_args(rest), mine.turns))
