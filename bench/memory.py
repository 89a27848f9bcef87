"""Memory per open conversation: ``--conversations`` site-chat visitors each
open one (hello, one message, answered by the ack once stored) and stay
connected, as visitors waiting for an answer do, on a real ``omnirouter
run`` with the shipped config (rules.yaml sends a chat to the bot,
bot.yaml's hybrid matcher, whose model is in memory from the start).

Prints the RSS of the server and of the store's writer process, their PSS
(shared pages counted once), before the first conversation and at every
step, and the bytes each open conversation added: (PSS at the step - PSS
before) / conversations. A step waits for every visitor's ack and the
bot's or the rules' first answer, then for the server to settle.

    python -m bench.memory [--conversations 10000] [--steps 4] [--via chat|telegram] [--no-deflate] [--cold]
        [--maps] [--tracemalloc [--frames N]] [--census] [--store-writer process|thread] [--cache-mb N]
        [--env NAME=VALUE]

The server is started once before the measured start, to fill its cache
folder (the bot's tokenizer, graph and example vectors), as every start of
an installed server but its first finds it; ``--cold`` measures the first.

The visitors' sockets offer permessage-deflate, as every browser's do;
``--no-deflate`` leaves it out (aiohttp's client default, the bench's before).

``--via telegram`` opens them with Telegram webhooks from as many users
instead (no socket stays open: what a conversation costs without its visitor's socket).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.bot_chat import bot_ready, write_config
from bench.load import PASSWORD, _descendants, free_port, pss_mb
from bench.serve import server
from bench.webhooks import TG_SECRET, TG_TOKEN, telegram_update
from tests.fakes.telegram_api import FakeTelegram

# loaded by the server when --tracemalloc: SIGUSR1 writes a snapshot of its Python heap
_TRACER = """import os, signal, tracemalloc
if os.environ.get("BENCH_MEMORY_SNAPSHOTS"):
    tracemalloc.start(int(os.environ.get("BENCH_MEMORY_FRAMES", "1")))
    def _dump(_signum, _frame):
        folder = os.environ["BENCH_MEMORY_SNAPSHOTS"]
        count = sum(name.endswith(".snap") for name in os.listdir(folder))
        tracemalloc.take_snapshot().dump(os.path.join(folder, "partial"))
        os.replace(os.path.join(folder, "partial"), os.path.join(folder, f"{count}.snap"))
    signal.signal(signal.SIGUSR1, _dump)
if os.environ.get("BENCH_MEMORY_CENSUS"):
    import memory_census
    memory_census.install(os.environ["BENCH_MEMORY_CENSUS"])
