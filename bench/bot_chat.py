"""The bot through the site chat, end to end: a customer's send to the bot's
reply on their websocket, with the shipped config (rules.yaml sends a chat
to the bot, bot.yaml's default hybrid matcher), on a real ``omnirouter run``
over loopback; and meanwhile the acks of other customers, whose messages
must not wait while the bot is embedding a question.

Each question comes from a new visitor (hello, then one message; the
question opens a conversation, routed to the bot, as a real one does), at
``--rate`` questions/s, from the held-out sets of bench.bot (each text once
per server: the matcher's cache of embeddings never helps). ``--others``
customers, their conversations already with people, send ``--other-rate``
messages/s all along: their ack latency is printed for a window without
questions and for the window while the bot answers.

Each ``--busy`` level runs on a server of its own: 0 is a quiet machine,
0.5 keeps every core half busy (a process per core that spins 10 ms and
sleeps 10 ms) besides the server, the load generator and the bench.

    python -m bench.bot_chat [--questions 300] [--rate 20] [--busy 0 0.5] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench.bot import BLIND, DEV, FRESH, ROOT, TUNING
from bench.load import PASSWORD, cpu_seconds, free_port, peak_rss_mb, percentile, pss_mb
from bench.profile import recording
from bench.serve import server

# rules.yaml sends a chat message of at most this many characters to the bot
BOT_TEXT_LIMIT = 200
REPLY_PATIENCE = 30.0
OPENING_PATIENCE = 60.0  # seconds for the others' opening messages to be acked before the windows


def questions() -> list[str]:
    """Every held-out question the rules send to the bot, each once, shuffled (a fixed seed)."""
    texts: list[str] = []
    for path in (TUNING, DEV, BLIND, FRESH):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        texts += [t for group in data["in_scope"].values() for t in group] + list(data["out_of_scope"])
    unique = [t for t in dict.fromkeys(texts) if 0 < len(t) <= BOT_TEXT_LIMIT]
    random.Random(24).shuffle(unique)
    return unique


def write_config(folder: Path, port: int) -> None:
    for path in (ROOT / "config").glob("*.yaml"):
        if path.name != "omnirouter.yaml":
            shutil.copy(path, folder / path.name)
    (folder / "omnirouter.yaml").write_text(
        f"server:\n  port: {port}\nstore:\n  path: {folder / 'bench.db'}\n"
        "console:\n  login_attempts: 1000\nconnectors:\n  webchat:\n    type: webchat\n    rate_limit: 1000/second\n"
        "    new_visitors_per_address: 100000/second\n    rate_limit_per_address: 100000/second\n"
        "    sockets_per_address: 100000\n    frames_per_socket: 100000/second\n",
        encoding="utf-8",
    )


def _spin(share: float, stop: multiprocessing.synchronize.Event) -> None:
    while not stop.is_set():
        until = time.perf_counter() + 0.010 * share * 2
        while time.perf_counter() < until:
            pass
        time.sleep(0.010 * (1 - share) * 2)


@contextlib.contextmanager
def busy_cores(share: float) -> Iterator[None]:
    """One process per core, each busy ``share`` of the time."""
    if share <= 0:
        yield
        return
    stop = multiprocessing.Event()
    workers = [multiprocessing.Process(target=_spin, args=(share, stop), daemon=True)
               for _ in range(os.cpu_count() or 1)]
    for worker in workers:
        worker.start()
    try:
        yield
    finally:
        stop.set()
        for worker in workers:
            worker.join(5)


class Cpu:
    """The server's CPU (its writer's too) in the quiet window and while the
    questions are asked: what a question costs beyond the others' traffic,
    the figure least disturbed by the machine's other work."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.marks = [(time.perf_counter(), cpu_seconds(pid))]

    def mark(self) -> None:
        self.marks.append((time.perf_counter(), cpu_seconds(self.pid)))

    def per_question(self, questions: int) -> float:
        (t0, c0), (t1, c1), (t2, c2) = self.marks
        others = (c1 - c0) / (t1 - t0)  # CPU a second for the others alone
        return ((c2 - c1) - others * (t2 - t1)) / max(questions, 1)


