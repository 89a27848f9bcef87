"""Round trip of an empty call from the event loop to where the store's
writer can run: a worker thread (``store.writer: thread``),
ProcessPoolExecutor (what ``store.writer: process`` first used), and a pipe
to a child process read by the event loop itself (what it uses now).

    python -m bench.hop [--calls 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import pickle
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any


def echo(value: int) -> int:
    return value


def serve_pipe(conn: Connection) -> None:
    """The child's side of the pipe: send back what comes, until EOF."""
    while True:
        try:
            data = conn.recv_bytes()
        except EOFError:
            return
        conn.send_bytes(data)


async def measure(label: str, call: Callable[[], Awaitable[Any]], calls: int) -> None:
    for _ in range(200):  # warm-up: the child started, caches filled
        await call()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    times.sort()
    print(f"{label:<22} p50 {times[calls // 2] * 1e6:6.0f} µs   p99 {times[int(calls * 0.99)] * 1e6:6.0f} µs")


async def pipe_hop(calls: int) -> None:
    loop = asyncio.get_running_loop()
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    child = multiprocessing.get_context("spawn").Process(target=serve_pipe, args=(theirs,))
    child.start()
    waiting: list[asyncio.Future[Any]] = []
    loop.add_reader(ours.fileno(), lambda: waiting.pop().set_result(pickle.loads(ours.recv_bytes())))

    async def call() -> Any:
        waiting.append(loop.create_future())
        ours.send_bytes(pickle.dumps(1))
        return await waiting[-1]

    try:
        await measure("pipe read by the loop", call, calls)
    finally:
        loop.remove_reader(ours.fileno())
        ours.close()
        child.join(5)


async def main(calls: int) -> None:
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(1) as threads:
        await measure("worker thread", lambda: loop.run_in_executor(threads, echo, 1), calls)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as processes:
        await measure("ProcessPoolExecutor", lambda: loop.run_in_executor(processes, echo, 1), calls)
    await pipe_hop(calls)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=3000)
    asyncio.run(main(parser.parse_args().calls))
