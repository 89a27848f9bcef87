"""The service's operational surface: health, metrics, start and stop."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from router.app import ROUTER
from router.config import Settings
from router.models import IdentityRef, InboundMessage
from tests.conftest import AppClient


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
