"""The wallboard's SQL on PostgreSQL. Mixed into ``PostgresStore``, which
gives it the pool. As on SQLite, each read starts from the open conversations
by the status index, and the unanswered check is one probe of the messages'
index per open conversation; the teams' cutoffs go in as two arrays, so the
SLA count is one statement however many teams there are."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from router.models import ConversationStatus
from router.store.pg_engine import PgConn, PgConnections
from router.wallboard.store import OpenCount, QueuedValue, SlaCount, WallboardStore

# a snoozed conversation waits for nobody, but an assigned one still holds its agent's capacity (the
# assigner's agent_loads and offer count it): "with agents" counts it, as "busy" and "load" do
_OPEN = """
    SELECT team, channel, status, count(*) AS n, min(coalesce(reopened_at, created_at)) AS oldest FROM conversations
    WHERE status IN ('bot', 'queued', 'assigned') AND (snoozed_until IS NULL OR status = 'assigned')
    GROUP BY team, channel, status
"""
# a conversation without a team is matched by '' (no team is named so: teams.yaml's keys are names);
# the clock runs from the reopen, if any, and only an agent reply since then answers it
_SLA = """
    SELECT c.team, c.channel,
           count(*) FILTER (WHERE coalesce(c.reopened_at, c.created_at) < t.cutoff) AS breached,
           min(coalesce(c.reopened_at, c.created_at))
               FILTER (WHERE coalesce(c.reopened_at, c.created_at) >= t.cutoff) AS next_due
    FROM conversations c
    JOIN unnest($1::text[], $2::timestamptz[]) AS t(team, cutoff) ON coalesce(c.team, '') = t.team
    WHERE c.status IN ('queued', 'assigned') AND c.snoozed_until IS NULL
      AND NOT EXISTS (SELECT 1 FROM messages m
                      WHERE m.conversation_id = c.id AND m.direction = 'out' AND m.author = 'agent'
                        AND (c.reopened_at IS NULL OR m.created_at >= c.reopened_at))
    GROUP BY c.team, c.channel
"""
# the attributes as JSON text, decoded by the caller: a tier or a value may be any JSON. Each queued
# conversation's customer by its key (the lateral subquery, kept apart by OFFSET 0): as a plain join the
# planner scans every customer at 100,000 of them, a cost that grows with the customers, not the queue
_VALUES = """
    SELECT c.team, c.channel, v.tier, v.ltv, count(*) AS n
    FROM conversations c
    CROSS JOIN LATERAL (SELECT u.attributes->'tier' AS tier, u.attributes->'lifetime_value' AS ltv
                        FROM customers u WHERE u.id = c.customer_id OFFSET 0) AS v
    WHERE c.status = 'queued' AND c.snoozed_until IS NULL
    GROUP BY c.team, c.channel, v.tier, v.ltv
"""


def _json(value: object) -> object:
    # asyncpg gives jsonb as its text
    return None if value is None else json.loads(str(value))


async def _open(conn: PgConn) -> list[OpenCount]:
    return [OpenCount(r["team"], r["channel"], ConversationStatus(r["status"]), r["n"], r["oldest"])
            for r in await conn.fetch(_OPEN)]


async def _sla(conn: PgConn, teams: list[str], cutoffs: list[datetime]) -> list[SlaCount]:
    return [SlaCount(r["team"], r["channel"], r["breached"], r["next_due"])
            for r in await conn.fetch(_SLA, teams, cutoffs)]


async def _values(conn: PgConn) -> list[QueuedValue]:
    return [QueuedValue(r["team"], r["channel"], _json(r["tier"]), _json(r["ltv"]), r["n"])
            for r in await conn.fetch(_VALUES)]


class PostgresWallboard(WallboardStore, PgConnections):
    """The wallboard's reads over the pool of the store it is mixed into."""

    async def open_counts(self) -> list[OpenCount]:
        return await self._pg.read(_open)

    async def sla_counts(self, cutoffs: Mapping[str | None, datetime]) -> list[SlaCount]:
        if not cutoffs:
            return []
        return await self._pg.read(_sla, [team or "" for team in cutoffs], list(cutoffs.values()))

    async def queued_values(self) -> list[QueuedValue]:
        return await self._pg.read(_values)
