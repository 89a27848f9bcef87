"""Site-chat load over loopback: N customers on /chat/ws, M agents on /api/ws.

``--store postgres`` runs the service on a PostgreSQL server the bench starts
(Debian's, as the tests do), ``--nodes 2`` as two nodes on it: customers are
spread over the nodes, agents are all on the first, so a message from a
customer on another node reaches them through the database's events.
``--compare-stores`` measures 1 node on SQLite, 1 and 2 nodes on PostgreSQL in
one run, with the CPU each node and the database spent per message.

Prints sustained messages/s, latency from a customer's send to the first
agent websocket receiving it (p50/p95/p99), the server's peak RSS and the
peak PSS of it with its child processes (the store's writer), and the
same figures for a bare aiohttp websocket echo server (the ceiling).
Each customer's first message opens a conversation, the costliest kind: they
are sent first, at the offered rate, and reported on a line of their own, so
the steady figures are those of the steady load.

``--reference ideal`` measures omnirouter against issue 24's ideal server
(``bench/ideal_server.py``) instead, in turns at several offered rates, with
the CPU each spends per message and the ratios (``bench/reference.py``);
``--profile DIR`` records the servers with py-spy (``bench/profile.py``).

    python -m bench.load --customers 1000 --agents 4 --rate 2000 --duration 20
    python -m bench.load --reference ideal --agents 1 --rates 500,1000 [--before DIR] [--burn 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import re
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.profile import recording

PASSWORD = "bench-password-123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pss_mb(pid: int) -> float:
    """Memory of the process and its descendants (the store's writer
    process, multiprocessing's resource tracker), each shared page counted once
    across them (PSS), unlike a sum of RSS."""
    total = 0
    for each in [pid, *_descendants(pid)]:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            for line in Path(f"/proc/{each}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
    return total / 1024


def cpu_seconds(pid: int, children: bool = True) -> float:
    """User and system CPU so far of the process and its descendants (the
    store's writer process); of the process alone without ``children``."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0
    for each in [pid, *(_descendants(pid) if children else [])]:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / tick


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            for child in (task / "children").read_text().split():
                found += [int(child), *_descendants(int(child))]
    return found


@contextlib.asynccontextmanager
async def pss_watch(pid: int, every: float = 1.0) -> AsyncIterator[list[float]]:
    """Samples ``pss_mb`` while the block runs; the list's one item is the peak.

    In a thread, and once a second: a sample reads the kernel's page-table
    walk of the server and its writer (4.5-9 ms measured), which on the
    generator's event loop held back the agents' frames it was timing."""
    peak = [0.0]

    async def sample() -> None:
        while True:
            peak[0] = max(peak[0], await asyncio.to_thread(pss_mb, pid))
            await asyncio.sleep(every)

    task = asyncio.create_task(sample())
    try:
        yield peak
    finally:
        task.cancel()


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextlib.asynccontextmanager
async def server(cmd: list[str], port: int, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> AsyncIterator[int]:
    proc = await asyncio.create_subprocess_exec(
        *cmd, env={**os.environ, **(env or {})}, stdout=asyncio.subprocess.DEVNULL, cwd=cwd
    )
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                        if r.status == 200:
                            break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError(f"server did not start: {' '.join(cmd)}")
        yield proc.pid
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)


@dataclass
class Run:
    sent_at: dict[str, float] = field(default_factory=dict)
    # by stage: each customer's first message, which opens its conversation, then the steady load
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"opening": [], "steady": []})
    seen: set[str] = field(default_factory=set)
    acks: int = 0
    errors: int = 0
    # when the last message arrived: the end of the run for the sustained rate
    last_at: float = 0.0

    def received(self, token: str) -> None:
        started = self.sent_at.get(token)
        if started is not None and token not in self.seen:
            self.seen.add(token)
            stage = "opening" if token.startswith("open") else "steady"
            self.last_at = time.perf_counter()
            self.latencies[stage].append(self.last_at - started)

    async def delivered(self, patience: float) -> float:
        """Wait until every message sent so far arrived, or ``patience`` s; the time waited."""
        started = time.perf_counter()
        while len(self.seen) < len(self.sent_at) and time.perf_counter() - started < patience:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return time.perf_counter() - started