"""

SETTLE = 2.0  # seconds for the server's tasks of the step to finish before a reading


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reading(pid: int) -> tuple[float, float, float]:
    """The server's RSS, its writer's (and any other child's) RSS, and PSS of them all, in MB."""
    children = 0.0
    for child in _descendants(pid):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            children += rss_mb(child)
    return rss_mb(pid), children, pss_mb(pid)


class Visitors:
    """Open site-chat visitors, each with one conversation."""

    def __init__(self, url: str, plain: bool = False) -> None:
        self.url = url
        self.plain = plain
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self.answered: set[int] = set()
        self.acked = 0
        self.errors = 0
        self.busy = 0  # refusals as busy, each sent again after its retry_after
        self._resends: list[asyncio.Task[None]] = []
        self._readers: list[asyncio.Task[None]] = []

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, n: int) -> None:
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            frame = json.loads(msg.data)
            if frame["type"] == "ack":
                self.acked += 1
            elif frame["type"] == "message" and frame["author"] != "customer":
                self.answered.add(n)
            elif frame["type"] == "error" and frame.get("code") == "busy":
                # as the widget does: the same message again once the server has room
                self.busy += 1
                self._resends.append(asyncio.create_task(self._resend(ws, n, frame)))
            elif frame["type"] == "error":
                self.errors += 1

    async def _resend(self, ws: aiohttp.ClientWebSocketResponse, n: int, frame: dict[str, Any]) -> None:
        await asyncio.sleep(frame.get("retry_after", 1))
        await ws.send_json({"type": "message", "text": f"zq{n} xv{n}", "client_id": frame["client_id"]})

    async def open(self, http: aiohttp.ClientSession, count: int, concurrency: int = 50) -> None:
        first = len(self.sockets)
        numbers = iter(range(first, first + count))

        async def one() -> None:
            for n in numbers:
                # a browser's WebSocket offers permessage-deflate (aiohttp's client by default does not)
                ws = await http.ws_connect(self.url, max_msg_size=0, compress=0 if self.plain else 15)
                await ws.send_json({"type": "hello", "name": f"Memory customer {n}"})
                welcome = await ws.receive_json()
                assert welcome["type"] == "welcome", welcome
                self._readers.append(asyncio.create_task(self._read(ws, n)))
                # words the bot hands to people: the conversation stays open, queued for them
                await ws.send_json({"type": "message", "text": f"zq{n} xv{n}", "client_id": f"c{n}"})
                self.sockets.append(ws)

        await asyncio.gather(*(one() for _ in range(concurrency)))

    async def settled(self, patience: float = 300.0) -> None:
        started = time.perf_counter()
        while self.acked < len(self.sockets) or len(self.answered) < len(self.sockets):
            # counted by thousands of readers: a poll is simplest
            if time.perf_counter() - started > patience:
                return
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        for ws in self.sockets:
            await ws.close()
        for task in [*self._readers, *self._resends]:
            task.cancel()


async def by_telegram(base: str, first: int, count: int, concurrency: int = 32) -> int:
    """``count`` Telegram users' first messages; the number answered 200."""
    numbers = iter(range(first, first + count))
    ok = 0

    async def one(http: aiohttp.ClientSession) -> None:
        nonlocal ok
        for n in numbers:
            body, headers = telegram_update(n, 10**9)
            body["message"]["text"] = f"zq{n} xv{n}"
            async with http.post(f"{base}/webhooks/telegram/telegram", json=body, headers=headers) as r:
                ok += r.status == 200

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(one(http) for _ in range(concurrency)))
    return ok


async def answered(telegram: FakeTelegram, count: int, patience: float = 600.0) -> None:
    """Until ``count`` Telegram users have each had an answer (the bot's or the rules'), or ``patience`` is out."""
    started = time.perf_counter()
    while len({call.params.get("chat_id") for call in telegram.sent("sendMessage")}) < count:
        if time.perf_counter() - started > patience:
            print(f"  (waited {patience:g} s: not every user answered)", flush=True)
            return
        await asyncio.sleep(0.5)


def mappings(pid: int) -> dict[str, int]:
    """Resident kB of each mapping of the process, by its address range and name ([heap], a file, anonymous)."""
    found: dict[str, int] = {}
    name = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        parts = line.split()
        if "-" in parts[0] and not parts[0].endswith(":"):
            name = f"{parts[0]} {parts[5] if len(parts) > 5 else '(anonymous)'}"
        elif parts[0] == "Rss:":
            found[name] = int(parts[1])
    return found


def grown(before: dict[str, int], after: dict[str, int], top: int = 8) -> None:
    """The mappings that grew most: the C heap, thread arenas, files."""
    growth = sorted(((after[k] - before.get(k, 0), k) for k in after), reverse=True)[:top]
    for kb, name in growth:
        print(f"    +{kb / 1024:7.1f} MB  {name}")


def tracing(snapshots: Path, args: argparse.Namespace) -> dict[str, str]:
    """The server's environment to trace its Python heap (``--tracemalloc``) and count its
    objects (``--census``), snapshots and censuses to ``snapshots``."""
    snapshots.mkdir()
    (snapshots / "sitecustomize.py").write_text(_TRACER, encoding="utf-8")
    shutil.copy(Path(__file__).with_name("memory_census.py"), snapshots / "memory_census.py")
    env = {"PYTHONPATH": os.pathsep.join([str(snapshots), os.environ.get("PYTHONPATH", "")])}
    if args.tracemalloc:
        env |= {"BENCH_MEMORY_SNAPSHOTS": str(snapshots), "BENCH_MEMORY_FRAMES": str(args.frames)}
    if args.census:
        env["BENCH_MEMORY_CENSUS"] = str(snapshots)
    return env


