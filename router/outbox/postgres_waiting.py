"""Entries waiting for their recipient, on PostgreSQL (``OutboxStore.outbox_wait``
and ``outbox_reached``): a site-chat reply that no node could push to a socket
waits, out of the pending queue, until a node says the visitor has it. Mixed
into ``PostgresStore`` beside ``PostgresOutbox``; each write holds the lock
its method's docstring names (``router.outbox.store``)."""

from __future__ import annotations

from datetime import datetime

from router.models import Delivery, Message
from router.outbox.store import OutboxStore
from router.store.pg_engine import PgConn, PgConnections
from router.store.rows import message_row


async def _wait(conn: PgConn, entry_id: str, node: str | None) -> None:
    await conn.execute("UPDATE outbox SET status = 'waiting', lease_until = NULL WHERE id = $1 AND status = 'pending'"
                       " AND lease_owner IS NOT DISTINCT FROM $2", entry_id, node)


async def _reached(conn: PgConn, channel: str, recipient: str, message_ids: list[str]) -> list[Message]:
    # the rows locked, and re-read as still waiting or pending under the lock (READ COMMITTED
    # re-checks the WHERE of a row another transaction changed), in one order: two nodes
    # marking the same visitor's entries cannot deadlock
    entries = await conn.fetch(
        "SELECT id, message_id FROM outbox WHERE message_id = ANY($1::text[]) AND status IN ('pending', 'waiting')"
        " AND payload->>'channel' = $2 AND payload->>'recipient' = $3 ORDER BY seq FOR UPDATE",
        message_ids, channel, recipient)
    reached: list[Message] = []
    for entry in entries:
        await conn.execute(
            "UPDATE outbox AS o SET status = 'sent', attempts = o.attempts + 1, last_error = NULL,"
            " payload = jsonb_set(o.payload, '{text}', coalesce(to_jsonb(m.text), 'null')) FROM messages AS m"
            " WHERE o.id = $1 AND m.id = o.message_id", entry["id"])
        row = await conn.fetchrow(
            "UPDATE messages SET delivery = $1, delivery_error = NULL WHERE id = $2 RETURNING *",
            Delivery.SENT.value, entry["message_id"])
        if row is not None:
            reached.append(message_row(row))
    return reached


class PostgresOutboxWaiting(OutboxStore, PgConnections):
    async def outbox_wait(self, entry_id: str, node: str | None = None) -> None:
        await self._pg.write(_wait, entry_id, node)

    async def outbox_reached(self, channel: str, recipient: str, message_ids: list[str],
                             now: datetime) -> list[Message]:
        if not message_ids:
            return []
        return await self._pg.write(_reached, channel, recipient, message_ids)