DRAIN_PATIENCE = 60.0
SETTLE = 1.0  # seconds after the last delivery before the server's CPU is read again
# either JSON spelling: with spaces after the separators (json.dumps) or without (orjson)
_TOKEN = re.compile(r'"text": ?"((?:open|bench) \d+)"')
CREATED = ('{"type": "message.created"', '{"type":"message.created"')


async def agent_listener(ws: aiohttp.ClientWebSocketResponse, run: Run) -> None:
    # a regex, not json.loads: the generator shares the machine with the server
    # and must not become the bottleneck it measures
    async for msg in ws:
        if msg.type is not aiohttp.WSMsgType.TEXT:
            break
        if msg.data.startswith(CREATED) and (match := _TOKEN.search(msg.data)):
            run.received(match.group(1))


async def customer_reader(ws: aiohttp.ClientWebSocketResponse, run: Run, echo: bool) -> None:
    async for msg in ws:
        if msg.type is not aiohttp.WSMsgType.TEXT:
            break
        frame = json.loads(msg.data)
        if echo:
            run.received(frame["text"])
        elif frame["type"] == "ack":
            run.acks += 1
        elif frame["type"] == "error":
            run.errors += 1


async def open_customers(
    http: aiohttp.ClientSession, url: str, n: int, echo: bool
) -> list[aiohttp.ClientWebSocketResponse]:
    sockets = []
    for i in range(n):
        ws = await http.ws_connect(url, max_msg_size=0)
        if not echo:
            await ws.send_json({"type": "hello", "name": f"Bench customer {i}"})
            welcome = await ws.receive_json()
            assert welcome["type"] == "welcome", welcome
        sockets.append(ws)
    return sockets


async def open_agents(base: str, n: int) -> tuple[list[aiohttp.ClientSession], list[aiohttp.ClientWebSocketResponse]]:
    sessions, sockets = [], []
    for _ in range(n):
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # cookies for 127.0.0.1
        async with http.post(f"{base}/api/login", json={"username": "admin", "password": PASSWORD}) as r:
            r.raise_for_status()
        sockets.append(await http.ws_connect(f"{base.replace('http', 'ws')}/api/ws", origin=base, max_msg_size=0))
        sessions.append(http)
    return sessions, sockets


async def drive(
    customers: list[aiohttp.ClientWebSocketResponse], run: Run, rate: int, duration: float, echo: bool,
    stage: str = "bench",
) -> float:
    """Send ``rate * duration`` messages at ``rate`` msg/s, catching up on any
    lag of the sleeps; return the time spent sending."""
    seq, total = 0, round(rate * duration)
    started = time.perf_counter()
    while seq < total:
        due = min(total, int(rate * (time.perf_counter() - started)))
        while seq < due:
            ws = customers[seq % len(customers)]
            token = f"{stage} {seq}"
            run.sent_at[token] = time.perf_counter()
            frame = {"type": "message", "text": token, "client_id": token} if not echo else {"text": token}
            await ws.send_str(json.dumps(frame))
            seq += 1
        await asyncio.sleep(0.002)
    return time.perf_counter() - started


