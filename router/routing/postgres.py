"""Routing's SQL on PostgreSQL: agents' presence, the queue, the loads and the
offers. Mixed into ``PostgresStore``, which gives it the pool
(``router.store.pg_engine``); storage and atomicity only: each transaction
locks and reads the rows a step depends on and asks the rules of
``router.routing.service`` (the capacity rule, the serving order, a lapsed
offer, idle time). Each write holds the lock its method's docstring names
(``router.routing.store``), in the order of ``router.store.base``. The units
keep the names of ``router.routing.sqlite``'s.

Several nodes offer at once here, so what SQLite's one writer gives for free
is the row locks': an offer locks the conversation, then the agent, before
it reads the status and counts the agent's load; without them two nodes
both read "queued" and both offer it, or both count a load below capacity
and both add to it (``tests/router/store/test_contract_concurrent.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from router.models import AgentPresence, ConversationStatus, ConversationView, Presence
from router.routing.service import SERVING_ORDER, OfferState, idle_since, offer_lapsed, offer_refusal
from router.routing.sql import ABSENT, STRANDED
from router.routing.store import AssignmentStore, ReleasedOffer
from router.store.errors import ConflictError, NotFound
from router.store.pg_engine import PgConn, PgConnections, rows_changed
from router.store.pg_rows import CONVERSATION_SELECT as _CONV_SELECT
from router.store.pg_rows import conversation_view as _conv_view
from router.store.rows import conversation_row as _conversation


def _presence(r: asyncpg.Record) -> AgentPresence:
    return AgentPresence(agent_id=r["agent_id"], presence=Presence(r["presence"]), changed_at=r["changed_at"],
                         idle_since=r["idle_since"])


async def _lock_agent(conn: PgConn, agent_id: str) -> bool | None:
    """The agent's ``agents`` row ``FOR UPDATE`` to the commit (the lock of
    ``set_presence``, ``offer`` and a deactivation); whether the agent is
    active, None when there is no such agent."""
    active = await conn.fetchval("SELECT active FROM agents WHERE id = $1 FOR UPDATE", agent_id)
    return None if active is None else bool(active)


async def _set_presence(conn: PgConn, agent_id: str, presence: Presence, now: datetime) -> AgentPresence:
    active = await _lock_agent(conn, agent_id)
    if active is None:
        raise NotFound(f"agent {agent_id}")
    if not active and presence is not Presence.OFFLINE:
        raise ConflictError(f"agent {agent_id} is deactivated")
    # read under the lock: an offer's idle time written before it was granted is seen here
    before = await conn.fetchrow("SELECT * FROM agent_presence WHERE agent_id = $1", agent_id)
    idle = idle_since(_presence(before) if before is not None else None, now)
    row = await conn.fetchrow(
        "INSERT INTO agent_presence (agent_id, presence, changed_at, idle_since) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (agent_id) DO UPDATE SET presence = excluded.presence, changed_at = excluded.changed_at,"
        " idle_since = excluded.idle_since RETURNING *",
        agent_id, presence.value, now, idle,
    )
    assert row is not None
    return _presence(row)


async def _offer(
    conn: PgConn, conversation_id: str, agent_id: str, capacity: int, now: datetime,
    expected: frozenset[ConversationStatus], online: bool,
) -> ConversationView:
    # the conversation's row, then the agent's (router.store.base's order), both FOR UPDATE to the
    # commit: no other offer of this conversation reads "queued" until this one is written, and no
    # other offer to this agent counts its load until this one's conversation is in it
    row = await conn.fetchrow("SELECT status, channel_kind, agent_id, snoozed_until FROM conversations WHERE id = $1"
                              " FOR UPDATE", conversation_id)
    if row is None:
        raise NotFound(f"conversation {conversation_id}")
    # an id with no account has no row to lock; none is offered one (the assigner offers to
    # accounts), and SQLite does not refuse it either, so neither does this
    active = await _lock_agent(conn, agent_id)
    # counted after the agent's lock was granted: a statement of its own sees every offer committed before
    load = await conn.fetchval(
        "SELECT COUNT(*) FROM conversations WHERE status = 'assigned' AND agent_id = $1 AND channel_kind = $2",
        agent_id, row["channel_kind"],
    )
    # read under the agent's lock, which set_presence takes: an agent gone offline meanwhile is seen so
    presence = (await conn.fetchval("SELECT presence FROM agent_presence WHERE agent_id = $1", agent_id)
                if online else None)
    state = OfferState(ConversationStatus(row["status"]), row["agent_id"], row["channel_kind"], load or 0,
                       active is not False, row["snoozed_until"] is not None,
                       Presence(presence) if presence is not None else None)
    if (refusal := offer_refusal(conversation_id, agent_id, capacity, expected, state, online=online)) is not None:
        raise refusal
    await conn.execute(
        "UPDATE conversations SET status = 'assigned', agent_id = $1, assigned_at = $2, opened_at = NULL,"
        " updated_at = $2 WHERE id = $3",
        agent_id, now, conversation_id,
    )
    await conn.execute("UPDATE agent_presence SET idle_since = $1 WHERE agent_id = $2", now, agent_id)
    return await _conv_view(conn, conversation_id)


@dataclass(frozen=True, slots=True)
class Lapsed:
    """An unopened offer as ``lapsed_offers`` read it: the agent it was made
    to (the requeue clears it) and when, which the requeue checks again."""

    conversation_id: str
    agent_id: str
    assigned_at: datetime


async def lapsed_offers(conn: PgConn, agent_id: str | None, offered_before: datetime | None) -> list[Lapsed]:
    """The offers not yet opened (one agent's, or everyone's) that lapsed by
    the rule; in id order, so that two nodes requeueing the same offers lock
    their rows in one order and never wait for each other."""
    rows = await conn.fetch(
        "SELECT id, agent_id, assigned_at FROM conversations WHERE status = 'assigned' AND assigned_at IS NOT NULL"
        " AND opened_at IS NULL AND ($1::text IS NULL OR agent_id = $1) ORDER BY id",
        agent_id,
    )
    return [Lapsed(r["id"], r["agent_id"], r["assigned_at"])
            for r in rows if offer_lapsed(r["assigned_at"], offered_before)]


async def requeue(conn: PgConn, offers: list[Lapsed], now: datetime) -> list[ReleasedOffer]:
    """Put each offer read by ``lapsed_offers`` back in the queue, only if it
    is still that offer: not opened, nor transferred or offered again, since
    it was read. Each UPDATE's WHERE is checked again by PostgreSQL on a row
    another transaction changed meanwhile (it waits for that one's commit),
    so an offer the agent opened, or another node requeued, is left as it is
    and not returned."""
    released = []
    for offer in offers:
        changed = rows_changed(await conn.execute(
            "UPDATE conversations SET status = 'queued', agent_id = NULL, assigned_at = NULL, updated_at = $1"
            " WHERE id = $2 AND status = 'assigned' AND opened_at IS NULL AND agent_id = $3 AND assigned_at = $4",
            now, offer.conversation_id, offer.agent_id, offer.assigned_at,
        ))
        if changed == 1:
            released.append(ReleasedOffer(await _conv_view(conn, offer.conversation_id), offer.agent_id))
    return released


async def _release_offers(
    conn: PgConn, agent_id: str | None, now: datetime, offered_before: datetime | None
) -> list[ReleasedOffer]:
    return await requeue(conn, await lapsed_offers(conn, agent_id, offered_before), now)


def _serving_order() -> str:
    return ", ".join(f"{_sort_key(field)} {'DESC' if descending else 'ASC'}" for field, descending in SERVING_ORDER)


def _sort_key(field: str) -> str:
    # the id compared as bytes, as Python compares it (service.in_serving_order), whatever the
    # database's collation: a tie is served in one order on every backend
    return f'c.{field} COLLATE "C"' if field == "id" else f"c.{field}"


async def _fetch_conversations(conn: PgConn, sql: str, *args: object) -> list[ConversationView]:
    return [_conversation(r) for r in await conn.fetch(sql, *args)]


async def _list_presence(conn: PgConn) -> list[AgentPresence]:
    return [_presence(r) for r in await conn.fetch("SELECT * FROM agent_presence ORDER BY agent_id")]


async def _agent_loads(conn: PgConn) -> dict[str, dict[str, int]]:
    rows = await conn.fetch(
        "SELECT agent_id, channel_kind, COUNT(*) AS n FROM conversations WHERE status = 'assigned'"
        " AND agent_id IS NOT NULL GROUP BY agent_id, channel_kind")
    loads: dict[str, dict[str, int]] = {}
    for r in rows:
        loads.setdefault(r["agent_id"], {})[r["channel_kind"]] = r["n"]
    return loads


async def _mark_opened(conn: PgConn, conversation_id: str, agent_id: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE conversations SET opened_at = $1 WHERE id = $2 AND agent_id = $3 AND status = 'assigned'"
        " AND opened_at IS NULL", now, conversation_id, agent_id)


class PostgresRouting(AssignmentStore, PgConnections):
    """Presence, queue and offers over the pool of the store it is mixed into."""

    async def set_presence(self, agent_id: str, presence: Presence, now: datetime) -> AgentPresence:
        return await self._pg.write(_set_presence, agent_id, presence, now)

    async def list_presence(self) -> list[AgentPresence]:
        return await self._pg.read(_list_presence)

    async def queued_conversations(self, limit: int) -> list[ConversationView]:
        return await self._pg.read(
            _fetch_conversations,  # a snoozed conversation is hidden from the agent: not offered until it wakes
            f"{_CONV_SELECT} WHERE c.status = 'queued' AND c.snoozed_until IS NULL"
            f" ORDER BY {_serving_order()} LIMIT $1", limit)

    async def agent_loads(self) -> dict[str, dict[str, int]]:
        return await self._pg.read(_agent_loads)

    async def offer(
        self,
        conversation_id: str,
        agent_id: str,
        capacity: int,
        now: datetime,
        *,
        expected: frozenset[ConversationStatus] = frozenset({ConversationStatus.QUEUED}),
        online: bool = False,
    ) -> ConversationView:
        return await self._pg.write(_offer, conversation_id, agent_id, capacity, now, expected, online)

    async def release_offers(
        self, agent_id: str | None, now: datetime, offered_before: datetime | None = None
    ) -> list[ReleasedOffer]:
        return await self._pg.write(_release_offers, agent_id, now, offered_before)

    async def awaiting_first_response(
        self, limit: int, created_before: datetime | None = None
    ) -> list[ConversationView]:
        return await self._pg.read(
            _fetch_conversations,
            _CONV_SELECT + " WHERE c.status IN ('queued', 'assigned') AND c.snoozed_until IS NULL"
            # the clock runs from the reopen, if any: only an agent reply since then answers it
            " AND ($1::timestamptz IS NULL OR coalesce(c.reopened_at, c.created_at) < $1) AND NOT EXISTS"
            " (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'out' AND m.author = 'agent'"
            " AND (c.reopened_at IS NULL OR m.created_at >= c.reopened_at))"
            " ORDER BY coalesce(c.reopened_at, c.created_at) LIMIT $2",
            created_before, limit)

    async def mark_opened(self, conversation_id: str, agent_id: str, now: datetime) -> None:
        await self._pg.write(_mark_opened, conversation_id, agent_id, now)

    async def return_from_offline(self, offline_before: datetime, now: datetime,
                                  seen_before: datetime | None = None) -> list[ReleasedOffer]:
        return await self._pg.write(_return_from_offline, offline_before, now, seen_before)

    async def mark_absent(self, seen_before: datetime, now: datetime) -> list[AgentPresence]:
        return await self._pg.write(_mark_absent, seen_before, now)

    async def announce_breaches(self, conversation_ids: list[str], now: datetime) -> list[str]:
        return await self._pg.write(_announce_breaches, conversation_ids, now) if conversation_ids else []


async def _announce_breaches(conn: PgConn, conversation_ids: list[str], now: datetime) -> list[str]:
    rows = await conn.fetch(
        "UPDATE conversations SET sla_announced_at = $2 WHERE id = ANY($1::text[]) AND (sla_announced_at IS NULL"
        " OR sla_announced_at < coalesce(reopened_at, created_at)) RETURNING id",
        conversation_ids, now)
    return [str(r["id"]) for r in rows]


async def _return_from_offline(conn: PgConn, offline_before: datetime, now: datetime,
                               seen_before: datetime | None) -> list[ReleasedOffer]:
    # without a bound, any session alive counts
    rows = await conn.fetch(STRANDED.format(now="$1", bound="$2", never="'-infinity'::timestamptz",
                                            seen="coalesce($3, '-infinity'::timestamptz)"), now,
                            offline_before, seen_before)
    return [ReleasedOffer(await _conv_view(conn, r["id"]), r["preferred_agent_id"]) for r in rows]


async def _mark_absent(conn: PgConn, seen_before: datetime, now: datetime) -> list[AgentPresence]:
    return [_presence(r) for r in await conn.fetch(ABSENT.format(now="$1", seen="$2"), now, seen_before)]