async def snapshot(pid: int, folder: Path) -> Path:
    """The server's Python heap now (tracemalloc), once written whole."""
    path = folder / f"{sum(name.endswith('.snap') for name in os.listdir(folder))}.snap"
    os.kill(pid, signal.SIGUSR1)
    for _ in range(600):
        await asyncio.sleep(0.5)
        if await asyncio.to_thread(path.exists):  # renamed into place once written
            return path
    raise RuntimeError("the server wrote no tracemalloc snapshot")


def _own_frame(traceback: Any) -> str:
    """The innermost frame of an allocation in the project's own code (router/, connectors/), else its
    innermost frame (a tracemalloc traceback lists its frames oldest first)."""
    frames = list(traceback)
    for frame in reversed(frames):
        if f"{os.sep}router{os.sep}" in frame.filename or f"{os.sep}connectors{os.sep}" in frame.filename:
            return f"{frame.filename}:{frame.lineno}"
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"


def traced_growth(first: Path, last: Path, opened: int, top: int = 15, frames: int = 1) -> None:
    """Where the Python heap grew, by line, per open conversation."""
    import tracemalloc  # noqa: PLC0415 - only for --tracemalloc

    before, after = tracemalloc.Snapshot.load(str(first)), tracemalloc.Snapshot.load(str(last))
    stats = after.compare_to(before, "lineno")
    total = sum(s.size_diff for s in stats)
    print(f"  tracemalloc: the Python heap grew {total / 1e6:.1f} MB, {total / opened:.0f} bytes per conversation;"
          " the lines that grew most:")
    for stat in stats[:top]:
        frame = stat.traceback[0]
        print(f"    {stat.size_diff / opened:7.0f} B/conv  {stat.count_diff / opened:5.2f} blocks/conv  "
              f"{frame.filename}:{frame.lineno}")
    if frames < 2:
        return
    grew: dict[str, list[int]] = {}
    for sign, snap in ((-1, before), (1, after)):
        for trace in snap.traces:
            row = grew.setdefault(_own_frame(trace.traceback), [0, 0])
            row[0] += sign * trace.size
            row[1] += sign
    print("  by the innermost line of router/ or connectors/ in each allocation's traceback:")
    for key, (size, count) in sorted(grew.items(), key=lambda kv: -kv[1][0])[:top * 2]:
        print(f"    {size / opened:7.0f} B/conv  {count / opened:5.2f} blocks/conv  {key}")


async def take_census(pid: int, folder: Path) -> dict[str, Any]:
    """The server's census now (bench/memory_census.py), once written whole."""
    path = folder / f"{sum(name.endswith('.census') for name in os.listdir(folder))}.census"
    os.kill(pid, signal.SIGUSR2)
    for _ in range(600):
        await asyncio.sleep(0.5)
        if await asyncio.to_thread(path.exists):
            found: dict[str, Any] = json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
            return found
    raise RuntimeError("the server wrote no census")


