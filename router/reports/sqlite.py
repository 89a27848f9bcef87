"""The reports' reads on SQLite (the reader connection: nothing here writes)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from router.reports.cycles import COLUMNS as CYCLE_COLUMNS
from router.reports.cycles import RATED_TIER, facts
from router.reports.events import COLUMNS, ConversationEvent, CycleFacts, Kind, Rating
from router.reports.gc_pause import paused
from router.reports.store import CycleCursor, ReportStore
from router.store.engine import Connections
from router.store.rows import from_ts, ts

# the conversations (re)opened in the range, by the index on (at, kind), then all their events
_IN_RANGE = (
    f"SELECT {COLUMNS} FROM conversation_events WHERE conversation_id IN ("
    "SELECT conversation_id FROM conversation_events WHERE at >= ? AND at < ? AND kind IN ('opened', 'reopened'))"
    " ORDER BY conversation_id, seq"
)
# by the index on (start_at, start_seq): a page seeks past the last one's cursor
# (the first page's cursor is (since, -1): each page seeks to where it starts, not past the pages before it)
_CYCLES = (f"SELECT {CYCLE_COLUMNS} FROM conversation_cycles WHERE (start_at, start_seq) > (?, ?)"
           " AND start_at < ? ORDER BY start_at, start_seq LIMIT ?")
_OF = f"SELECT {COLUMNS} FROM conversation_events WHERE conversation_id = ? ORDER BY seq"
# one writer: rowids are given in commit order, so the seq alone is a cursor
_AFTER = f"SELECT {COLUMNS} FROM conversation_events WHERE seq > ? ORDER BY seq LIMIT ?"
_END = "SELECT COALESCE(MAX(seq), 0) FROM conversation_events"
_RATINGS = (f"SELECT conversation_id, rating, answered_at, team, channel, agent_id, {RATED_TIER} FROM csat_surveys s"
            " WHERE rating IS NOT NULL AND answered_at >= ? AND answered_at < ? ORDER BY answered_at, id")


def _rows(conn: sqlite3.Connection, sql: str, params: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(sql, params).fetchall()]


_KINDS = {k.value: k for k in Kind}  # a dict lookup: Kind(value) costs several times more, per event


def event(row: tuple[Any, ...] | Any) -> ConversationEvent:
    """A row of COLUMNS, from either backend."""
    values = list(row)
    values[3] = _KINDS[values[3]]
    values[4] = from_ts(values[4])
    return ConversationEvent(*values)


def _events_of_many(conn: sqlite3.Connection, ids: list[str]) -> list[ConversationEvent]:
    marks = ", ".join("?" * len(ids))
    sql = f"SELECT {COLUMNS} FROM conversation_events WHERE conversation_id IN ({marks}) ORDER BY conversation_id, seq"
    return [event(r) for r in conn.execute(sql, ids)] if ids else []


def _cycles(conn: sqlite3.Connection, params: tuple[Any, ...]) -> list[CycleFacts]:
    with paused():
        return [facts(r) for r in conn.execute(_CYCLES, params)]


class SQLiteReports(ReportStore, Connections):
    async def conversation_events(self, since: datetime, until: datetime) -> list[ConversationEvent]:
        return [event(r) for r in await self._r.call(_rows, _IN_RANGE, (ts(since), ts(until)))]

    async def cycles(self, since: datetime, until: datetime, after: CycleCursor | None, limit: int
                     ) -> list[CycleFacts]:
        at, seq = after if after is not None else (since, -1)
        # converted on the reader's thread, never on the event loop
        return await self._r.call(_cycles, (ts(max(at, since)), seq, ts(until), limit))

    async def events_of_many(self, conversation_ids: Sequence[str]) -> list[ConversationEvent]:
        # converted on the reader's thread, never on the event loop
        return await self._r.call(_events_of_many, list(conversation_ids))

    async def events_of(self, conversation_id: str) -> list[ConversationEvent]:
        return [event(r) for r in await self._r.call(_rows, _OF, (conversation_id,))]

    async def ratings(self, since: datetime, until: datetime) -> list[Rating]:
        rows = await self._r.call(_rows, _RATINGS, (ts(since), ts(until)))
        return [Rating(r[0], int(r[1]), from_ts(r[2]), r[3], r[4], r[5], r[6]) for r in rows]

    async def event_cursor(self) -> str:
        rows = await self._r.call(_rows, _END, ())
        return str(rows[0][0])

    async def events_after(self, cursor: str, limit: int) -> tuple[list[ConversationEvent], str]:
        found = [event(r) for r in await self._r.call(_rows, _AFTER, (int(cursor), limit))]
        return found, str(found[-1].seq) if found else cursor
