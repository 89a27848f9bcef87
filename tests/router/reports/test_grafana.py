"""The example Grafana dashboard (config/grafana-reports.json) loads: the
shape Grafana's dashboard import needs, panels that do not overlap, and
every metric it asks Prometheus for is one /metrics exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from router.reports.prometheus import ReportMetrics

DASHBOARD = Path(__file__).parents[3] / "config" / "grafana-reports.json"


def _exposed() -> set[str]:
    registry = CollectorRegistry()
    ReportMetrics(registry, None, lambda: None)  # type: ignore[arg-type]  # names only: never reads
    names = set()
    for family in registry.collect():
        kind = family.type
        names |= {family.name + "_total"} if kind == "counter" else {
            family.name + suffix for suffix in ("_bucket", "_sum", "_count")}
    return names


def test_the_dashboard_has_the_shape_grafana_imports() -> None:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(board["title"], str) and board["uid"] and isinstance(board["schemaVersion"], int)
    assert board["templating"]["list"][0]["type"] == "datasource"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)) >= 8
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        assert panel["type"] in {"timeseries", "barchart", "stat", "table"} and panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24  # Grafana's grid is 24 columns wide
        mine = {(grid["x"] + dx, grid["y"] + dy) for dx in range(grid["w"]) for dy in range(grid["h"])}
        assert not mine & cells, panel["title"]
        cells |= mine
        assert panel["targets"] and all(t["refId"] and t["expr"] for t in panel["targets"])


def test_every_metric_the_dashboard_asks_for_is_exposed() -> None:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
    asked = {m for e in exprs for m in re.findall(r"\bomnirouter_[a-z_]+", e)}
    exposed = _exposed()
    assert asked and asked <= exposed, asked - exposed
    # each figure of the reports has a panel
    assert {n.rsplit("_", 1)[0] for n in asked} >= {
        "omnirouter_conversations_opened", "omnirouter_conversations_resolved", "omnirouter_first_response_seconds",
        "omnirouter_resolution_seconds", "omnirouter_first_response_sla", "omnirouter_bot_handoffs",
        "omnirouter_transfers", "omnirouter_queue_wait_seconds"}
