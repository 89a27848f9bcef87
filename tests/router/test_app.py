"""The service's operational surface: health, metrics, start and stop."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from router.config import Settings
from router.models import IdentityRef, InboundMessage
from router.server.app import ROUTER, STORE
from router.store.sqlite import SQLiteStore
from tests.conftest import AppClient, eventually


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_healthz(make_client: AppClient, settings: Settings) -> None:
    client = await make_client(settings.model_copy(update={"connectors": {}}))
    resp = await client.get("/healthz")
    assert resp.status == 200 and await resp.json() == {"status": "ok"}


async def test_healthz_says_when_no_message_could_be_stored(make_client: AppClient, settings: Settings) -> None:
    """The writer process dies and its database is gone (a volume unmounted):
    /healthz says so with the reason, and is ok again once it is back."""
    settings.store.writer = "process"
    client = await make_client(settings.model_copy(update={"connectors": {}}))
    store = client.app[STORE]
    assert isinstance(store, SQLiteStore) and store._w.pid is not None
    database = Path(settings.store.path)
    _unmount(database)
    os.kill(store._w.pid, signal.SIGKILL)
    died = await client.get("/healthz")
    assert died.status == 503 and (await died.json())["status"] == "unavailable"
    resp = await client.get("/healthz")  # a new writer process, which cannot open the database
    assert resp.status == 503
    body = await resp.json()
    assert body["status"] == "unavailable" and "unable to open database file" in body["store"]
    resp = await client.get("/healthz")  # within the pause before the next start: says why, spawns nothing
    assert resp.status == 503 and "unable to open database file" in (await resp.json())["store"]
    _remount(database)

    async def ok() -> bool:
        return (await client.get("/healthz")).status == 200

    # a ceiling, not a measurement: the outage ends once no write failed for a few seconds
    await eventually(ok, "the writer process to start again after its pause", 120)


def _unmount(database: Path) -> None:
    database.rename(database.with_suffix(".away"))
    database.mkdir()  # what the next writer process finds at its path


def _remount(database: Path) -> None:
    database.rmdir()
    database.with_suffix(".away").rename(database)


async def test_metrics_count_messages_queue_and_latency(make_client: AppClient, settings: Settings) -> None:
    client = await make_client(settings.model_copy(update={"connectors": {}}))
    router = client.app[ROUTER]
    for i in range(3):
        msg = InboundMessage(channel="webchat", external_id=str(i), sender=IdentityRef(kind="webchat", value=f"v{i}"))
        await router.on_message(msg)
    await router.on_message(msg)  # a redelivery
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.content_type == "text/plain"
    got = samples(await resp.text())
    assert got[("omnirouter_messages_in_total", (("channel", "webchat"),))] == 3
    assert got[("omnirouter_duplicate_deliveries_total", (("channel", "webchat"),))] == 1
    assert got[("omnirouter_queue_length", ())] == 3
    assert got[("omnirouter_conversations", (("status", "queued"),))] == 3
    assert got[("omnirouter_ingest_latency_seconds_count", ())] == 3
