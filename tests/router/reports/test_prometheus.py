"""The report's figures for Prometheus (router/reports/prometheus.py), on
every backend: the generated day of test_figures_contract counted as it is
read from the log, the same values as the report; /metrics shows them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from router.appkeys import ROUTER
from router.config import Settings
from router.models import IdentityRef, InboundMessage
from router.reports.prometheus import ReportMetrics
from router.store.base import Store
from tests.router.reports.test_figures_contract import _day, lapses
from tests.router.test_app import AppClient


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


async def test_the_day_as_counters_and_histograms(store: Store) -> None:
    registry = CollectorRegistry()
    metrics = ReportMetrics(registry, store, lambda: None)
    await metrics.catch_up()  # from here on
    await _day(store)
    await metrics.catch_up()
    assert _value(registry, "omnirouter_conversations_opened_total", team="support", channel="webchat",
                  route="queued") == 3
    assert _value(registry, "omnirouter_conversations_opened_total", team="support", channel="webchat",
                  route="bot") == 2
    assert _value(registry, "omnirouter_conversations_reopened_total", team="support", channel="webchat") == 1
    assert _value(registry, "omnirouter_conversations_resolved_total", team="support", channel="webchat",
                  by="bot") == 1
    assert _value(registry, "omnirouter_conversations_resolved_total", team="support", channel="webchat",
                  by="agent") == 3
    assert _value(registry, "omnirouter_conversations_resolved_total", team="senior", channel="webchat",
                  by="agent") == 1
    # 120 + 180 + 180 + 900 (all asked for in support's queue)
    assert _value(registry, "omnirouter_first_response_seconds_count", team="support", channel="webchat") == 4
    assert _value(registry, "omnirouter_first_response_seconds_sum", team="support", channel="webchat") == 1380
    assert _value(registry, "omnirouter_first_response_seconds_bucket", team="support", channel="webchat",
                  le="600.0") == 3
    # the resolution is counted in the team the conversation was resolved in: 300+600+1800+3600, and 1200
    assert _value(registry, "omnirouter_resolution_seconds_sum", team="support", channel="webchat") == 6300
    assert _value(registry, "omnirouter_resolution_seconds_sum", team="senior", channel="webchat") == 1200
    assert _value(registry, "omnirouter_queue_wait_seconds_sum", team="support", tier="gold") == 60
    assert _value(registry, "omnirouter_queue_wait_seconds_sum", team="support", tier="-") == 600 + 180
    assert _value(registry, "omnirouter_queue_wait_seconds_sum", team="senior", tier="-") == 120
    assert _value(registry, "omnirouter_bot_handoffs_total", team="support", reason="rules") == 1
    assert _value(registry, "omnirouter_transfers_total", team="senior", to="team") == 1
    await metrics.catch_up()  # nothing new: nothing counted twice
    assert _value(registry, "omnirouter_conversations_reopened_total", team="support", channel="webchat") == 1


async def test_a_lapsed_offer_does_not_cut_the_wait_in_the_histogram(store: Store) -> None:
    registry = CollectorRegistry()
    metrics = ReportMetrics(registry, store, lambda: None)
    await metrics.catch_up()
    await lapses(store)
    await metrics.catch_up()
    # as the report: one wait of 600 s and one of 120 s in support, one of 360 s in senior
    assert _value(registry, "omnirouter_queue_wait_seconds_count", team="support", tier="-") == 2
    assert _value(registry, "omnirouter_queue_wait_seconds_sum", team="support", tier="-") == 600 + 120
    assert _value(registry, "omnirouter_queue_wait_seconds_sum", team="senior", tier="-") == 360


async def test_metrics_show_the_report_figures(make_client: AppClient, settings: Settings) -> None:
    client = await make_client(settings.model_copy(update={"connectors": {}}))
    assert (await client.get("/metrics")).status == 200  # the node starts following the log
    await client.app[ROUTER].on_message(InboundMessage(channel="webchat", external_id="1",
                                                       sender=IdentityRef(kind="webchat", value="v1")))
    text = await (await client.get("/metrics")).text()
    opened = [line for line in text.splitlines() if line.startswith("omnirouter_conversations_opened_total{")]
    assert len(opened) == 1 and opened[0].endswith(" 1.0") and 'route="queued"' in opened[0]
    assert "# TYPE omnirouter_first_response_seconds histogram" in text