def census_growth(first: dict[str, Any], last: dict[str, Any], opened: int, top: int = 30) -> None:
    """Objects, tasks and heaps grown, per open conversation."""
    rows = []
    for key, (count, size) in last["types"].items():
        was = first["types"].get(key, [0, 0])
        rows.append((size - was[1], count - was[0], key))
    rows.sort(reverse=True)
    print(f"  census: objects the collector tracks, grown per conversation (getsizeof, shallow), top {top}:")
    for size, count, key in rows[:top]:
        print(f"    {size / opened:7.0f} B/conv  {count / opened:6.2f} objects/conv  {key}")
    print("  asyncio tasks, by coroutine (before -> after):")
    for name in sorted(set(first["tasks"]) | set(last["tasks"]),
                       key=lambda n: -last["tasks"].get(n, 0))[:12]:
        print(f"    {first['tasks'].get(name, 0):6d} -> {last['tasks'].get(name, 0):6d}  {name}")
    for heap in ("mallinfo", "pymalloc"):
        for key in last[heap]:
            was, now = first[heap].get(key, 0), last[heap][key]
            print(f"  {heap} {key:<32} {was / 1e6:8.1f} -> {now / 1e6:8.1f} MB  ({(now - was) / opened:7.0f} B/conv)"
                  if heap == "mallinfo" or "bytes" in key or key == "Total"
                  else f"  {heap} {key:<32} {was:8d} -> {now:8d}")
    if last.get("traced") is not None:
        print(f"  tracemalloc traced {first['traced'] / 1e6:.1f} -> {last['traced'] / 1e6:.1f} MB")


def report(label: str, opened: int, now: tuple[float, float, float], before: tuple[float, float, float]) -> None:
    server_rss, writer_rss, pss = now
    per = (pss - before[2]) * 1024 * 1024 / opened if opened else float("nan")
    print(f"{label:<28} server RSS {server_rss:6.1f} MB  writer RSS {writer_rss:6.1f} MB  "
          f"sum {server_rss + writer_rss:6.1f} MB  PSS {pss:6.1f} MB"
          + (f"  {per:7.0f} bytes per open conversation" if opened else ""), flush=True)