@dataclass
class Acks:
    sent_at: dict[str, float] = field(default_factory=dict)
    # by window: "quiet" (no question in flight) and "bot" (while the bot answers)
    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {"opening": [], "quiet": [], "bot": [], "after": []})
    window: str = "quiet"
    errors: int = 0
    openings: int = 0  # opening messages not acked yet
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    resends: set[asyncio.Task[None]] = field(default_factory=set)  # openings refused as busy, sent again


async def other_reader(ws: aiohttp.ClientWebSocketResponse, acks: Acks) -> None:
    async for msg in ws:
        if msg.type is not aiohttp.WSMsgType.TEXT:
            break
        frame = json.loads(msg.data)
        if frame["type"] == "ack" and (started := acks.sent_at.pop(frame["client_id"], None)) is not None:
            window, _, _ = frame["client_id"].partition(":")
            acks.latencies[window].append(time.perf_counter() - started)
            if window == "opening":
                acks.openings -= 1
                if not acks.openings:
                    acks.opened.set()
        elif frame["type"] == "error" and frame.get("code") == "busy" \
                and str(frame.get("client_id", "")).startswith("opening:"):
            # as the widget does: the same opening again once the server has room (its socket's next
            # messages are refused until it is taken)
            acks.resends.add(asyncio.create_task(_send_again(ws, frame)))
        elif frame["type"] == "error":
            acks.errors += 1


async def _send_again(ws: aiohttp.ClientWebSocketResponse, frame: dict[str, Any]) -> None:
    await asyncio.sleep(float(frame.get("retry_after", 1)))
    i = str(frame["client_id"]).partition(":")[2]
    await ws.send_json({"type": "message", "text": f"zq{i} xv{i}", "client_id": frame["client_id"]})


async def hello(http: aiohttp.ClientSession, url: str, name: str) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(url, max_msg_size=0)
    await ws.send_json({"type": "hello", "name": name})
    welcome = await ws.receive_json()
    assert welcome["type"] == "welcome", welcome
    return ws


@contextlib.asynccontextmanager
async def others(http: aiohttp.ClientSession, url: str, args: argparse.Namespace) -> AsyncIterator[Acks]:
    """``args.others`` customers sending ``args.other_rate`` messages/s while the block runs."""
    acks = Acks()
    sockets = [await hello(http, url, f"Other customer {i}") for i in range(args.others)]
    readers = [asyncio.create_task(other_reader(ws, acks)) for ws in sockets]

    async def send() -> None:
        seq, started = 0, time.perf_counter()
        while sockets:
            due = int(args.other_rate * (time.perf_counter() - started))
            while seq < due:
                token = f"{acks.window}:{seq}"
                acks.sent_at[token] = time.perf_counter()
                await sockets[seq % len(sockets)].send_json({"type": "message", "text": f"zq{seq}",
                                                             "client_id": token})
                seq += 1
            await asyncio.sleep(0.005)

    sender: asyncio.Task[None] | None = None
    try:
        # their first messages open their conversations (the bot hands these words to people): acked before
        # the windows, or the first messages of the quiet one would wait behind them
        acks.openings = len(sockets)
        for i, ws in enumerate(sockets):
            acks.sent_at[f"opening:{i}"] = time.perf_counter()
            await ws.send_json({"type": "message", "text": f"zq{i} xv{i}", "client_id": f"opening:{i}"})
        if acks.openings:
            try:
                await asyncio.wait_for(acks.opened.wait(), OPENING_PATIENCE)
            except TimeoutError:
                print(f"  warning: {acks.openings} of the others' openings not acked after {OPENING_PATIENCE:.0f} s;"
                      " the quiet window may wait behind them", flush=True)
        sender = asyncio.create_task(send())
        yield acks
    finally:
        if sender is not None:
            sender.cancel()
        for task in (*acks.resends, *readers):
            task.cancel()
        for ws in sockets:
            await ws.close()


async def ask(http: aiohttp.ClientSession, url: str, text: str, n: int) -> float | None:
    """A new visitor's question: the time from its send to the first answer on its socket, None if none came."""
    ws = await hello(http, url, f"Asking customer {n}")
    try:
        started = time.perf_counter()
        await ws.send_json({"type": "message", "text": text, "client_id": f"q{n}"})
        deadline = started + REPLY_PATIENCE
        while (left := deadline - time.perf_counter()) > 0:
            msg = await ws.receive(timeout=left)
            if msg.type is not aiohttp.WSMsgType.TEXT:
                return None
            frame = json.loads(msg.data)
            if frame["type"] == "message" and frame["author"] != "customer":
                return time.perf_counter() - started
        return None
    except TimeoutError:
        return None
    finally:
        await ws.close()


