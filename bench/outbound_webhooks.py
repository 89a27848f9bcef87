"""What outbound webhooks cost (router/webhooks/), against a receiver that
answers 204 at once, run in a process of its own (so its CPU is not counted):

- ``deliveries/s``: N events queued over C conversations (the order keys)
  for one subscription, then sent by one node's sender until none is
  pending: signed, POSTed over loopback, recorded as sent;
- ``cost per ingested message``: M customer messages through the whole
  service in this process (ingest, identity, conversation, routing, events;
  the store's writer in a thread, so that its CPU is counted here), without
  any subscription and then with one to ``message.created``, until every
  delivery is sent; the CPU of this process per message, both ways.

    python -m bench.outbound_webhooks --events 5000 --conversations 100 --messages 3000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from aiohttp.resolver import DefaultResolver

from bench.load import free_port
from router.appkeys import ROUTER, STORE, WEBHOOKS
from router.bus import EventBus
from router.config import Settings, WebhooksConfig
from router.metrics import Metrics
from router.models import IdentityRef, InboundMessage
from router.server.app import create_app
from router.store.sqlite import SQLiteStore
from router.webhooks.service import Webhooks
from router.webhooks.types import Queued, WebhookEvent
from router.webhooks.worker import WebhookWorker

RECEIVER = """
import sys
from aiohttp import web
from aiohttp.resolver import DefaultResolver
async def hook(request):
    await request.read()
    return web.Response(status=204)
app = web.Application()
app.router.add_post("/hook", hook)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


async def start_receiver() -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", RECEIVER, str(port))
    url = f"http://127.0.0.1:{port}/hook"
    for _ in range(600):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return proc, url
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError("the receiver did not start")


async def deliveries_per_second(folder: Path, url: str, events: int, conversations: int) -> float:
    now = datetime.now(UTC)
    async with SQLiteStore(folder / "deliveries.db", writer="process") as store:
        config = WebhooksConfig()
        await Webhooks(store, EventBus(), config, DefaultResolver(), asyncio.Event()).subscribe(
            url, ["message.created"], allow_private=True)
        batch = [Queued(event=WebhookEvent(id=f"evt_{i}", type="message.created", created_at=now,
                                           data={"message": {"text": "x" * 200, "n": i}}),
                        order_key=f"conversation:{i % conversations}") for i in range(events)]
        for start in range(0, events, 500):
            await store.enqueue_webhooks(batch[start:start + 500], now)
        async with WebhookWorker(store, config, Metrics(), asyncio.Event()) as worker:
            began = time.perf_counter()
            while await store.list_webhook_deliveries(None, "pending", 1):
                await worker.run_once()
            elapsed = time.perf_counter() - began
        assert len(await store.list_webhook_deliveries(None, "dead", 10)) == 0
    return events / elapsed


async def ingest_cost(folder: Path, url: str | None, messages: int, concurrency: int) -> tuple[float, float]:
    """(CPU ms per message, wall seconds) for ``messages`` through the service,
    with a subscription to ``url`` when given, until every delivery is sent."""
    settings = Settings()
    settings.store.path = str(folder / f"ingest-{'on' if url else 'off'}.db")
    settings.store.writer = "thread"
    settings.connectors = {}
    app = create_app(settings, base_dir=folder)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        if url:
            await app[WEBHOOKS].subscribe(url, ["message.created"], allow_private=True)
        router = app[ROUTER]
        counter = iter(range(messages))

        async def customer(c: int) -> None:
            for n in counter:
                await router.on_message(InboundMessage(
                    channel="webchat", external_id=f"m{n}", sender=IdentityRef(kind="webchat", value=f"v{c}"),
                    text=f"message {n} about an order"))

        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(customer(c) for c in range(concurrency)))
        if url:
            store = app[STORE]
            # the store says when all went (the sender has no "done" signal to wait on)
            while len(await store.list_webhook_deliveries(None, "sent", messages)) < messages:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        return (time.process_time() - cpu) * 1000 / messages, time.perf_counter() - wall
    finally:
        await runner.cleanup()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    os.environ.setdefault("OMNIROUTER_ADMIN_PASSWORD", "bench admin password")  # no generated one printed
    proc, url = await start_receiver()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            rate = await deliveries_per_second(folder, url, args.events, args.conversations)
            print(f"deliveries: {args.events} events over {args.conversations} conversations,"
                  f" {rate:,.0f} deliveries/s (SQLite, writer process)")
            off_cpu, off_wall = await ingest_cost(folder, None, args.messages, args.concurrency)
            on_cpu, on_wall = await ingest_cost(folder, url, args.messages, args.concurrency)
            print(f"ingest, no subscription: {off_cpu:.3f} ms CPU per message, {args.messages / off_wall:,.0f} msg/s")
            print(f"ingest, one subscription to message.created (until delivered): {on_cpu:.3f} ms CPU per"
                  f" message, {args.messages / on_wall:,.0f} msg/s")
            print(f"added per ingested message: {on_cpu - off_cpu:.3f} ms CPU ({(on_cpu / off_cpu - 1) * 100:.0f} %)")
    finally:
        proc.terminate()
        await proc.wait()


if __name__ == "__main__":
    asyncio.run(main())
