"""Prometheus metrics, one registry per app so tests can run many apps.

Every sample carries a ``node`` label (``router.cluster.node``): the nodes
of a cluster each answer ``/metrics`` for themselves, and a scraper that
sums them must tell them apart. (prometheus-client has no constant labels:
the node's registry is read through a collector that adds it.)"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector


class _Labelled(Collector):
    """``registry``'s metrics, each sample with ``node`` added."""

    def __init__(self, registry: CollectorRegistry, node: str) -> None:
        self.registry = registry
        self.node = node

    def collect(self) -> Iterable[Metric]:
        for family in self.registry.collect():
            family.samples = [s._replace(labels={**s.labels, "node": self.node}) for s in family.samples]
            yield family


class Metrics:
    def __init__(self, node: str = "") -> None:
        self.node = node
        self.registry = CollectorRegistry()
        self._exposed = CollectorRegistry()
        self._exposed.register(_Labelled(self.registry, node))
        self.messages_in = Counter(
            "omnirouter_messages_in", "Inbound messages accepted", ["channel"], registry=self.registry
        )
        self.duplicates = Counter(
            "omnirouter_duplicate_deliveries", "Inbound redeliveries recognised and skipped", ["channel"],
            registry=self.registry,
        )
        self.messages_out = Counter(
            "omnirouter_messages_out", "Outbound delivery outcomes", ["channel", "result"], registry=self.registry
        )
        self.outbox_resends = Counter(
            "omnirouter_outbox_resends",
            "Outbox entries sent again after the lease of a send never finished ran out (a node died or stalled"
            " mid-send): the platform may show each twice, unless it takes an idempotency key (VK's random_id)",
            ["channel"], registry=self.registry,
        )
        self.webhook_deliveries = Counter(
            "omnirouter_webhook_deliveries", "Outbound webhook delivery attempts by outcome (sent, retry, dead)",
            ["outcome"], registry=self.registry,
        )
        self.webhook_events_dropped = Counter(
            "omnirouter_webhook_events_dropped",
            "Events not queued for webhooks: the store stayed away while the in-memory queue filled",
            registry=self.registry,
        )
        self.conversations = Gauge(
            "omnirouter_conversations", "Conversations by status", ["status"], registry=self.registry
        )
        self.queue_length = Gauge(
            "omnirouter_queue_length", "Conversations waiting for an agent", registry=self.registry
        )
        self.ingest_latency = Histogram(
            "omnirouter_ingest_latency_seconds",
            "From a connector handing a message in to it being stored and routed",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )

        # admission control (router/ingest/pressure.py): the lag is read at each scrape
        self.pipeline_lag = Gauge(
            "omnirouter_pipeline_lag_seconds",
            "How far behind the pipeline is: the oldest message in it, or the wait a newcomer can expect",
            registry=self.registry,
        )
        self.pipeline_in_flight = Gauge(
            "omnirouter_pipeline_in_flight", "Messages taken in and not yet through the pipeline",
            registry=self.registry,
        )
        self.admission_waiting = Gauge(
            "omnirouter_admission_waiting", "Senders waiting for room in the pipeline now (site chat, pollers)",
            registry=self.registry,
        )
        self.admission_held = Counter(
            "omnirouter_admission_held",
            "Messages that waited for room before the pipeline took them (their ack or answer waited)",
            ["channel"], registry=self.registry,
        )
        self.admission_refused = Counter(
            "omnirouter_admission_refused",
            "Messages refused while the pipeline was over its lag bound (webhooks: 503 with Retry-After)",
            ["channel"], registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self._exposed)
