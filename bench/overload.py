"""Overload: the site chat driven far past what the service can deliver.

``python -m bench.load --overload`` first finds the saturation rate (the
ceiling phase of ``bench.load``: ``--max-rate`` offered for
``--max-duration`` s), then offers ``--overload-factor`` (5) times it for
``--overload-duration`` (20) s, and prints:

- the lag from storing a message to an agent's websocket receiving it (the
  message's ``created_at``, the moment the pipeline took it, against the
  generator's clock, the same machine's): p50, p99, max;
- how long customers waited for their acks (the pushback: acks slow down
  while the pipeline is over its bound; without one they come at once and
  the lag grows instead);
- messages acknowledged against delivered to an agent: an acknowledged
  message never delivered is lost.

Every frame the generator sent is left to the service until it has
acknowledged or refused each one, or ``DRAIN_PATIENCE`` s pass with
nothing new acknowledged: a message not acknowledged is the sender's to
send again, never lost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import aiohttp

from bench import load

# nothing acknowledged for this long: the service is done with what it was sent
DRAIN_PATIENCE = 30.0
_TOKEN = re.compile(r'"text": ?"(over \d+)"')
_CREATED = re.compile(r'"created_at": ?"([^"]+)"')
# either JSON spelling of a site-chat frame: the standard library's (a space after each colon) or orjson's
_ACK, _ERROR = ('{"type": "ack"', '{"type":"ack"'), ('{"type": "error"', '{"type":"error"')
_GAUGE = re.compile(r"^omnirouter_pipeline_lag_seconds\{[^}]*\} (\S+)$", re.MULTILINE)
_IN_FLIGHT = re.compile(r"^omnirouter_pipeline_in_flight\{[^}]*\} (\S+)$", re.MULTILINE)
_WAITING = re.compile(r"^omnirouter_admission_waiting\{[^}]*\} (\S+)$", re.MULTILINE)
# seconds between two reads of the service's own lag gauge (GET /metrics)
GAUGE_EVERY = 0.5


@dataclass
class Overload:
    sent_at: dict[str, float] = field(default_factory=dict)
    ack_wait: dict[str, float] = field(default_factory=dict)
    lags: dict[str, float] = field(default_factory=dict)
    refused: int = 0
    last_ack_at: float = 0.0
    # agent sockets the service closed (too slow: the console would reconnect and reload)
    cut: int = 0
    # the service's own gauge (omnirouter_pipeline_lag_seconds) as read during the run; empty: it has none
    gauge: list[float] = field(default_factory=list)
    # (seconds into the run, lag, in flight, waiting) when the gauge read its highest
    worst: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    def acked(self, token: str) -> None:
        started = self.sent_at.get(token)
        if started is not None and token not in self.ack_wait:
            self.last_ack_at = time.perf_counter()
            self.ack_wait[token] = self.last_ack_at - started

    def delivered(self, token: str, created_at: str) -> None:
        if token in self.sent_at and token not in self.lags:
            self.lags[token] = time.time() - datetime.fromisoformat(created_at).timestamp()


async def _agent(ws: aiohttp.ClientWebSocketResponse, run: Overload) -> None:
    async for msg in ws:
        if msg.type is not aiohttp.WSMsgType.TEXT:
            break
        if (msg.data.startswith(load.CREATED) and (token := _TOKEN.search(msg.data))
                and (created := _CREATED.search(msg.data))):
            run.delivered(token.group(1), created.group(1))
    run.cut += 1  # the bench closes its sockets only after cancelling this task


async def _gauge(base: str, run: Overload) -> None:
    started = time.perf_counter()
    async with aiohttp.ClientSession() as http:
        while True:
            async with http.get(f"{base}/metrics") as resp:
                text = await resp.text()
            if (found := _GAUGE.search(text)) is None:
                return  # a service without the gauge (the code before it)
            lag = float(found.group(1))
            if lag >= max(run.gauge, default=0.0):
                counts = [float(m.group(1)) if (m := p.search(text)) else 0.0 for p in (_IN_FLIGHT, _WAITING)]
                run.worst = (time.perf_counter() - started, lag, counts[0], counts[1])
            run.gauge.append(lag)
            await asyncio.sleep(GAUGE_EVERY)


async def _customer(ws: aiohttp.ClientWebSocketResponse, run: Overload) -> None:
    async for msg in ws:
        if msg.type is not aiohttp.WSMsgType.TEXT:
            break
        if msg.data.startswith(_ACK):
            run.acked(msg.json()["client_id"])
        elif msg.data.startswith(_ERROR):
            run.refused += 1


async def _drive(customers: list[aiohttp.ClientWebSocketResponse], run: Overload, rate: float,
                 duration: float) -> float:
    """Offer ``rate`` msg/s for ``duration`` s; the rate actually sent."""
    seq, total = 0, round(rate * duration)
    started = time.perf_counter()
    while seq < total and time.perf_counter() - started < duration:
        due = min(total, int(rate * (time.perf_counter() - started)))
        while seq < due:
            token = f"over {seq}"
            run.sent_at[token] = time.perf_counter()
            await customers[seq % len(customers)].send_str(
                f'{{"type": "message", "text": "{token}", "client_id": "{token}"}}')
            seq += 1
        await asyncio.sleep(0.002)
    return seq / (time.perf_counter() - started)


async def _settle(run: Overload) -> None:
    """Until nothing new is acknowledged for ``DRAIN_PATIENCE`` s, then until
    every acknowledged message reached an agent (or that long again)."""
    run.last_ack_at = time.perf_counter()
    while time.perf_counter() - run.last_ack_at < DRAIN_PATIENCE and len(run.ack_wait) < len(run.sent_at):  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    waited = time.perf_counter()
    while time.perf_counter() - waited < DRAIN_PATIENCE and not set(run.ack_wait) <= set(run.lags):  # noqa: ASYNC110
        await asyncio.sleep(0.2)


async def overload(args: argparse.Namespace, saturation: float, base: str, ws_url: str) -> dict[str, float]:
    run = Overload()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        customers = await load.open_customers(http, ws_url, args.customers, echo=False)
        sessions, agents = await load.open_agents(base, args.agents)
        readers = [asyncio.create_task(_customer(ws, run)) for ws in customers]
        readers += [asyncio.create_task(_agent(ws, run)) for ws in agents]
        readers.append(asyncio.create_task(_gauge(base, run)))
        offered = saturation * args.overload_factor
        started = time.perf_counter()
        sent_rate = await _drive(customers, run, offered, args.overload_duration)
        await _settle(run)
        elapsed = time.perf_counter() - started
        for task in readers:
            task.cancel()
        for ws in customers + agents:
            await ws.close()
        for session in sessions:
            await session.close()
    acked = set(run.ack_wait)
    lost = acked - set(run.lags)
    lags, waits = list(run.lags.values()), list(run.ack_wait.values())
    return {
        "offered": offered, "sent_rate": sent_rate, "sent": len(run.sent_at), "acked": len(acked),
        "delivered": len(acked & set(run.lags)), "lost": len(lost), "refused": run.refused, "elapsed": elapsed,
        "lag_p50": load.percentile(lags, 0.5), "lag_p99": load.percentile(lags, 0.99), "lag_max": max(lags, default=0),
        "ack_p50": load.percentile(waits, 0.5), "ack_p99": load.percentile(waits, 0.99),
        "ack_max": max(waits, default=0), "cut": run.cut,
        "gauge_max": max(run.gauge) if run.gauge else float("nan"),
        "gauge_p99": load.percentile(run.gauge, 0.99), "worst_at": run.worst[0], "worst_in_flight": run.worst[2],
        "worst_waiting": run.worst[3],
    }


def _config(folder: Path, port: int, args: argparse.Namespace) -> None:
    load.write_config(folder, port, args.store_writer)
    if args.lag_bound is not None:  # only given to a service that knows the key (server.lag_bound)
        text = (folder / "omnirouter.yaml").read_text(encoding="utf-8")
        text = text.replace("server:\n", f"server:\n  lag_bound: {args.lag_bound}\n", 1)
        (folder / "omnirouter.yaml").write_text(text, encoding="utf-8")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = load.free_port()
        _config(Path(tmp), port, args)
        cmd = [sys.executable, "-m", "router.cli", "--log-level", "WARNING", "run", "--config", tmp]
        async with load.server(cmd, port, {"OMNIROUTER_ADMIN_PASSWORD": load.PASSWORD}) as pid:
            base, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/chat/ws"
            saturation = args.saturation
            if saturation is None:
                ceiling = argparse.Namespace(**{**vars(args), "rate": args.max_rate, "duration": args.max_duration})
                measured = await load.measure(base, ws_url, ceiling, echo=False)
                saturation = measured["rate"]
                print(f"saturation: {saturation:.0f} msg/s sustained with {args.max_rate} offered", flush=True)
            r = await overload(args, saturation, base, ws_url)
            rss = load.peak_rss_mb(pid)
    bound = f"server.lag_bound {args.lag_bound} s" if args.lag_bound is not None else "the service's default bound"
    print(f"overload ({bound}): {r['offered']:.0f} msg/s offered ({args.overload_factor:g}x saturation) for "
          f"{args.overload_duration:g} s, {r['sent_rate']:.0f} msg/s sent by the generator", flush=True)
    print(f"  lag store -> agent (the generator's clock, its own delay included): p50 {r['lag_p50'] * 1000:.0f} ms, "
          f"p99 {r['lag_p99'] * 1000:.0f} ms, max {r['lag_max'] * 1000:.0f} ms")
    print(f"  the service's lag gauge, read every {GAUGE_EVERY:g} s: p99 {r['gauge_p99'] * 1000:.0f} ms, "
          f"max {r['gauge_max'] * 1000:.0f} ms (nan: the service has none); at its highest, "
          f"{r['worst_at']:.0f} s into the run, {r['worst_in_flight']:.0f} in flight and {r['worst_waiting']:.0f} "
          "waiting")
    print(f"  customer's wait for the ack (pushback): p50 {r['ack_p50']:.2f} s, p99 {r['ack_p99']:.2f} s, "
          f"max {r['ack_max']:.2f} s")
    print(f"  sent {r['sent']:.0f}, acknowledged {r['acked']:.0f}, of them delivered to an agent "
          f"{r['delivered']:.0f}, not delivered {r['lost']:.0f}; agent sockets closed by the service "
          f"{r['cut']:.0f}; refusal frames {r['refused']:.0f}; "
          f"{r['elapsed']:.0f} s until settled; server peak RSS {rss:.0f} MB")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overload", action="store_true",
                        help="drive --overload-factor x saturation for --overload-duration s and print the lag "
                             "from store to agent, acks against deliveries (bench/overload.py)")
    parser.add_argument("--overload-factor", type=float, default=5.0)
    parser.add_argument("--overload-duration", type=float, default=20.0)
    parser.add_argument("--saturation", type=float, default=None,
                        help="msg/s taken as saturation instead of measuring it first")
    parser.add_argument("--lag-bound", type=float, default=None, help="server.lag_bound for the service (s)")


def run(args: argparse.Namespace) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args))