async def measure(
    base: str, ws_url: str, args: argparse.Namespace, echo: bool, more_ws_urls: Sequence[str] = (),
    cpu: Callable[[], float] | None = None, cpu_own: Callable[[], float] | None = None,
) -> dict[str, float]:
    """Customers spread over ``ws_url`` and ``more_ws_urls`` (other nodes), agents all on ``base``;
    ``cpu``: the server's CPU seconds so far, its child processes' included, read around the steady
    load for its CPU per message; ``cpu_own``: the same without the children."""
    run = Run()
    urls = [ws_url, *more_ws_urls]
    # one connection per simulated customer: lift the client's pool limit of 100
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        customers = []
        for i, url in enumerate(urls):
            share = args.customers // len(urls) + (1 if i < args.customers % len(urls) else 0)
            customers += await open_customers(http, url, share, echo)
        # round robin over the sockets then sends to each node in turn
        customers = [c for group in itertools.zip_longest(*[customers[i::len(urls)] for i in range(len(urls))])
                     for c in group if c is not None]
        sessions, agents = ([], []) if echo else await open_agents(base, args.agents)
        readers = [asyncio.create_task(customer_reader(ws, run, echo)) for ws in customers]
        readers += [asyncio.create_task(agent_listener(ws, run)) for ws in agents]
        # each customer's first message opens its conversation (a new customer's
        # costliest message): sent at the offered rate, waited for, reported apart
        await drive(customers, run, args.rate, len(customers) / args.rate, echo, stage="open")
        await run.delivered(30)
        opened = len(run.sent_at)
        cpu_before = cpu() if cpu else 0.0
        own_before = cpu_own() if cpu_own else 0.0
        started = time.perf_counter()
        await drive(customers, run, args.rate, args.duration, echo)
        # a saturated server's backlog takes a while: what has not come by then counts as lost
        await run.delivered(DRAIN_PATIENCE)
        if cpu:  # what the server does after the agents saw a message (indexing it for search) counts too
            await asyncio.sleep(SETTLE)
        cpu_spent = cpu() - cpu_before if cpu else float("nan")
        own_spent = cpu_own() - own_before if cpu_own else float("nan")
        for ws in customers + agents:
            await ws.close()
        for http_session in sessions:
            await http_session.close()
        for task in readers:
            task.cancel()
    steady, opening = run.latencies["steady"], run.latencies["opening"]
    return {
        "sent": len(run.sent_at) - opened,
        "received": len(steady),
        "opened": opened,
        "opening_received": len(opening),
        "opening_p50": percentile(opening, 0.50) * 1000,
        "opening_p99": percentile(opening, 0.99) * 1000,
        "acks": run.acks,
        "errors": run.errors,
        # from the first send until the last message arrived
        "rate": len(steady) / (run.last_at - started) if steady else 0.0,
        "p50": percentile(steady, 0.50) * 1000,
        "p95": percentile(steady, 0.95) * 1000,
        "p99": percentile(steady, 0.99) * 1000,
        "cpu_us": cpu_spent / max(1, len(run.sent_at) - opened) * 1e6,
        "cpu_us_own": own_spent / max(1, len(run.sent_at) - opened) * 1e6,
    }


STAGES = ("steady", "saturated")


def profile_file(args: argparse.Namespace, name: str, stage: str) -> Path | None:
    """Where py-spy records ``name``'s server in ``stage`` (``--profile DIR``), or None."""
    if args.profile is None:
        return None
    folder: Path = args.profile
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name.replace(' ', '-')}-{stage}.txt"


def write_config(folder: Path, port: int, writer: str, backend: str = "sqlite", source: Path | None = None) -> None:
    """The bench's config; for ``source``'s tree (``--before``), without the options it does not know yet."""
    options = (source or Path(__file__).parents[1]) / "connectors" / "webchat_options.py"
    caps = "    sockets_per_address: 100000\n    frames_per_socket: 100000/second\n" if options.exists() else ""
    (folder / "omnirouter.yaml").write_text(
        f"server:\n  port: {port}\nstore:\n  backend: {backend}\n  path: {folder / 'bench.db'}\n  writer: {writer}\n"
        # each bench customer writes several messages a second: far over a person's limit,
        # and every one of them comes from this machine's address
        "console:\n  login_attempts: 1000\nconnectors:\n  webchat:\n    type: webchat\n    rate_limit: 1000/second\n"
        "    new_visitors_per_address: 100000/second\n    rate_limit_per_address: 100000/second\n" + caps,
        encoding="utf-8",
    )


def report(name: str, r: dict[str, float], rss: float, pss: float) -> None:
    line = (
        f"{name:<12} sent {r['sent']:>7.0f}  delivered {r['received']:>7.0f}  sustained {r['rate']:>7.0f} msg/s  "
        f"latency p50 {r['p50']:6.1f} ms  p95 {r['p95']:6.1f} ms  p99 {r['p99']:6.1f} ms"
    )
    line += f"  peak RSS {rss:.0f} MB, with child processes PSS {pss:.0f} MB"
    print(line, flush=True)
    print(
        f"{'':<12} before it, each customer's first message (opens a conversation): {r['opening_received']:.0f} of "
        f"{r['opened']:.0f} delivered, p50 {r['opening_p50']:.1f} ms, p99 {r['opening_p99']:.1f} ms",
        flush=True,
    )


@dataclass
class Setup:
    """Where the service keeps its data for a run: SQLite, or PostgreSQL with ``nodes`` nodes."""

    store: str = "sqlite"
    nodes: int = 1
    dsn: str | None = None
    database_cpu: Callable[[], float] | None = None

    @property
    def name(self) -> str:
        return "omnirouter" if self.store == "sqlite" and self.nodes == 1 else f"{self.store} x{self.nodes}"


