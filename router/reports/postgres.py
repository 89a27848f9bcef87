"""The reports' reads on PostgreSQL (a pooled connection: nothing here writes)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from router.reports.cycles import COLUMNS as CYCLE_COLUMNS
from router.reports.cycles import RATED_TIER, facts
from router.reports.events import COLUMNS, ConversationEvent, CycleFacts, Rating
from router.reports.gc_pause import paused
from router.reports.sqlite import event
from router.reports.store import CycleCursor, ReportStore
from router.store.pg_engine import PgConn, PgConnections
from router.store.rows import from_ts

_IN_RANGE = (
    f"SELECT {COLUMNS} FROM conversation_events WHERE conversation_id IN ("
    "SELECT conversation_id FROM conversation_events WHERE at >= $1 AND at < $2 AND kind IN ('opened', 'reopened'))"
    " ORDER BY conversation_id, seq"
)
# (the first page's cursor is (since, -1): each page seeks to where it starts, not past the pages before it)
_CYCLES = (f"SELECT {CYCLE_COLUMNS} FROM conversation_cycles WHERE (start_at, start_seq) > ($1, $2)"
           " AND start_at < $3 ORDER BY start_at, start_seq LIMIT $4")


def _same(value: datetime) -> datetime:
    return value  # asyncpg gives timestamptz as datetime
_MANY = (f"SELECT {COLUMNS} FROM conversation_events WHERE conversation_id = ANY($1::text[])"
         " ORDER BY conversation_id, seq")
_OF = f"SELECT {COLUMNS} FROM conversation_events WHERE conversation_id = $1 ORDER BY seq"
# what every transaction older than the oldest still running committed (schema: the xid column)
_AFTER = (f"SELECT {COLUMNS}, xid::text AS xid FROM conversation_events WHERE (xid, seq) > ($1::text::xid8, $2)"
          " AND xid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY xid, seq LIMIT $3")
_END = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text"
_RATINGS = (f"SELECT conversation_id, rating, answered_at, team, channel, agent_id, {RATED_TIER} FROM csat_surveys s"
            " WHERE rating IS NOT NULL AND answered_at >= $1 AND answered_at < $2 ORDER BY answered_at, id")


async def _rows(conn: PgConn, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in await conn.fetch(sql, *args)]


async def _records(conn: PgConn, sql: str, *args: Any) -> list[Any]:
    return list(await conn.fetch(sql, *args))  # asyncpg's records as they are: read like tuples off the loop


def _facts(rows: list[Any]) -> list[CycleFacts]:
    with paused():
        return [facts(r, _same) for r in rows]


class PostgresReports(ReportStore, PgConnections):
    async def conversation_events(self, since: datetime, until: datetime) -> list[ConversationEvent]:
        return [event(r) for r in await self._pg.read(_rows, _IN_RANGE, since, until)]

    async def cycles(self, since: datetime, until: datetime, after: CycleCursor | None, limit: int
                     ) -> list[CycleFacts]:
        at, seq = after if after is not None else (since, -1)
        rows = await self._pg.read(_records, _CYCLES, max(at, since), seq, until, limit)
        return await asyncio.to_thread(_facts, rows)  # converted off the event loop

    async def events_of_many(self, conversation_ids: Sequence[str]) -> list[ConversationEvent]:
        rows = await self._pg.read(_rows, _MANY, list(conversation_ids))
        return await asyncio.to_thread(lambda: [event(r) for r in rows])  # converted off the event loop

    async def events_of(self, conversation_id: str) -> list[ConversationEvent]:
        return [event(r) for r in await self._pg.read(_rows, _OF, conversation_id)]

    async def ratings(self, since: datetime, until: datetime) -> list[Rating]:
        rows = await self._pg.read(_rows, _RATINGS, since, until)
        return [Rating(r[0], int(r[1]), from_ts(r[2]), r[3], r[4], r[5], r[6]) for r in rows]

    async def event_cursor(self) -> str:
        rows = await self._pg.read(_rows, _END)
        return f"{rows[0][0]}:-1"  # from the oldest transaction still running, all of its events

    async def events_after(self, cursor: str, limit: int) -> tuple[list[ConversationEvent], str]:
        xid, _, seq = cursor.partition(":")
        rows = await self._pg.read(_rows, _AFTER, xid, int(seq), limit)
        if not rows:
            return [], cursor
        return [event(r[:-1]) for r in rows], f"{rows[-1][-1]}:{rows[-1][0]}"
