"""Prometheus metrics, one registry per app so tests can run many apps."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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

    def render(self) -> bytes:
        return generate_latest(self.registry)
