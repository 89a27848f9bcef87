"""The outbox's claims, measured: replies delivered per second by one outbox
worker on SQLite, one on PostgreSQL, and two nodes' workers on one
PostgreSQL database, to a platform that answers at once (the outbox's own
cost: claiming, recording, one entry in flight per recipient). Each reply
is checked to arrive once, and each recipient's in order.

    .venv/bin/python -m bench.outbox_claims [--recipients 200] [--each 10] [--dsn postgresql://...]

Without ``--dsn`` it starts a throwaway PostgreSQL (``bench.bus_notify``'s,
with durable commits as in production)."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

from bench.bus_notify import database
from router.bus import EventBus
from router.config import OutboxConfig
from router.connector import Connector, ConnectorOptions, SendProgress, SendResult
from router.metrics import Metrics
from router.models import OutboundMessage, utcnow
from router.outbox.service import OutboxWorker
from router.store.base import Store
from router.store.postgres import PostgresStore
from router.store.sqlite import SQLiteStore
from tests.router.outbox.entries import queue


class Platform(Connector[ConnectorOptions]):
    """Answers every send at once and keeps what it got."""

    type_name = "scripted"

    def __init__(self) -> None:
        super().__init__("scripted", ConnectorOptions(), None)  # type: ignore[arg-type]
        self.got: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage, progress: SendProgress | None = None) -> SendResult:
        self.got.append(message)
        return SendResult(external_id=f"ext-{len(self.got)}")


async def _fill(store: Store, recipients: int, each: int) -> dict[str, list[str]]:
    written: dict[str, list[str]] = defaultdict(list)
    start = utcnow() - timedelta(minutes=1)
    for n in range(each):
        for r in range(recipients):
            await queue(store, f"r{r}", f"r{r}-{n}", start + timedelta(milliseconds=n))
            written[f"r{r}"].append(f"r{r}-{n}")
    return written


async def _drain(stores: list[Store], run: str) -> tuple[float, Platform]:
    platform = Platform()
    workers = [OutboxWorker(s, EventBus(), {"scripted": platform}, OutboxConfig(), Metrics(), asyncio.Event(),
                            node=f"{run}-node-{i}") for i, s in enumerate(stores)]
    began = time.perf_counter()
    tasks = [asyncio.create_task(w.run()) for w in workers]
    while True:  # until every send is recorded, not only made
        if not await stores[0].pending_outbox(1):
            break
        await asyncio.sleep(0.005)
    took = time.perf_counter() - began
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return took, platform


def _check(platform: Platform, written: dict[str, list[str]]) -> str:
    once = set(Counter(m.message_id for m in platform.got).values()) == {1}
    order: dict[str, list[str]] = defaultdict(list)
    for m in platform.got:
        order[m.recipient].append(m.text)
    return "each once, in order" if once and order == written else "WRONG: duplicates or out of order"


async def _run(label: str, stores: list[Store], recipients: int, each: int) -> None:
    written = await _fill(stores[0], recipients, each)
    total = recipients * each
    took, platform = await _drain(stores, label)
    print(f"{label:<24} {total / took:8.0f} replies/s  ({total} to {recipients} recipients, {took:.2f} s;"
          f" {_check(platform, written)})")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with SQLiteStore(Path(folder) / "bench.db", writer="process") as store:
            await _run("sqlite, 1 node", [store], args.recipients, args.each)
    async with database(args.dsn) as dsn:
        for nodes in (1, 2):
            stores = [PostgresStore(dsn) for _ in range(nodes)]
            await asyncio.gather(*(s.open() for s in stores))
            try:
                await _run(f"postgres, {nodes} node(s)", list(stores), args.recipients, args.each)
            finally:
                await asyncio.gather(*(s.close() for s in stores))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=200)
    parser.add_argument("--each", type=int, default=10)
    parser.add_argument("--dsn", default=None)
    asyncio.run(main(parser.parse_args()))
