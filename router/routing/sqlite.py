"""Routing's SQL on SQLite: agents' presence, the queue, the loads and the
offers. Mixed into ``SQLiteStore``, which gives it the writer and reader
connections; storage and atomicity only: each transaction reads the rows a
step depends on and asks the rules of ``router.routing.service`` (the
capacity rule, the serving order, a lapsed offer, idle time)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from router.models import AgentPresence, ConversationStatus, ConversationView, Presence
from router.routing.service import SERVING_ORDER, OfferState, idle_since, offer_lapsed, offer_refusal
from router.routing.sql import ABSENT, STRANDED
from router.routing.store import AssignmentStore, ReleasedOffer
from router.store.engine import Connections
from router.store.errors import ConflictError, NotFound
from router.store.rows import CONVERSATION_SELECT as _CONV_SELECT
from router.store.rows import conversation_row as _conversation
from router.store.rows import conversation_view as _conv_view
from router.store.rows import execute as _execute
from router.store.rows import fetch_all as _all
from router.store.rows import fetch_one as _one
from router.store.rows import from_ts as _ts
from router.store.rows import ts


def _presence(r: sqlite3.Row) -> AgentPresence:
    return AgentPresence(agent_id=r["agent_id"], presence=Presence(r["presence"]), changed_at=_ts(r["changed_at"]),
                         idle_since=_ts(r["idle_since"]))


def _set_presence(conn: sqlite3.Connection, agent_id: str, presence: Presence, now: str) -> AgentPresence:
    # the agent's row is the step's lock (FOR UPDATE elsewhere; SQLite's one
    # writer here): the previous presence read below is still current when written
    agent = _one(conn, "SELECT active FROM agents WHERE id = ?", (agent_id,))
    if agent is None:
        raise NotFound(f"agent {agent_id}")
    if not agent["active"] and presence is not Presence.OFFLINE:
        raise ConflictError(f"agent {agent_id} is deactivated")
    before = _one(conn, "SELECT * FROM agent_presence WHERE agent_id = ?", (agent_id,))
    idle = idle_since(_presence(before) if before is not None else None, _ts(now))
    conn.execute(
        "INSERT INTO agent_presence (agent_id, presence, changed_at, idle_since) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (agent_id) DO UPDATE SET presence = excluded.presence, changed_at = excluded.changed_at,"
        " idle_since = excluded.idle_since",
        (agent_id, presence.value, now, ts(idle)),
    )
    row = _one(conn, "SELECT * FROM agent_presence WHERE agent_id = ?", (agent_id,))
    assert row is not None
    return _presence(row)


def _offer(
    conn: sqlite3.Connection, conversation_id: str, agent_id: str, capacity: int, now: str,
    expected: frozenset[ConversationStatus], online: bool,
) -> ConversationView:
    # SQLite's one writer holds the conversation and the agent until this returns
    # (elsewhere: the conversation's row, then the agent's, FOR UPDATE): no other
    # offer can fill the agent between the count and the update, and no
    # set_presence can write back an idle time read before this one's
    row = _one(conn, "SELECT status, channel_kind, agent_id, snoozed_until FROM conversations WHERE id = ?",
               (conversation_id,))
    if row is None:
        raise NotFound(f"conversation {conversation_id}")
    load = _one(
        conn, "SELECT COUNT(*) FROM conversations WHERE status = 'assigned' AND agent_id = ? AND channel_kind = ?",
        (agent_id, row["channel_kind"]),
    )
    # an id with no account is not refused (as on PostgreSQL): the assigner offers to accounts only
    agent = _one(conn, "SELECT active FROM agents WHERE id = ?", (agent_id,))
    presence = _one(conn, "SELECT presence FROM agent_presence WHERE agent_id = ?", (agent_id,)) if online else None
    state = OfferState(ConversationStatus(row["status"]), row["agent_id"], row["channel_kind"],
                       load[0] if load is not None else 0, agent is None or bool(agent["active"]),
                       row["snoozed_until"] is not None, Presence(presence[0]) if presence is not None else None)
    if (refusal := offer_refusal(conversation_id, agent_id, capacity, expected, state, online=online)) is not None:
        raise refusal
    conn.execute(
        "UPDATE conversations SET status = 'assigned', agent_id = ?, assigned_at = ?, opened_at = NULL,"
        " updated_at = ? WHERE id = ?",
        (agent_id, now, now, conversation_id),
    )
    conn.execute("UPDATE agent_presence SET idle_since = ? WHERE agent_id = ?", (now, agent_id))
    return _conv_view(conn, conversation_id)


# each agent's assigned conversations by kind: the partial index holds them all (agent and kind), so
# they are counted from it alone; SQLite, without statistics, would walk the status index and read
# each row of the table (0.2 s at 12,500 assigned of 1,000,000)
AGENT_LOADS = ("SELECT agent_id, channel_kind, COUNT(*) FROM conversations INDEXED BY conversations_load"
               " WHERE status = 'assigned' AND agent_id IS NOT NULL GROUP BY agent_id, channel_kind")


@dataclass(frozen=True, slots=True)
class Lapsed:
    """An unopened offer as ``lapsed_offers`` read it: the agent it was made
    to (the requeue clears it) and when, which the requeue checks again."""

    conversation_id: str
    agent_id: str
    assigned_at: str


def lapsed_offers(conn: sqlite3.Connection, agent_id: str | None, offered_before: str | None) -> list[Lapsed]:
    """The offers not yet opened (one agent's, or everyone's) that lapsed by the rule."""
    where = "status = 'assigned' AND assigned_at IS NOT NULL AND opened_at IS NULL"
    params: list[Any] = []
    if agent_id is not None:
        where += " AND agent_id = ?"
        params.append(agent_id)
    bound = _ts(offered_before) if offered_before is not None else None
    rows = _all(conn, f"SELECT id, agent_id, assigned_at FROM conversations WHERE {where}", params)
    return [Lapsed(r["id"], r["agent_id"], r["assigned_at"])
            for r in rows if offer_lapsed(_ts(r["assigned_at"]), bound)]


def requeue(conn: sqlite3.Connection, offers: list[Lapsed], now: str) -> list[ReleasedOffer]:
    """Put each offer read by ``lapsed_offers`` back in the queue, only if it
    is still that offer: not opened, nor transferred or offered again, since
    it was read. Each UPDATE checks the row it changes (one statement each),
    so on a backend where another writer can land between the read and the
    write, an offer the agent opened meanwhile stays theirs."""
    released = []
    for offer in offers:
        changed = conn.execute(
            "UPDATE conversations SET status = 'queued', agent_id = NULL, assigned_at = NULL, updated_at = ?"
            " WHERE id = ? AND status = 'assigned' AND opened_at IS NULL AND agent_id = ? AND assigned_at = ?",
            (now, offer.conversation_id, offer.agent_id, offer.assigned_at),
        ).rowcount
        if changed == 1:
            released.append(ReleasedOffer(_conv_view(conn, offer.conversation_id), offer.agent_id))
    return released


def _release_offers(
    conn: sqlite3.Connection, agent_id: str | None, now: str, offered_before: str | None
) -> list[ReleasedOffer]:
    return requeue(conn, lapsed_offers(conn, agent_id, offered_before), now)


def _serving_order() -> str:
    return ", ".join(f"c.{field} {'DESC' if descending else 'ASC'}" for field, descending in SERVING_ORDER)


class SQLiteRouting(AssignmentStore, Connections):
    """Presence, queue and offers over the connections of the store it is mixed into."""

    async def set_presence(self, agent_id: str, presence: Presence, now: datetime) -> AgentPresence:
        return await self._w.call(_set_presence, agent_id, presence, ts(now))

    async def list_presence(self) -> list[AgentPresence]:
        return [_presence(r) for r in await self._r.call(_all, "SELECT * FROM agent_presence ORDER BY agent_id")]

    async def queued_conversations(self, limit: int) -> list[ConversationView]:
        rows = await self._r.call(
            _all,  # a snoozed conversation is hidden from the agent: not offered until it wakes
            f"{_CONV_SELECT} WHERE c.status = 'queued' AND c.snoozed_until IS NULL ORDER BY {_serving_order()}"
            " LIMIT ?", (limit,)
        )
        return [_conversation(r) for r in rows]

    async def agent_loads(self) -> dict[str, dict[str, int]]:
        rows = await self._r.call(_all, AGENT_LOADS)
        loads: dict[str, dict[str, int]] = {}
        for agent_id, kind, count in rows:
            loads.setdefault(agent_id, {})[kind] = count
        return loads

    async def offer(
        self, conversation_id: str, agent_id: str, capacity: int, now: datetime,
        *, expected: frozenset[ConversationStatus] = frozenset({ConversationStatus.QUEUED}), online: bool = False,
    ) -> ConversationView:
        return await self._w.call(_offer, conversation_id, agent_id, capacity, ts(now), expected, online)

    async def release_offers(self, agent_id: str | None, now: datetime, offered_before: datetime | None = None
                             ) -> list[ReleasedOffer]:
        before = ts(offered_before) if offered_before is not None else None
        return await self._w.call(_release_offers, agent_id, ts(now), before)

    async def awaiting_first_response(self, limit: int, created_before: datetime | None = None
                                      ) -> list[ConversationView]:
        rows = await self._r.call(
            _all,
            # the clock runs from the reopen, if any: only an agent reply since then answers it
            _CONV_SELECT + " WHERE c.status IN ('queued', 'assigned') AND c.snoozed_until IS NULL"
            " AND coalesce(c.reopened_at, c.created_at) < ? AND NOT EXISTS"
            " (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'out' AND m.author = 'agent'"
            " AND (c.reopened_at IS NULL OR m.created_at >= c.reopened_at))"
            " ORDER BY coalesce(c.reopened_at, c.created_at) LIMIT ?",
            # every stored time sorts before "9999": no bound
            (ts(created_before) if created_before is not None else "9999", limit),
        )
        return [_conversation(r) for r in rows]

    async def mark_opened(self, conversation_id: str, agent_id: str, now: datetime) -> None:
        await self._w.call(
            _execute,
            "UPDATE conversations SET opened_at = ? WHERE id = ? AND agent_id = ? AND status = 'assigned'"
            " AND opened_at IS NULL",
            (ts(now), conversation_id, agent_id),
        )

    async def announce_breaches(self, conversation_ids: list[str], now: datetime) -> list[str]:
        return await self._w.call(_announce_breaches, conversation_ids, ts(now)) if conversation_ids else []

    async def return_from_offline(self, offline_before: datetime, now: datetime,
                                  seen_before: datetime | None = None) -> list[ReleasedOffer]:
        # every stored time sorts after "": without a bound, any session alive counts
        seen = ts(seen_before) if seen_before is not None else ""
        return await self._w.call(_return_from_offline, ts(offline_before), ts(now), seen)

    async def mark_absent(self, seen_before: datetime, now: datetime) -> list[AgentPresence]:
        return await self._w.call(_mark_absent, ts(seen_before), ts(now))


def _announce_breaches(conn: sqlite3.Connection, conversation_ids: list[str], now: str) -> list[str]:
    marks = ", ".join("?" * len(conversation_ids))
    rows = conn.execute(
        f"UPDATE conversations SET sla_announced_at = ? WHERE id IN ({marks}) AND (sla_announced_at IS NULL"
        " OR sla_announced_at < coalesce(reopened_at, created_at)) RETURNING id",
        (now, *conversation_ids),
    ).fetchall()
    return [str(r[0]) for r in rows]


def _return_from_offline(conn: sqlite3.Connection, offline_before: str, now: str, seen: str) -> list[ReleasedOffer]:
    rows = conn.execute(STRANDED.format(now=":now", bound=":bound", never="''", seen=":seen"),
                        {"now": now, "bound": offline_before, "seen": seen}).fetchall()
    return [ReleasedOffer(_conv_view(conn, r[0]), r[1]) for r in rows]


def _mark_absent(conn: sqlite3.Connection, seen_before: str, now: str) -> list[AgentPresence]:
    rows = conn.execute(ABSENT.format(now=":now", seen=":seen"), {"now": now, "seen": seen_before}).fetchall()
    return [_presence(r) for r in rows]