async def bench_omnirouter(phases: list[argparse.Namespace], setup: Setup | None = None) -> list[dict[str, float]]:
    setup = setup or Setup()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        async with contextlib.AsyncExitStack() as nodes:
            ports, pids = [], []
            for n in range(setup.nodes):
                folder = Path(tmp) / f"node{n}"
                folder.mkdir()
                port = free_port()
                write_config(folder, port, phases[0].store_writer, setup.store)
                env = {"OMNIROUTER_ADMIN_PASSWORD": PASSWORD, "OMNIROUTER_NODE_ID": f"bench-{n}"}
                if setup.dsn:
                    env["OMNIROUTER_DATABASE_URL"] = setup.dsn
                cmd = [sys.executable, "-m", "router.cli", "--log-level", "WARNING", "run", "--config", str(folder)]
                pids.append(await nodes.enter_async_context(server(cmd, port, env)))
                ports.append(port)
            base = f"http://127.0.0.1:{ports[0]}"
            ws = [f"ws://127.0.0.1:{p}/chat/ws" for p in ports]
            for stage, phase in zip(STAGES, phases, strict=True):
                cpu0 = [cpu_seconds(pid) for pid in pids]
                db0 = setup.database_cpu() if setup.database_cpu else 0.0
                async with pss_watch(pids[0]) as pss, recording(pids[0], profile_file(phase, setup.name, stage)):
                    r = await measure(base, ws[0], phase, echo=False, more_ws_urls=ws[1:])
                messages = max(1.0, r["sent"] + r["opened"])
                for n, pid in enumerate(pids):
                    r[f"cpu_us_node{n}"] = (cpu_seconds(pid) - cpu0[n]) / messages * 1e6
                if setup.database_cpu:
                    r["cpu_us_database"] = (setup.database_cpu() - db0) / messages * 1e6
                r["pss"] = pss[0]
                r["rss"] = peak_rss_mb(pids[0])
                results.append(r)
    return results


