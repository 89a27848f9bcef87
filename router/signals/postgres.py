"""The read marks' SQL on PostgreSQL. Mixed into ``PostgresStore``, which gives
it the pool (``router.store.pg_engine``). As on SQLite, counts are read, never
kept: the customer's messages stored after the agent's mark, by the messages'
index on (conversation, seq), cut at a cap."""

from __future__ import annotations

from router.models import IdentityRef
from router.signals.store import ReadMark, ReadStore
from router.store.errors import NotFound
from router.store.pg_engine import PgConn, PgConnections

# marks and counts go by the messages' seq (the order they were stored; migration 14 indexes
# it per conversation), never by their time: a message stored after the mark but stamped
# earlier (a platform's clock, another node's clock) is still unread. A seq is taken at insert,
# so a message whose transaction commits after a later-numbered one was read can still be
# missed: a window of one transaction, where a time's is any clock skew
_ORDER_OF = "(SELECT seq FROM messages WHERE id = {})"
# the latest message when none is named; a later mark already there stays (checked again by
# PostgreSQL on a row another writer held: the single statement needs no lock of its own)
_MARK = f"""
    INSERT INTO conversation_reads AS r (agent_id, conversation_id, message_id, read_at)
    SELECT $1, m.conversation_id, m.id, m.created_at FROM messages m
    WHERE m.conversation_id = $2 AND ($3::text IS NULL OR m.id = $3)
    ORDER BY m.seq DESC LIMIT 1
    ON CONFLICT (agent_id, conversation_id) DO UPDATE
        SET message_id = excluded.message_id, read_at = excluded.read_at
        WHERE {_ORDER_OF.format("excluded.message_id")} > {_ORDER_OF.format("r.message_id")}
"""
_COUNT = f"""
    CROSS JOIN LATERAL (SELECT count(*) AS unread FROM (SELECT 1 FROM messages m
        WHERE m.conversation_id = c.id AND m.direction = 'in'
            AND m.seq > coalesce({_ORDER_OF.format("r.message_id")}, 0)
        LIMIT $2) AS after_mark) AS n
"""
_OPEN_OF = """
    SELECT c.id FROM identities i
    JOIN conversations c ON c.customer_id = i.customer_id AND c.status <> 'resolved'
    WHERE i.kind = $1 AND i.value = $2
"""
_LAST_SEEN = f"""
    SELECT m.id, m.sender_kind, m.sender_value, EXISTS (
        SELECT 1 FROM conversation_reads r
        WHERE r.conversation_id = m.conversation_id AND {_ORDER_OF.format("r.message_id")} >= m.seq
    ) AS seen
    FROM identities i
    JOIN conversations c ON c.customer_id = i.customer_id AND c.status <> 'resolved'
    JOIN messages m ON m.conversation_id = c.id AND m.direction = 'in'
    WHERE i.kind = $1 AND i.value = $2
    ORDER BY m.seq DESC LIMIT 1
"""


async def _mark(conn: PgConn, agent_id: str, conversation_id: str, message_id: str | None) -> ReadMark:
    if await conn.fetchval("SELECT 1 FROM conversations WHERE id = $1", conversation_id) is None:
        raise NotFound(f"conversation {conversation_id}")
    if message_id is not None and await conn.fetchval(
            "SELECT 1 FROM messages WHERE id = $1 AND conversation_id = $2", message_id, conversation_id) is None:
        raise NotFound(f"message {message_id} in conversation {conversation_id}")
    await conn.execute(_MARK, agent_id, conversation_id, message_id)
    row = await conn.fetchrow("SELECT * FROM conversation_reads WHERE agent_id = $1 AND conversation_id = $2",
                              agent_id, conversation_id)
    if row is None:  # a conversation without a message yet: nothing to have read
        raise NotFound(f"message in conversation {conversation_id}")
    return ReadMark(row["agent_id"], row["conversation_id"], row["message_id"], row["read_at"])


async def _counts(conn: PgConn, agent_id: str, conversation_ids: list[str], cap: int) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT c.id, n.unread FROM conversations c"
        " LEFT JOIN conversation_reads r ON r.agent_id = $1 AND r.conversation_id = c.id"
        f" {_COUNT} WHERE c.id = ANY($3::text[])", agent_id, cap, conversation_ids)
    return {row["id"]: row["unread"] for row in rows}


async def _assigned(conn: PgConn, agent_id: str, cap: int) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT c.id, n.unread FROM conversations c"
        " LEFT JOIN conversation_reads r ON r.agent_id = $1 AND r.conversation_id = c.id"
        f" {_COUNT} WHERE c.status = 'assigned' AND c.agent_id = $1", agent_id, cap)
    return {row["id"]: row["unread"] for row in rows}


async def _open_of(conn: PgConn, kind: str, value: str) -> str | None:
    found = await conn.fetchval(_OPEN_OF, kind, value)
    return None if found is None else str(found)


async def _seen(conn: PgConn, kind: str, value: str) -> str | None:
    row = await conn.fetchrow(_LAST_SEEN, kind, value)
    if row is None or not row["seen"] or (row["sender_kind"], row["sender_value"]) != (kind, value):
        return None
    return str(row["id"])


class PostgresReads(ReadStore, PgConnections):
    """Read marks over the pool of the store it is mixed into."""

    async def mark_read(self, agent_id: str, conversation_id: str, message_id: str | None) -> ReadMark:
        return await self._pg.write(_mark, agent_id, conversation_id, message_id)

    async def unread_counts(self, agent_id: str, conversation_ids: list[str], cap: int) -> dict[str, int]:
        if not conversation_ids:
            return {}
        return await self._pg.read(_counts, agent_id, conversation_ids, cap)

    async def assigned_unread(self, agent_id: str, cap: int) -> dict[str, int]:
        return await self._pg.read(_assigned, agent_id, cap)

    async def open_conversation_of(self, sender: IdentityRef) -> str | None:
        return await self._pg.read(_open_of, sender.kind, sender.value)

    async def seen_message(self, sender: IdentityRef) -> str | None:
        return await self._pg.read(_seen, sender.kind, sender.value)
