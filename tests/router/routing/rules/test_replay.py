"""Replay: stored history through a candidate file; prints what would move, changes nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.bus import EventBus
from router.cli import main
from router.core import Router
from router.metrics import Metrics
from router.models import IdentityRef, InboundMessage
from router.routing.rules import RulesRouting, load_rules
from router.store.sqlite import SQLiteStore
from tests.router.routing.rules.conftest import RULES, write_config

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


async def history(config: Path, db: Path) -> list[tuple[str, str | None, int]]:
    now = [T0]
    routing = RulesRouting(load_rules(config / "rules.yaml"), lambda: now[0])
    async with SQLiteStore(db) as store:
        router = Router(store, EventBus(), routing, Metrics(), clock=lambda: now[0])
        for n, text in enumerate(["hi", "x" * 80, "y" * 90, "hello"]):
            sender = IdentityRef(kind="webchat", value=f"v{n}")
            msg = InboundMessage(channel="webchat", external_id=str(n), sender=sender, text=text)
            await router.on_message(msg)
            now[0] += timedelta(days=1)
        return [(c.status.value, c.team, c.priority) for c in await store.list_conversations(None, 100)]


def test_replay_prints_per_queue_counts_and_moves_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "config").parent
    db = tmp_path / "replay.db"
    (config / "omnirouter.yaml").write_text(f"store: {{path: {db}}}\n", encoding="utf-8")
    before = asyncio.run(history(config, db))
    candidate = write_config(tmp_path / "candidate", RULES.replace("queue: {team: support, priority: 10}",
                                                                  "queue: {team: senior, priority: 10}"))
    assert main(["rules", "replay", str(candidate), "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "replayed 4 conversations, 2 would move" in out
    assert "queued/senior                          0         2      +2" in out
    assert "queued/support                         2         0      -2" in out
    assert "bot/support                            2         2      +0" in out
    assert out.count("queued/support p10 → queued/senior p10  (default)") == 2

    assert main(["rules", "replay", str(candidate), "--config", str(config), "--since", "2026-03-04"]) == 0
    assert "replayed 2 conversations, 1 would move" in capsys.readouterr().out
    assert asyncio.run(history_unchanged(db)) == before


async def history_unchanged(db: Path) -> list[tuple[str, str | None, int]]:
    async with SQLiteStore(db) as store:
        return [(c.status.value, c.team, c.priority) for c in await store.list_conversations(None, 100)]


def test_replay_refuses_a_bad_candidate_or_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "config").parent
    (config / "omnirouter.yaml").write_text(f"store: {{path: {tmp_path / 'r.db'}}}\n", encoding="utf-8")
    bad = write_config(tmp_path / "bad", RULES.replace("customer_tier", "tier"))
    assert main(["rules", "replay", str(bad), "--config", str(config)]) == 1
    assert f"{bad}:3: " in capsys.readouterr().err
    good = config / "rules.yaml"
    assert main(["rules", "replay", str(good), "--config", str(config), "--since", "last week"]) == 2
    assert "no date" in capsys.readouterr().err
