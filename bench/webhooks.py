"""Webhook ingest per connector: Telegram updates, VK Callback API events and
Twilio WhatsApp/SMS webhooks (form-encoded, X-Twilio-Signature signed)
posted to a real ``omnirouter run`` over loopback, through the whole pipeline
(signature or secret check, parsing, dedupe, durable store, identity,
conversation, routing) until the platform would be answered.

Prints messages/s and p50/p95/p99 of the time from a POST to its answer,
which is only sent once the message is stored. The platforms' APIs (for
``setWebhook`` and ``users.get``) are the local fakes from ``tests/fakes``.

In the same run, the same bodies go to a bare aiohttp handler
(``bench.webhook_reference``: parses the JSON or the form and answers 200,
nothing stored) in a process of its own: each connector's msg/s is printed
as a share of that reference's (target: >= 50 %). ``--rounds 2`` alternates
the two servers twice and keeps each one's best, against the VM's drift.

    python -m bench.webhooks --messages 5000 --concurrency 64 --customers 1000
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.load import PASSWORD, cpu_seconds, free_port, peak_rss_mb, percentile
from bench.profile import recording
from bench.serve import server
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import FakeTwilio, signature
from tests.fakes.vk_api import GROUP_ID, FakeVk

TG_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
TG_SECRET = "bench-telegram-secret"
VK_TOKEN = "vk1.a.bench-community-token"
VK_SECRET = "bench-vk-secret"
TW_ACCOUNT = "AC" + "0123456789abcdef" * 2
TW_TOKEN = "bench0twilio0auth0token000000000"
TW_NUMBER = "+14155238886"
DATE = 1732460000

# (body, headers): a JSON body, or form fields when a signature header says Twilio sent it
Payload = tuple[dict[str, Any], dict[str, str]]


def telegram_update(i: int, customers: int) -> Payload:
    user_id = 10_000_000 + i % customers
    chat = {"id": user_id, "first_name": "Ivan", "type": "private"}
    message = {"message_id": i + 1, "from": {"id": user_id, "is_bot": False, "first_name": "Ivan"},
               "chat": chat, "date": DATE, "text": f"where is my order {i}?"}
    return {"update_id": 900_000_000 + i, "message": message}, {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}


def vk_event(i: int, customers: int) -> Payload:
    user_id = 100_000_000 + i % customers
    message = {"date": DATE, "from_id": user_id, "id": i + 1, "out": 0, "attachments": [],
               "conversation_message_id": i + 1, "fwd_messages": [], "important": False, "is_hidden": False,
               "peer_id": user_id, "random_id": 0, "text": f"где мой заказ {i}?"}
    body = {"group_id": GROUP_ID, "type": "message_new", "event_id": f"{i:040x}", "v": "5.199",
            "object": {"message": message, "client_info": {"keyboard": True, "lang_id": 0}}, "secret": VK_SECRET}
    return body, {}


def twilio_message(public_base: str, connector: str) -> Callable[[int, int], Payload]:
    """WhatsApp messages as Twilio posts them, signed for the public URL."""
    url = f"{public_base}/webhooks/twilio/{connector}"

    def make(i: int, customers: int) -> Payload:
        message_sid = f"SM{i:032x}"
        sender = f"+7912{i % customers:07d}"
        form = {"SmsMessageSid": message_sid, "NumMedia": "0", "ProfileName": "Ivan", "MessageType": "text",
                "SmsSid": message_sid, "WaId": sender[1:], "SmsStatus": "received",
                "Body": f"где мой заказ {i}?", "To": f"whatsapp:{TW_NUMBER}", "NumSegments": "1",
                "ReferralNumMedia": "0", "MessageSid": message_sid, "AccountSid": TW_ACCOUNT,
                "From": f"whatsapp:{sender}", "ApiVersion": "2010-04-01"}
        return form, {"X-Twilio-Signature": signature(TW_TOKEN, url, form)}

    return make


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0
    # CPU seconds of the server with its writer process, and of the server's own process, over the run
    cpu: float = 0.0
    own_cpu: float = 0.0


async def fire(url: str, make: Callable[[int, int], Payload], args: argparse.Namespace, first: int) -> Result:
    """``args.messages`` POSTs from ``args.concurrency`` clients, each waiting
    for its answer before the next (the platforms deliver so, per bot)."""
    result = Result()
    counter = itertools.count(first)
    end = first + args.messages

    async def client(http: aiohttp.ClientSession) -> None:
        while (i := next(counter)) < end:
            body, headers = make(i, args.customers)
            started = time.perf_counter()
            form = "X-Twilio-Signature" in headers
            async with http.post(url, headers=headers, data=body if form else None,
                                 json=None if form else body) as resp:
                await resp.read()
                if resp.status != 200:
                    result.errors += 1
            result.latencies.append(time.perf_counter() - started)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(args.concurrency)))
        result.elapsed = time.perf_counter() - started
    return result


def write_config(folder: Path, port: int, telegram_api: str, vk_api: str, twilio_api: str) -> None:
    (folder / "omnirouter.yaml").write_text(
        f"server:\n  port: {port}\n  public_url: http://127.0.0.1:{port}\n"
        f"store:\n  path: {folder / 'bench.db'}\n"
        "connectors:\n"
        "  webchat:\n    type: webchat\n"
        f"  telegram:\n    type: telegram\n    api_base: {telegram_api}\n"
        f"  vk:\n    type: vk\n    api_base: {vk_api}\n    group_id: {GROUP_ID}\n    confirmation_code: bench\n"
        f"  whatsapp:\n    type: twilio\n    flavour: whatsapp\n    from_number: '{TW_NUMBER}'\n"
        f"    api_base: {twilio_api}\n",
        encoding="utf-8",
    )


def own_cpu_seconds(pid: int) -> float:
    """User and system CPU so far of the process alone (not its writer)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rate(r: Result) -> float:
    return len(r.latencies) / r.elapsed if r.elapsed else 0.0


