"""Two nodes on one PostgreSQL with different routing files (router.cluster.config_check):
each tells the other a fingerprint of its rules.yaml, teams.yaml, csat.yaml and bot.yaml,
and a difference that lasts is logged once and listed in /healthz. Before, a node started
with capacity 5 against the others' 2 gave every agent 5 while it led the assigner, and
nothing said so."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from router.bus import EventBus
from router.cluster.config_check import GRACE, ConfigCheck
from router.cluster.pg_bus import PgCluster
from router.store.postgres import PostgresStore
from tests.conftest import eventually

TEAMS = "teams: {support: {}}\nagents:\n  - {username: ann, teams: [support], capacity: {chat: %d}}\n"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def dsn(pg_database: str) -> AsyncIterator[str]:
    async with PostgresStore(pg_database, pool_size=1):  # the schema
        pass
    yield pg_database


def folder(root: Path, name: str, capacity: int) -> Path:
    path = root / name
    path.mkdir()
    (path / "teams.yaml").write_text(TEAMS % capacity, encoding="utf-8")
    return path


async def _told(speaker: ConfigCheck, listener: ConfigCheck, since: float = 0.0) -> bool:
    """``speaker`` announces until ``listener`` has heard it (a NOTIFY before the other node
    listens is lost, as it is for a node that starts later: the next minute's tells it)."""
    await speaker.announce()
    return await _heard(listener, speaker.node, since)


async def _heard(check: ConfigCheck, node: str, since: float = 0.0) -> bool:
    """Whether ``check`` has heard ``node`` at ``since`` or later (a NOTIFY comes when it comes)."""
    heard = check._heard.get(node)  # a private look: the one way to know a NOTIFY has come
    return heard is not None and heard[1] >= since


async def test_a_node_with_other_routing_files_is_reported_once_the_difference_lasts(
    dsn: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    async with PgCluster(dsn, "a", EventBus()) as bus_a, PgCluster(dsn, "b", EventBus()) as bus_b:
        a = ConfigCheck(bus_a, "a", folder(tmp_path, "a", 2), clock)
        b = ConfigCheck(bus_b, "b", folder(tmp_path, "b", 5), clock)
        await eventually(lambda: _told(a, b), "b to hear a")
        await eventually(lambda: _told(b, a), "a to hear b")
        assert a.differing() == []  # a rollout reaches the nodes seconds apart: no difference yet
        clock.now += GRACE
        await a.announce()
        await a.announce()
        assert a.differing() == ["b"]
        # a's own warning: b, hearing a's announcements meanwhile (whenever its NOTIFY comes), warns of a too
        warned = [r for r in caplog.records if r.levelname == "WARNING" and "this node a " in r.getMessage()]
        assert len(warned) == 1 and "node b runs other routing files" in warned[0].getMessage()


async def test_nodes_on_the_same_files_report_nothing(dsn: str, tmp_path: Path) -> None:
    clock = Clock()
    async with PgCluster(dsn, "a", EventBus()) as bus_a, PgCluster(dsn, "b", EventBus()) as bus_b:
        a = ConfigCheck(bus_a, "a", folder(tmp_path, "a", 2), clock)
        b = ConfigCheck(bus_b, "b", folder(tmp_path, "b", 2), clock)
        await a.announce()
        await eventually(lambda: _told(b, a), "a to hear b")
        clock.now += 2 * GRACE
        await eventually(lambda: _told(b, a, clock.now), "a to hear b again")
        await a.announce()
        assert a.differing() == []