async def main(args: argparse.Namespace) -> None:  # noqa: PLR0912, PLR0915 - one run, told in order
    telegram = FakeTelegram(TG_TOKEN)
    await telegram.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            write_config(Path(tmp), port)
            if args.no_bot:
                (Path(tmp) / "bot.yaml").unlink()  # the rules' bot conversations then wait for people
            if args.cache_mb:
                config_path = Path(tmp) / "omnirouter.yaml"
                text = config_path.read_text(encoding="utf-8")
                config_path.write_text(text.replace("store:\n", f"store:\n  cache_mb: {args.cache_mb}\n", 1),
                                       encoding="utf-8")
            if args.store_writer:
                config_path = Path(tmp) / "omnirouter.yaml"
                text = config_path.read_text(encoding="utf-8")
                config_path.write_text(text.replace("store:\n", f"store:\n  writer: {args.store_writer}\n", 1),
                                       encoding="utf-8")
            if args.via == "telegram":
                with (Path(tmp) / "omnirouter.yaml").open("a", encoding="utf-8") as config:
                    # Telegram's own limit of 30 messages a second would leave most answers queued in the outbox
                    config.write(f"  telegram:\n    type: telegram\n    api_base: {telegram.base_url}\n"
                                 "    per_bot_per_second: 100000\n")
            snapshots = Path(tmp) / "snapshots"
            env = tracing(snapshots, args) if args.tracemalloc or args.census else {}
            given = dict(args.env)
            if "PYTHONPATH" in given and "PYTHONPATH" in env:  # the tracer's sitecustomize stays first
                given["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], given["PYTHONPATH"]])
            env |= given
            env |= {"OMNIROUTER_ADMIN_PASSWORD": PASSWORD, "OMNIROUTER_TELEGRAM_TOKEN": TG_TOKEN,
                   "OMNIROUTER_TELEGRAM_SECRET": TG_SECRET}
            cmd = [sys.executable, "-m", "router.cli", "--log-level", "WARNING", "run", "--config", tmp]
            if not args.cold and not args.no_bot:
                # as every start but the first: what the bot makes from its model is in its cache folder
                async with server(cmd, port, env):
                    await bot_ready(f"http://127.0.0.1:{port}")
            async with server(cmd, port, env) as pid:
                base = f"http://127.0.0.1:{port}"
                if not args.no_bot:
                    await bot_ready(base)
                await asyncio.sleep(SETTLE)
                before = reading(pid)
                print(f"memory: {args.conversations} open conversations via {args.via}, in {args.steps} steps; "
                      f"{os.cpu_count()} CPUs", flush=True)
                report("before any", 0, before, before)
                first = await snapshot(pid, snapshots) if args.tracemalloc else None
                first_census = await take_census(pid, snapshots) if args.census else None
                maps = {each: mappings(each) for each in [pid, *_descendants(pid)]}
                step = args.conversations // args.steps
                async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
                    visitors = Visitors(f"ws://127.0.0.1:{port}/chat/ws", args.no_deflate)
                    opened = 0
                    for k in range(args.steps):
                        count = step if k < args.steps - 1 else args.conversations - opened
                        if args.via == "chat":
                            await visitors.open(http, count)
                            await visitors.settled()
                        else:
                            await by_telegram(base, opened, count)
                            await answered(telegram, opened + count)
                        opened += count
                        gc.collect()  # the generator's garbage is not the server's, but keep this side calm
                        await asyncio.sleep(SETTLE)
                        stored = f" ({visitors.acked} acked)" if args.via == "chat" else ""
                        report(f"{opened} open{stored}", opened, reading(pid), before)
                        if k == 0 and args.steps > 1:
                            # what the first step's one-time loads leave out: the steps after it
                            one_step = (opened, await snapshot(pid, snapshots) if args.tracemalloc else None,
                                        await take_census(pid, snapshots) if args.census else None)
                    # read while the conversations are open, told after the visitors hang up (the telling
                    # takes long: the generator's loop would miss the server's pings meanwhile)
                    last = await snapshot(pid, snapshots) if first is not None else None
                    last_census = await take_census(pid, snapshots) if first_census is not None else None
                    if args.maps:
                        for each, was in maps.items():
                            print(f"  the mappings of process {each} that grew most:")
                            grown(was, mappings(each))
                    if args.via == "chat":
                        print(f"acks {visitors.acked}, answered {len(visitors.answered)}, "
                              f"refused as busy and sent again {visitors.busy}, errors {visitors.errors}", flush=True)
                        await visitors.close()
                if first is not None and last is not None:
                    print("from before any:")
                    traced_growth(first, last, opened, frames=args.frames)
                    if args.steps > 1 and one_step[1] is not None:
                        print("from the first step's end (its one-time loads left out):")
                        traced_growth(one_step[1], last, opened - one_step[0], frames=args.frames)
                if first_census is not None and last_census is not None:
                    print("from before any:")
                    census_growth(first_census, last_census, opened)
                    if args.steps > 1 and one_step[2] is not None:
                        print("from the first step's end (its one-time loads left out):")
                        census_growth(one_step[2], last_census, opened - one_step[0])
    finally:
        await telegram.close()


def _env_pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is no NAME=VALUE")
    return name, value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--via", choices=("chat", "telegram"), default="chat")
    parser.add_argument("--no-bot", action="store_true", help="without bot.yaml (and its model)")
    parser.add_argument("--no-deflate", action="store_true",
                        help="visitors that do not offer permessage-deflate, as browsers do")
    parser.add_argument("--cold", action="store_true",
                        help="the server's first start: its cache folder empty (by default a start fills it first)")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="where the server's Python heap grew per conversation (slows the server)")
    parser.add_argument("--frames", type=int, default=1,
                        help="--tracemalloc: frames kept per allocation; over 1, the growth is also told by the "
                             "innermost frame in the project's own code")
    parser.add_argument("--census", action="store_true",
                        help="objects alive in the server by type, asyncio tasks, the C heap and pymalloc's arenas, "
                             "compared per conversation")
    parser.add_argument("--store-writer", choices=("process", "thread"),
                        help="store.writer (default: the shipped config's)")
    parser.add_argument("--cache-mb", type=int, help="store.cache_mb (default: the shipped config's)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", type=_env_pair,
                        help="in the server's environment (e.g. MALLOC_ARENA_MAX=2); may be repeated")
    parser.add_argument("--maps", action="store_true", help="the memory mappings that grew most, per process")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