def report(name: str, r: Result, rss: float | None, reference: Result | None = None) -> None:
    done = len(r.latencies)
    share = f"  {100 * rate(r) / rate(reference):5.1f} % of the bare handler's msg/s" if reference else ""
    print(
        f"{name:<16} {done:>6} webhooks {rate(r):>6.0f} msg/s  CPU {r.cpu / done * 1e6:4.0f} µs/msg "
        f"(event loop's process {r.own_cpu / done * 1e6:4.0f})  "
        f"latency p50 {percentile(r.latencies, 0.50) * 1000:6.1f} ms  "
        f"p95 {percentile(r.latencies, 0.95) * 1000:6.1f} ms  p99 {percentile(r.latencies, 0.99) * 1000:6.1f} ms  "
        f"errors {r.errors}" + (f"  peak RSS {rss:.0f} MB" if rss is not None else "") + share,
        flush=True,
    )


def routes(base: str) -> list[tuple[str, str, Callable[[int, int], Payload]]]:
    return [("telegram", "/webhooks/telegram/telegram", telegram_update),
            ("vk", "/webhooks/vk/vk", vk_event),
            ("twilio", "/webhooks/twilio/whatsapp", twilio_message(base, "whatsapp"))]


async def run_connectors(base: str, pid: int, args: argparse.Namespace, first: int) -> dict[str, Result]:
    results = {}
    for name, path, make in routes(base):
        warm = argparse.Namespace(**{**vars(args), "messages": args.warmup})
        await fire(base + path, make, warm, first=first)
        cpu, own = cpu_seconds(pid), own_cpu_seconds(pid)
        results[name] = await fire(base + path, make, args, first=first + args.warmup)
        results[name].cpu, results[name].own_cpu = cpu_seconds(pid) - cpu, own_cpu_seconds(pid) - own
    return results


async def run_reference(args: argparse.Namespace) -> tuple[dict[str, Result], float]:
    port = free_port()
    async with server([sys.executable, "-m", "bench.webhook_reference", str(port)], port) as pid:
        # the public URL the Twilio bodies are signed for is omnirouter's: the reference checks no signature
        return await run_connectors(f"http://127.0.0.1:{port}", pid, args, first=0), peak_rss_mb(pid)


async def main(args: argparse.Namespace) -> None:
    print(f"webhooks: {args.messages} per connector from {args.concurrency} concurrent senders, "
          f"{args.customers} customers, after {args.warmup} warm-up posts; {os.cpu_count()} CPUs", flush=True)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    telegram, vk, twilio = FakeTelegram(TG_TOKEN), FakeVk(VK_TOKEN), FakeTwilio(TW_ACCOUNT, TW_TOKEN)
    await telegram.start()
    await vk.start()
    await twilio.start()
    env = {"OMNIROUTER_ADMIN_PASSWORD": PASSWORD, "OMNIROUTER_TELEGRAM_TOKEN": TG_TOKEN,
           "OMNIROUTER_TELEGRAM_SECRET": TG_SECRET, "OMNIROUTER_VK_TOKEN": VK_TOKEN, "OMNIROUTER_VK_SECRET": VK_SECRET,
           "OMNIROUTER_TWILIO_ACCOUNT_SID": TW_ACCOUNT, "OMNIROUTER_TWILIO_AUTH_TOKEN": TW_TOKEN}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            write_config(Path(tmp), port, telegram.base_url, vk.base_url, twilio.base_url)
            cmd = [sys.executable, "-m", "router.cli", "--log-level", "WARNING", "run", "--config", tmp]
            best: dict[str, Result] = {}
            bare: dict[str, Result] = {}
            first = 0
            async with server(cmd, port, env) as pid:
                base = f"http://127.0.0.1:{port}"
                for round_ in range(args.rounds):
                    # every round's ids are new: a retried id would be a duplicate, answered without a store
                    out = args.profile / f"omnirouter-webhooks-{round_ + 1}.txt" if args.profile else None
                    async with recording(pid, out):
                        ran = await run_connectors(base, pid, args, first)
                    for name, r in ran.items():
                        best[name] = max(best.get(name, r), r, key=rate)
                    first += len(routes(base)) * (args.messages + args.warmup)
                    for name, r in (await run_reference(args))[0].items():
                        bare[name] = max(bare.get(name, r), r, key=rate)
                rss = peak_rss_mb(pid)
            for name, result in best.items():
                report(f"{name} (bare)", bare[name], None)
                report(name, result, rss, bare[name])
    finally:
        await telegram.close()
        await vk.close()
        await twilio.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000, help="webhook posts per connector")
    parser.add_argument("--concurrency", type=int, default=64, help="posts in flight at once")
    parser.add_argument("--customers", type=int, default=1000, help="distinct senders")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=1, help="omnirouter and the bare handler in turn, best kept")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="record omnirouter's rounds with py-spy into DIR (bench.profile reads them)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
