"""The wallboard's SQL on SQLite. Mixed into ``SQLiteStore``, which gives it
the reader connection. Each read starts from the open conversations by the
status index (``conversations_activity_id``: status first), so 100,000 resolved
conversations cost nothing; the unanswered check is one probe of the
messages' index on (conversation, ...) per open conversation."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import datetime

from router.models import ConversationStatus
from router.store.engine import Connections
from router.store.rows import fetch_all as _all
from router.store.rows import from_ts, ts
from router.wallboard.store import OpenCount, QueuedValue, SlaCount, WallboardStore

# a snoozed conversation waits for nobody, but an assigned one still holds its agent's capacity (the
# assigner's agent_loads and offer count it): "with agents" counts it, as "busy" and "load" do.
# Named index (migration 30): it holds every column read, so 50,000 open ones are counted from it
# alone; SQLite, without statistics, would walk the status index and read each row (0.6 s at 1M)
_OPEN = """
    SELECT team, channel, status, count(*) AS n, min(coalesce(reopened_at, created_at)) AS oldest
    FROM conversations INDEXED BY conversations_open_board
    WHERE status IN ('bot', 'queued', 'assigned') AND (snoozed_until IS NULL OR status = 'assigned')
    GROUP BY team, channel, status
"""
# one team's unanswered conversations (``c.team IS ?``: None is no team); the clock runs from
# the reopen, if any, and only an agent reply since then answers it
_SLA = """
    SELECT c.channel, sum(coalesce(c.reopened_at, c.created_at) < :cutoff) AS breached,
           min(CASE WHEN coalesce(c.reopened_at, c.created_at) >= :cutoff
                    THEN coalesce(c.reopened_at, c.created_at) END) AS next_due
    FROM conversations c
    WHERE c.status IN ('queued', 'assigned') AND c.snoozed_until IS NULL AND c.team IS :team
      AND NOT EXISTS (SELECT 1 FROM messages m
                      WHERE m.conversation_id = c.id AND m.direction = 'out' AND m.author = 'agent'
                        AND (c.reopened_at IS NULL OR m.created_at >= c.reopened_at))
    GROUP BY c.channel
"""
# the attributes as JSON text (``->``), decoded here as the customer's record is: json_extract would give
# JSON true as 1 and an object as its text, not the values the rules read (and PostgreSQL gives)
_VALUES = """
    SELECT c.team, c.channel, u.attributes -> '$.tier' AS tier,
           u.attributes -> '$.lifetime_value' AS ltv, count(*) AS n
    FROM conversations c JOIN customers u ON u.id = c.customer_id
    WHERE c.status = 'queued' AND c.snoozed_until IS NULL
    GROUP BY c.team, c.channel, tier, ltv
"""


def _open(conn: sqlite3.Connection) -> list[OpenCount]:
    return [OpenCount(r["team"], r["channel"], ConversationStatus(r["status"]), r["n"], from_ts(r["oldest"]))
            for r in _all(conn, _OPEN)]


def _sla(conn: sqlite3.Connection, cutoffs: list[tuple[str | None, str]]) -> list[SlaCount]:
    found: list[SlaCount] = []
    for team, cutoff in cutoffs:  # a few teams: one indexed read each, in one read transaction
        for r in _all(conn, _SLA, {"team": team, "cutoff": cutoff}):
            due = r["next_due"]
            found.append(SlaCount(team, r["channel"], r["breached"] or 0, None if due is None else from_ts(due)))
    return found


def _json(value: str | None) -> object:
    return None if value is None else json.loads(value)


def _values(conn: sqlite3.Connection) -> list[QueuedValue]:
    return [QueuedValue(r["team"], r["channel"], _json(r["tier"]), _json(r["ltv"]), r["n"])
            for r in _all(conn, _VALUES)]


class SQLiteWallboard(WallboardStore, Connections):
    """The wallboard's reads over the connections of the store it is mixed into."""

    async def open_counts(self) -> list[OpenCount]:
        return await self._r.call(_open)

    async def sla_counts(self, cutoffs: Mapping[str | None, datetime]) -> list[SlaCount]:
        if not cutoffs:
            return []
        return await self._r.call(_sla, [(team, ts(cut)) for team, cut in cutoffs.items()])

    async def queued_values(self) -> list[QueuedValue]:
        return await self._r.call(_values)
