"""Does NOTIFY hurt the store's commits? Commits per second of store-like
writes on PostgreSQL, with and without the cluster's events, and how soon an
event reaches another node.

Modes, each for ``--seconds`` with ``--writers`` concurrent writers on a pool
of the store's size (router.store.pg_engine.Pg):

- ``store``: each write one transaction inserting a row (a message's size);
- ``store+events``: the same, and each commit publishes an event on the bus,
  which ``router.cluster.pg_bus.PgCluster`` appends to the event log with
  ``pg_notify`` on a connection of its own (the design); a second node
  listens and times each event from publish to its subscriber;
- ``store+notify-inline``: the event row and ``pg_notify`` inside the
  store's own transaction (the design not taken): NOTIFY serialises the
  commits of every transaction that notifies on a global lock.

    .venv/bin/python -m bench.bus_notify [--seconds 5] [--writers 8] [--rounds 3] [--dsn postgresql://...]

Without ``--dsn`` it starts a throwaway server of Debian's PostgreSQL with
durable commits (fsync and synchronous_commit on, as in production; the
tests' server runs without them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg

from router.bus import Event, EventBus
from router.cluster.pg_bus import CHANNEL, PgCluster
from router.store.faults import Episode
from router.store.pg_engine import Pg, PgConn
from router.store.postgres import POOL_SIZE, PostgresStore
from tests.postgres_server import PostgresServer

BODY = "x" * 300  # about a chat message and its columns


class DurableServer(PostgresServer):
    """The tests' throwaway server, with commits durable as in production."""

    def start(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--locale=C")
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=100"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"), "-o", options,
                  "-w", "-t", "120", "start")


@asynccontextmanager
async def database(dsn: str | None) -> AsyncIterator[str]:
    if dsn is not None:
        yield dsn
        return
    server = DurableServer()
    try:
        server.start()
        name = f"bench_{uuid.uuid4().hex[:8]}"
        server.psql(f"CREATE DATABASE {name}")
        yield server.dsn(name)
    finally:
        server.stop()


async def _write(conn: PgConn) -> None:
    await conn.execute("INSERT INTO bench_writes (body) VALUES ($1)", BODY)


async def _write_notify_inline(conn: PgConn) -> None:
    await conn.execute("INSERT INTO bench_writes (body) VALUES ($1)", BODY)
    seq = await conn.fetchval("INSERT INTO events (node, topic, payload) VALUES ('bench', 'event', $1::jsonb)"
                              " RETURNING seq", json.dumps({"type": "message.created", "data": {}}))
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, str(seq))


async def _commits(pg: Pg, unit: Callable[[PgConn], Awaitable[None]], writers: int, seconds: float,
                   after: Callable[[], None] | None = None) -> int:
    done = 0
    deadline = time.monotonic() + seconds

    async def writer() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            await pg.write(unit)
            done += 1
            if after is not None:
                after()

    await asyncio.gather(*(writer() for _ in range(writers)))
    return done


async def _events_mode(pg: Pg, dsn: str, writers: int, seconds: float) -> tuple[int, list[float]]:
    bus_a, bus_b = EventBus(), EventBus()
    delays: list[float] = []
    published: list[int] = []
    all_in = asyncio.Event()
    async with PgCluster(dsn, "bench-a", bus_a), PgCluster(dsn, "bench-b", bus_b), bus_b.subscribe() as on_b:
        async def listen() -> None:
            async for event in on_b:
                delays.append(time.monotonic() - event.data["t"])
                if published and len(delays) >= published[0]:
                    all_in.set()

        listener = asyncio.create_task(listen())
        n = await _commits(pg, _write, writers, seconds,
                           lambda: bus_a.publish(Event("message.created", {"t": time.monotonic()})))
        published.append(n)
        if len(delays) >= n:
            all_in.set()
        await all_in.wait()  # the tail of events still on their way
        listener.cancel()
    return n, delays


MODES = ("store", "store+events", "store+notify-inline")


async def run(dsn: str, writers: int, seconds: float, rounds: int) -> None:
    async with PostgresStore(dsn, pool_size=1):
        pass  # migrated: the event log exists
    admin = await asyncpg.connect(dsn)
    await admin.execute("CREATE TABLE IF NOT EXISTS bench_writes (id bigserial PRIMARY KEY, body text NOT NULL)")
    pg = Pg(dsn, Episode("bench: writes are failing"), max_size=POOL_SIZE)
    await pg.open()
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
    delays: list[float] = []
    try:
        for r in range(rounds):
            # each round in another order: a machine busy with something else for a while
            # weighs on every mode alike
            for mode in MODES[r % 3:] + MODES[:r % 3]:
                started = time.process_time()
                if mode == "store":
                    n = await _commits(pg, _write, writers, seconds)
                elif mode == "store+events":
                    n, got = await _events_mode(pg, dsn, writers, seconds)
                    delays.extend(got)
                else:
                    n = await _commits(pg, _write_notify_inline, writers, seconds)
                rates[mode].append(n / seconds)
                cpu[mode].append((time.process_time() - started) / n * 1e6)
            await admin.execute("TRUNCATE bench_writes, events")
    finally:
        await pg.close()
        await admin.close()
    base = statistics.median(rates["store"])
    print(f"{writers} writers, {rounds} rounds of {seconds:g} s per mode, pool of {POOL_SIZE}; medians")
    for mode in MODES:
        rate = statistics.median(rates[mode])
        spread = ", ".join(f"{x:.0f}" for x in rates[mode])
        print(f"  {mode:20s} {rate:7.0f} commits/s ({rate / base * 100:5.1f} % of store; rounds: {spread});"
              f" this process's CPU {statistics.median(cpu[mode]):.0f} us per commit")
    delays.sort()
    print(f"  events from node A to node B's subscriber: {len(delays)}, p50 {statistics.median(delays) * 1000:.1f} ms,"
          f" p99 {delays[int(len(delays) * 0.99) - 1] * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dsn", help="a libpq URL of an empty database (default: a throwaway server)")
    args = parser.parse_args()

    async def go() -> None:
        async with database(args.dsn) as dsn:
            await run(dsn, args.writers, args.seconds, args.rounds)

    asyncio.run(go())


if __name__ == "__main__":
    main()
