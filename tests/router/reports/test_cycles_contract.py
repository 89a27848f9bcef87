"""The cycles the database folds as the events are written
(router/reports/cycles_schema.py), on every backend of
tests/router/store/test_contract.py: each one is what the Python fold
(router/reports/cycles.py) makes of the same log, so a report read from them
counts the same figures; read by pages in start order; and a log written
before the cycles existed is folded by their migration."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from router.identity.types import MergeRequest
from router.models import ConversationStatus, Role, RouteDecision
from router.reports import cycles_schema
from router.reports.cycles import fold
from router.reports.events import CycleFacts
from router.reports.figures import Counting, GroupBy, report
from router.reports.store import cursor
from router.store.base import Store
from tests.router.identity.test_store_contract import _writes
from tests.router.reports.test_figures_contract import DAY, QUEUES, SUPPORT, _day, _open, at
from tests.router.store.test_contract import T0, StoreFactory

WHOLE_DAY = (DAY, DAY + timedelta(days=1))


async def _all(store: Store, since: datetime, until: datetime, page: int = 1000) -> list[CycleFacts]:
    found: list[CycleFacts] = []
    while batch := await store.cycles(since, until, cursor(found[-1]) if found else None, page):
        found += batch
    return found


async def test_the_folded_cycles_of_a_day_are_the_python_folds_and_count_the_same(store: Store) -> None:
    await _day(store)
    folded = await _all(store, *WHOLE_DAY)
    assert folded == fold(await store.conversation_events(*WHOLE_DAY))
    assert len(folded) == 6  # five conversations and a reopening
    assert [c.reopened for c in folded].count(True) == 1
    for group_by in GroupBy:  # every figure of every group, exactly
        counting = Counting(group_by, *WHOLE_DAY, QUEUES)
        counting.cycles(folded)
        assert counting.report() == report(await store.conversation_events(*WHOLE_DAY), [], *WHOLE_DAY, group_by,
                                           QUEUES)


async def test_pages_of_cycles_go_in_start_order_none_lost_none_twice(store: Store) -> None:
    await _day(store)
    every = await _all(store, *WHOLE_DAY)
    assert [c.start_at for c in every] == sorted(c.start_at for c in every)
    assert await _all(store, *WHOLE_DAY, page=1) == every
    assert await _all(store, *WHOLE_DAY, page=4) == every
    # [since, until): a cycle that started at until is the next range's
    morning = await _all(store, DAY, at(10, 0))
    assert [c.start_at for c in morning] == [at(9, 0), at(9, 10)]
    assert [c.start_at for c in await _all(store, at(10, 0), at(11, 0))] == [at(10, 0)]


async def test_a_merge_and_its_undo_fold_as_in_python(store: Store) -> None:
    phone, _, _ = await _writes(store, "sms", "+79123456789", "p1", T0)
    web, _, _ = await _writes(store, "webchat", "v-1", "w1", T0 + timedelta(minutes=5))
    record = await store.merge_customers(MergeRequest(phone, web, "agent", "agt_1", "looked alike"),
                                         T0 + timedelta(hours=1))
    merged = await _all(store, T0 - timedelta(hours=1), T0 + timedelta(hours=3))
    assert sorted(c.merged for c in merged) == [False, True]
    await store.unmerge_customers(record.id, "agt_1", "two people", T0 + timedelta(hours=2))
    day = (T0 - timedelta(hours=1), T0 + timedelta(hours=3))
    folded = await _all(store, *day)
    assert folded == fold(await store.conversation_events(*day))
    assert [c.merged for c in folded] == [False, False]  # the undo's cycle goes on, judged as any other


_DROP_SQLITE = "DROP TRIGGER conversation_cycles_started; DROP TRIGGER conversation_cycles_folded;" \
               " DROP TABLE conversation_cycles;"
_DROP_PG = "DROP TABLE conversation_cycles; DROP FUNCTION omnirouter_conversation_cycles CASCADE;"


async def test_the_migration_folds_the_log_written_before_it(
        request: pytest.FixtureRequest, tmp_path: Path, store_factory: StoreFactory) -> None:
    async with store_factory() as store:
        await _day(store)
        before = await _all(store, *WHOLE_DAY)
        events = await store.conversation_events(*WHOLE_DAY)
    backend = request.node.callspec.params["store_factory"]
    if backend.startswith("sqlite"):
        conn = sqlite3.connect(tmp_path / "contract.db")
        try:
            conn.executescript(f"BEGIN;\n{_DROP_SQLITE}\n{cycles_schema.SQLITE}\nCOMMIT;")
        finally:
            conn.close()
    else:
        pg = await asyncpg.connect(request.getfixturevalue("pg_database"))
        try:
            async with pg.transaction():
                await pg.execute(_DROP_PG)
                await pg.execute(cycles_schema.POSTGRES)
        finally:
            await pg.close()
    async with store_factory() as store:
        assert await _all(store, *WHOLE_DAY) == before
        assert await store.conversation_events(*WHOLE_DAY) == events  # the log itself as it was


@pytest.mark.parametrize("separator", ["\x1e", "\x1f", "\x1d"])
async def test_a_tier_with_a_separator_in_it_is_packed_without_it(store: Store, separator: str) -> None:
    """A tier stored with a char the lists split on (before names refused them, or by another path): the
    report answers, its cycle, stay and transfer keep the tier minus the separator (one group)."""
    ann = (await store.create_agent("ann", "Ann", Role.AGENT, "hash")).id
    c = await _open(store, "u1", at(9, 0), SUPPORT, tier=f"gold{separator}vip")
    await store.offer(c, ann, 5, at(9, 1))
    senior = RouteDecision(status=ConversationStatus.QUEUED, team="senior", reason="transferred to senior by ann")
    await store.reroute_conversation(c, senior, at(9, 6), expected={ConversationStatus.ASSIGNED})
    [cycle] = await _all(store, *WHOLE_DAY)
    assert (cycle.tier, [s.tier for s in cycle.stays]) == ("goldvip", ["goldvip"])
    assert [t.tier for t in cycle.transfers] == ["goldvip"]
    assert [cycle] == fold(await store.conversation_events(*WHOLE_DAY))
    counting = Counting(GroupBy.TIER, *WHOLE_DAY, QUEUES)
    counting.cycles([cycle])
    assert [(r["group"], r["opened"], r["transfers_team"]) for r in counting.report().rows] == [("goldvip", 1, 1)]


async def test_a_malformed_list_in_a_stored_cycle_is_skipped_and_logged_not_a_failed_report(
        request: pytest.FixtureRequest, tmp_path: Path, store_factory: StoreFactory,
        caplog: pytest.LogCaptureFixture) -> None:
    async with store_factory() as store:
        await _day(store)
        before = await _all(store, *WHOLE_DAY)
    [moved] = [c for c in before if c.transfers]
    # a stay of 7 fields, one with no time and one with a time that is none: all three skipped, the good kept
    bad = "\x1e".join(["a\x1fb\x1fc\x1fd\x1fe\x1ff\x1fsecret", "\x1d\x1fx\x1fx\x1fx\x1fx\x1fx",
                       "secret\x1fx\x1fx\x1fx\x1fx\x1fx"])
    update = "UPDATE conversation_cycles SET stays = {} || stays WHERE start_seq = {}"
    backend = request.node.callspec.params["store_factory"]
    if backend.startswith("sqlite"):
        conn = sqlite3.connect(tmp_path / "contract.db")
        try:
            with conn:
                conn.execute(update.format("? || char(30)", moved.start_seq), (bad,))
        finally:
            conn.close()
    else:
        pg = await asyncpg.connect(request.getfixturevalue("pg_database"))
        try:
            await pg.execute(update.format("$1 || chr(30)", moved.start_seq), bad)
        finally:
            await pg.close()
    async with store_factory() as store:
        assert await _all(store, *WHOLE_DAY) == before
    logged = [r for r in caplog.records if r.name == "router.reports.cycles"]
    assert len(logged) == 1 and moved.conversation_id in logged[0].getMessage()
    assert "secret" not in caplog.text
