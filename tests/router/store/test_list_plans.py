"""The console's lists and counts read an index, never the whole table, and
sort no more than a page (issue 24, item 7): SQLite's query plans of the real
statements, pinned. Timing them would say nothing on a busy machine; a plan
that walks the table or sorts every row of a status is what made them grow
with the store (bench/console_lists.py prints the figures)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from router.models import ConversationStatus
from router.routing.sqlite import AGENT_LOADS
from router.search.service import Filters, Kind, Search, statuses_of
from router.search.sqlite import _search_conversations
from router.store.rows import latest_conversations
from router.store.sqlite import SQLiteStore
from router.wallboard.sqlite import _OPEN, _open

OPEN = [ConversationStatus.BOT, ConversationStatus.QUEUED, ConversationStatus.ASSIGNED]


@pytest.fixture
async def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    path = tmp_path / "omnirouter.db"
    async with SQLiteStore(path):
        pass  # the schema, by the store's own migrations
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    yield conn
    conn.close()


def plan(conn: sqlite3.Connection, sql: str, params: Any = ()) -> list[str]:
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]


def plans_of(conn: sqlite3.Connection, run: Callable[[sqlite3.Connection], object]) -> list[list[str]]:
    """The plan of each statement ``run`` makes on the connection (its own SQL, values and all)."""
    made: list[str] = []
    conn.set_trace_callback(made.append)
    try:
        run(conn)
    finally:
        conn.set_trace_callback(None)
    return [plan(conn, sql) for sql in made if sql.lstrip().upper().startswith("SELECT")]


def reads_of_conversations(steps: list[str]) -> list[str]:
    return [s for s in steps if s.startswith(("SEARCH c ", "SCAN c ", "SEARCH conversations", "SCAN conversations"))
            or s in ("SCAN c", "SCAN conversations")]


@pytest.mark.parametrize(("mine", "after"), [(False, False), (True, False), (False, True), (True, True)])
def test_a_page_of_the_list_seeks_each_status_in_its_index(db: sqlite3.Connection, mine: bool, after: bool) -> None:
    sql = latest_conversations(len(OPEN), awake_only=True, mine=mine, after=after)
    arm = [OPEN[0].value, *(["agt_1"] if mine else []), *(["2026-12-01T00:00:00.000000Z", "conv_1"] if after else []),
           201]
    steps = plan(db, sql, [p for status in OPEN for p in [status.value, *arm[1:]]] + [201])
    picks = [s for s in reads_of_conversations(steps) if "(id=?)" not in s]  # the page's own rows, by id
    index = "conversations_agent_activity" if mine else "conversations_activity_id"
    assert len(picks) == len(OPEN), steps
    for pick in picks:  # each status's newest first from the index: no walk of the table, no sort of a status
        assert pick.startswith("SEARCH conversations USING INDEX " + index), steps
        assert ("last_message_at" in pick) == after, steps  # a deep page seeks to its cursor


@pytest.mark.parametrize("filters", [
    Filters(statuses=statuses_of("queued"), team="support"),
    Filters(statuses=statuses_of("open"), assignee=""),
    Filters(statuses=statuses_of("assigned"), assignee="agt_1"),
    Filters(statuses=statuses_of("open"), label="vip", snoozed=True),
    Filters(statuses=statuses_of("resolved"), channel="webchat", since=None),
], ids=["queued-of-a-team", "open-of-nobody", "assigned-to-one", "open-labelled-snoozed", "resolved-of-a-channel"])
@pytest.mark.parametrize("after", [None, 12345])
def test_a_view_by_status_walks_each_status_newest_first(db: sqlite3.Connection, filters: Filters,
                                                        after: int | None) -> None:
    search = Search(kind=Kind.CONVERSATIONS, filters=filters, after=after, limit=20)
    (steps,) = plans_of(db, lambda conn: _search_conversations(conn, search))
    walks = [s for s in reads_of_conversations(steps) if "rowid=?" not in s]  # the page's own rows, by position
    assert len(walks) == len(filters.statuses), steps
    by = "status=?" if filters.assignee is None else "status=? AND agent_id=?"  # nobody's: agent_id IS NULL
    index = "conversations_status_position" if filters.assignee is None else "conversations_status_agent_position"
    seek = " AND rowid<?" if after is not None else ""  # a later page seeks to its cursor
    for walk in walks:  # an index in the views' own order: the status's newest first, nothing sorted but the page
        assert re.fullmatch(rf"SEARCH c USING (COVERING )?INDEX {index} \({re.escape(by + seek)}\)", walk), steps
    assert not any(s == "SCAN c" or s.startswith("SCAN c ") for s in steps), steps


def test_the_wallboard_counts_open_ones_from_an_index_alone(db: sqlite3.Connection) -> None:
    steps = plan(db, _OPEN)
    assert steps == ["SCAN conversations USING COVERING INDEX conversations_open_board"], steps
    (run,) = plans_of(db, _open)  # the statement the board runs is that one
    assert run == steps


def test_the_agents_loads_are_counted_from_an_index_alone(db: sqlite3.Connection) -> None:
    # the partial index's order is the grouping's: one walk of the assigned ones, nothing sorted
    steps = plan(db, AGENT_LOADS)
    assert len(steps) == 1 and "INDEX conversations_load " in steps[0], steps