async def bot_ready(base: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(1200):
            async with http.get(f"{base}/healthz") as r:
                if (await r.json()).get("bot") == "ready":
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError("the bot did not get ready in 120 s")


async def phase(busy: float, texts: list[str], args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        write_config(Path(tmp), port)
        cmd = [sys.executable, "-m", "router.cli", "--log-level", "WARNING", "run", "--config", tmp]
        async with server(cmd, port, {"OMNIROUTER_ADMIN_PASSWORD": PASSWORD}) as pid:
            base = f"http://127.0.0.1:{port}"
            url = f"ws://127.0.0.1:{port}/chat/ws"
            await bot_ready(base)
            profile = None if args.profile is None else args.profile / f"bot-chat-busy{busy:g}.txt"
            if args.profile is not None:
                args.profile.mkdir(parents=True, exist_ok=True)
            with busy_cores(busy):
                async with (recording(pid, profile),
                            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http,
                            others(http, url, args) as acks):
                    print(f"  server {pid} ready: others alone for {args.window:g} s, then the questions", flush=True)
                    cpu = Cpu(pid)
                    await asyncio.sleep(args.window)  # the quiet window: other customers only
                    cpu.mark()
                    acks.window = "bot"
                    answers: list[float | None] = []

                    async def one(n: int, text: str) -> None:
                        answers.append(await ask(http, url, text, n))

                    tasks = []
                    started = time.perf_counter()
                    for n, text in enumerate(texts):
                        await asyncio.sleep(max(0.0, started + n / args.rate - time.perf_counter()))
                        tasks.append(asyncio.create_task(one(n, text)))
                    await asyncio.gather(*tasks)
                    cpu.mark()
                    acks.window = "after"
            rss, pss = peak_rss_mb(pid), pss_mb(pid)
    got = [a for a in answers if a is not None]
    print(f"busy {busy:.0%} of each core: {len(texts)} questions at {args.rate:g}/s, {len(got)} answered "
          f"(server peak RSS {rss:.0f} MB, PSS with its writer {pss:.0f} MB)")
    print(f"  send -> bot's reply    p50 {percentile(got, 0.5) * 1000:6.1f} ms  "
          f"p95 {percentile(got, 0.95) * 1000:6.1f} ms  p99 {percentile(got, 0.99) * 1000:6.1f} ms  "
          f"max {max(got, default=float('nan')) * 1000:6.1f} ms")
    print(f"  server CPU (with its writer) per question, beyond the others' traffic: "
          f"{cpu.per_question(len(texts)) * 1000:.1f} ms")
    for window, label in (("quiet", "no question in flight"), ("bot", "while the bot answers")):
        lat = acks.latencies[window]
        print(f"  others' acks, {label:22} {len(lat):>5}  p50 {percentile(lat, 0.5) * 1000:6.1f} ms  "
              f"p99 {percentile(lat, 0.99) * 1000:6.1f} ms  max {max(lat, default=float('nan')) * 1000:6.1f} ms")
    if acks.errors:
        print(f"  others' errors: {acks.errors}")


async def main(args: argparse.Namespace) -> None:
    texts = questions()
    print(f"bot through the site chat: {os.cpu_count()} CPUs, {len(texts)} distinct questions; "
          f"{args.others} other customers at {args.other_rate:g} msg/s", flush=True)
    for k, busy in enumerate(args.busy):
        # each level its own questions where there are enough (none of them embedded before on its server)
        chosen = texts[k * args.questions:(k + 1) * args.questions] or texts[:args.questions]
        await phase(busy, chosen, args)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=300, help="questions per busy level")
    parser.add_argument("--rate", type=float, default=20.0, help="questions a second")
    parser.add_argument("--others", type=int, default=100, help="other customers, with people")
    parser.add_argument("--other-rate", type=float, default=100.0, help="their messages a second, in all")
    parser.add_argument("--window", type=float, default=5.0, help="seconds of others alone before the questions")
    parser.add_argument("--busy", type=float, nargs="+", default=[0.0, 0.5], help="share of each core kept busy")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="record the server with py-spy into DIR (python -m bench.profile prints the top frames)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