async def bench_echo(phases: list[argparse.Namespace]) -> list[dict[str, float]]:
    results = []
    port = free_port()
    async with server([sys.executable, "-m", "bench.echo_server", str(port)], port) as pid:
        for phase in phases:
            async with pss_watch(pid) as pss:
                r = await measure(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws", phase, echo=True)
            r["pss"] = pss[0]
            r["rss"] = peak_rss_mb(pid)
            results.append(r)
    return results


def cpu_line(name: str, r: dict[str, float]) -> str:
    nodes = [f"node {k.removeprefix('cpu_us_node')} {v:.0f}" for k, v in r.items() if k.startswith("cpu_us_node")]
    db = f", database {r['cpu_us_database']:.0f}" if "cpu_us_database" in r else ""
    return f"{'':<12} CPU per message (µs): {', '.join(nodes)}{db}"


@contextlib.contextmanager
def setups(args: argparse.Namespace) -> Iterator[list[Setup]]:
    """The runs asked for; a PostgreSQL server of the bench's own for those that need one."""
    wanted = ([Setup(), Setup("postgres", 1), Setup("postgres", 2)] if args.compare_stores
              else [Setup(args.store, args.nodes)])
    if all(s.store == "sqlite" for s in wanted):
        yield wanted
        return
    from tests.postgres_server import PostgresServer  # noqa: PLC0415 (needs Debian's postgresql)

    pg = PostgresServer(durable=True)
    try:
        pg.start()
        if args.pg_synchronous_commit == "off":
            pg.psql("ALTER SYSTEM SET synchronous_commit = off")
            pg.psql("SELECT pg_reload_conf()")
        for n, setup in enumerate(s for s in wanted if s.store == "postgres"):
            pg.psql(f"CREATE DATABASE bench{n}")
            setup.dsn, setup.database_cpu = pg.dsn(f"bench{n}"), pg.cpu_seconds
        yield wanted
    finally:
        pg.stop()


async def main(args: argparse.Namespace) -> None:
    if args.reference == "ideal":
        from bench.reference import run_reference  # noqa: PLC0415 (it imports this module)

        await run_reference(args)
        return
    print(
        f"load: {args.customers} customers, {args.agents} agent sockets, {args.rate} msg/s offered for "
        f"{args.duration:g}s, then {args.max_rate} msg/s offered for {args.max_duration:g}s to find the ceiling; "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    phases = [args, argparse.Namespace(**{**vars(args), "rate": args.max_rate, "duration": args.max_duration})]
    with setups(args) as runs:
        if any(s.store == "postgres" for s in runs):
            print(f"PostgreSQL: synchronous_commit={args.pg_synchronous_commit}; with 2 nodes, agents are on node 0"
                  " and customers on both", flush=True)
        ours = [(setup.name, await bench_omnirouter(phases, setup)) for setup in runs]
    echo = await bench_echo(phases)
    for stage, title in enumerate(STAGES):
        print(f"-- {title}")
        for name, results in ours:
            o = results[stage]
            report(name, o, o["rss"], o["pss"])
            print(cpu_line(name, o))
            if o["acks"] != o["sent"] + o["opened"] or o["errors"]:
                sent = o["sent"] + o["opened"]
                print(f"   {name} acks {o['acks']:.0f} of {sent:.0f}, error frames {o['errors']:.0f}")
        e = echo[stage]
        report("bare echo", e, e["rss"], e["pss"])
    base = ours[0][1]
    print(
        f"ratio {ours[0][0]}/echo: saturated throughput {base[1]['rate'] / echo[1]['rate']:.2f}, "
        f"steady p99 latency {base[0]['p99'] / echo[0]['p99']:.1f}x"
    )
    for name, results in ours[1:]:
        print(f"ratio {name}/{ours[0][0]}: saturated throughput {results[1]['rate'] / base[1]['rate']:.2f}, "
              f"steady p99 latency {results[0]['p99'] / base[0]['p99']:.1f}x")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--rate", type=int, default=2000, help="messages per second offered")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of sending")
    parser.add_argument("--max-rate", type=int, default=12000, help="messages per second offered to find the ceiling")
    parser.add_argument("--max-duration", type=float, default=5.0)
    parser.add_argument("--store-writer", choices=["process", "thread"], default="process",
                        help="where the store's writer connection runs (config store.writer)")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--nodes", type=int, default=1, help="nodes on one PostgreSQL (--store postgres)")
    parser.add_argument("--compare-stores", action="store_true",
                        help="1 node on SQLite, 1 and 2 nodes on PostgreSQL, in one run")
    parser.add_argument("--pg-synchronous-commit", choices=["on", "off"], default="on",
                        help="on (PostgreSQL's default): a commit waits for its WAL on disk")
    parser.add_argument("--reference", choices=["echo", "ideal"], default="echo",
                        help="echo: a bare websocket echo as the ceiling; ideal: issue 24's ideal server "
                             "(bench/ideal_server.py) side by side at several rates (bench/reference.py)")
    parser.add_argument("--rates", type=lambda v: [int(r) for r in v.split(",")], default=[500, 1000],
                        help="with --reference ideal: offered rates (msg/s, comma-separated), besides half "
                             "omnirouter's saturation")
    parser.add_argument("--before", type=lambda v: Path(v).resolve(), default=None, metavar="DIR",
                        help="with --reference ideal: also run omnirouter from the source tree DIR (the commit "
                             "before a change: git archive COMMIT | tar -x -C DIR), in the same turns")
    parser.add_argument("--burn", type=float, default=0.0,
                        help="with --reference ideal: keep every core this busy (0-1), a process each")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="record each server with py-spy into DIR (python -m bench.profile prints the top frames)")
    from bench import overload  # noqa: PLC0415 (it imports this module)

    overload.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.reference == "ideal" and (args.store != "sqlite" or args.compare_stores):
        parser.error("--reference ideal runs omnirouter on its default store (SQLite, one node)")
    if args.nodes > 1 and args.store != "postgres":
        parser.error("--nodes > 1 needs --store postgres: nodes share one PostgreSQL")
    return args


if __name__ == "__main__":
    # the generator's own collector pauses would be counted as the server's
    # latency: the same tuning as `omnirouter run` (router/heap.py)
    gc.freeze()
    gc.set_threshold(50_000, *gc.get_threshold()[1:])
    arguments = parse_args()
    if arguments.overload:
        from bench import overload

        overload.run(arguments)
    else:
        asyncio.run(main(arguments))
