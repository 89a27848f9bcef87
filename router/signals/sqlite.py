"""The read marks' SQL on SQLite. Mixed into ``SQLiteStore``, which gives it
the writer and reader connections. Counts are read, never kept: a count is the
customer's messages stored after the agent's mark, found by the messages' index on
(conversation, rowid) and cut at a cap, so a conversation the agent never
opened costs at most ``cap`` index steps."""

from __future__ import annotations

import sqlite3

from router.models import IdentityRef
from router.signals.store import ReadMark, ReadStore
from router.store.engine import Connections
from router.store.errors import NotFound
from router.store.rows import fetch_all as _all
from router.store.rows import fetch_one as _one
from router.store.rows import from_ts

# marks and counts go by the order messages were stored (the rowid: the one writer gives it in
# commit order; migration 20 indexes it per conversation), never by their time: a message stored
# after the mark but stamped earlier (a platform's clock, a slow ingest) is still unread
_ORDER_OF = "(SELECT rowid FROM messages WHERE id = {})"
# the latest message when none is named; the named one only if it is of this conversation
_MARK = f"""
    INSERT INTO conversation_reads (agent_id, conversation_id, message_id, read_at)
    SELECT :agent, m.conversation_id, m.id, m.created_at FROM messages m
    WHERE m.conversation_id = :conversation AND (:message IS NULL OR m.id = :message)
    ORDER BY m.rowid DESC LIMIT 1
    ON CONFLICT (agent_id, conversation_id) DO UPDATE
        SET message_id = excluded.message_id, read_at = excluded.read_at
        WHERE {_ORDER_OF.format("excluded.message_id")} > {_ORDER_OF.format("conversation_reads.message_id")}
"""
# a scalar subquery per conversation, cut at the cap; the mark is NULL for a conversation never opened
_COUNT = f"""
    (SELECT count(*) FROM (SELECT 1 FROM messages m
        WHERE m.conversation_id = c.id AND m.direction = 'in'
            AND m.rowid > coalesce({_ORDER_OF.format("r.message_id")}, 0)
        LIMIT :cap))
"""


def _mark(conn: sqlite3.Connection, agent_id: str, conversation_id: str, message_id: str | None) -> ReadMark:
    if _one(conn, "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)) is None:
        raise NotFound(f"conversation {conversation_id}")
    if message_id is not None and _one(conn, "SELECT 1 FROM messages WHERE id = ? AND conversation_id = ?",
                                       (message_id, conversation_id)) is None:
        raise NotFound(f"message {message_id} in conversation {conversation_id}")
    conn.execute(_MARK, {"agent": agent_id, "conversation": conversation_id, "message": message_id})
    row = _one(conn, "SELECT * FROM conversation_reads WHERE agent_id = ? AND conversation_id = ?",
               (agent_id, conversation_id))
    if row is None:  # a conversation without a message yet: nothing to have read
        raise NotFound(f"message in conversation {conversation_id}")
    return ReadMark(row["agent_id"], row["conversation_id"], row["message_id"], from_ts(row["read_at"]))


def _counts(conn: sqlite3.Connection, agent_id: str, conversation_ids: list[str], cap: int) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(conversation_ids), 500):  # within SQLite's variables per statement
        chunk = conversation_ids[start:start + 500]
        params: dict[str, object] = {"agent": agent_id, "cap": cap}
        params.update({f"c{i}": cid for i, cid in enumerate(chunk)})
        names = ", ".join(f":c{i}" for i in range(len(chunk)))
        rows = _all(conn, f"SELECT c.id, {_COUNT} AS unread FROM conversations c"
                          " LEFT JOIN conversation_reads r ON r.agent_id = :agent AND r.conversation_id = c.id"
                          f" WHERE c.id IN ({names})", params)
        found.update({row["id"]: row["unread"] for row in rows})
    return found


def _assigned(conn: sqlite3.Connection, agent_id: str, cap: int) -> dict[str, int]:
    rows = _all(conn, f"SELECT c.id, {_COUNT} AS unread FROM conversations c"
                      " LEFT JOIN conversation_reads r ON r.agent_id = :agent AND r.conversation_id = c.id"
                      " WHERE c.status = 'assigned' AND c.agent_id = :agent", {"agent": agent_id, "cap": cap})
    return {row["id"]: row["unread"] for row in rows}


_OPEN_OF = """
    SELECT c.id FROM identities i
    JOIN conversations c ON c.customer_id = i.customer_id AND c.status != 'resolved'
    WHERE i.kind = ? AND i.value = ?
"""
# the open conversation's last customer message, and whether some agent's mark reaches it
_LAST_SEEN = f"""
    SELECT m.id, m.sender_kind, m.sender_value, EXISTS (
        SELECT 1 FROM conversation_reads r
        WHERE r.conversation_id = m.conversation_id AND {_ORDER_OF.format("r.message_id")} >= m.rowid
    ) AS seen
    FROM identities i
    JOIN conversations c ON c.customer_id = i.customer_id AND c.status != 'resolved'
    JOIN messages m ON m.conversation_id = c.id AND m.direction = 'in'
    WHERE i.kind = ? AND i.value = ?
    ORDER BY m.rowid DESC LIMIT 1
"""


def _open_of(conn: sqlite3.Connection, kind: str, value: str) -> str | None:
    row = _one(conn, _OPEN_OF, (kind, value))
    return None if row is None else str(row["id"])


def _seen(conn: sqlite3.Connection, kind: str, value: str) -> str | None:
    row = _one(conn, _LAST_SEEN, (kind, value))
    if row is None or not row["seen"] or (row["sender_kind"], row["sender_value"]) != (kind, value):
        return None
    return str(row["id"])


class SQLiteReads(ReadStore, Connections):
    """Read marks over the connections of the store it is mixed into."""

    async def mark_read(self, agent_id: str, conversation_id: str, message_id: str | None) -> ReadMark:
        return await self._w.call(_mark, agent_id, conversation_id, message_id)

    async def unread_counts(self, agent_id: str, conversation_ids: list[str], cap: int) -> dict[str, int]:
        if not conversation_ids:
            return {}
        return await self._r.call(_counts, agent_id, conversation_ids, cap)

    async def assigned_unread(self, agent_id: str, cap: int) -> dict[str, int]:
        return await self._r.call(_assigned, agent_id, cap)

    async def open_conversation_of(self, sender: IdentityRef) -> str | None:
        return await self._r.call(_open_of, sender.kind, sender.value)

    async def seen_message(self, sender: IdentityRef) -> str | None:
        return await self._r.call(_seen, sender.kind, sender.value)
