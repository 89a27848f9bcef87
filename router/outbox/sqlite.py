"""The outbox's SQL on SQLite: the pending entries, how far a message sent in
parts got, and finishing an entry (sent or dead) with its message's delivery.
Mixed into ``SQLiteStore``, which gives it the writer and reader connections;
storage and atomicity only, the rules are in ``router.outbox.service``.
Queueing an entry is the outbound path's (``enqueue_outbound``)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from router.conversations import receipts
from router.models import Delivery, Message, OutboundMessage, OutboxEntry
from router.outbox.store import OutboxStore
from router.store.engine import Connections
from router.store.errors import NotFound
from router.store.rows import execute as _execute
from router.store.rows import fetch_all as _all
from router.store.rows import fetch_one as _one
from router.store.rows import from_ts as _ts
from router.store.rows import message_row as _message
from router.store.rows import ts


def record_part(conn: sqlite3.Connection, entry_id: str, parts_sent: int, external_id: str | None) -> None:
    """``parts_sent`` platform calls of a pending entry went out; a retry,
    even after a restart, resumes after them."""
    conn.execute(
        "UPDATE outbox SET parts_sent = ?, part_external_id = ? WHERE id = ? AND status = 'pending'",
        (parts_sent, external_id, entry_id),
    )


def keep_shown_text(conn: sqlite3.Connection, entry_id: str) -> None:
    """A finished (sent or dead) entry keeps only the text its stored message
    shows. The platform got the whole text; what the conversation masks (a
    one-time code) is then in no table. For every other message the two are
    the same and nothing is written."""
    conn.execute(
        "UPDATE outbox SET payload = json_set(outbox.payload, '$.text', m.text) FROM messages AS m"
        " WHERE outbox.id = ? AND m.id = outbox.message_id AND json_extract(outbox.payload, '$.text') IS NOT m.text",
        (entry_id,),
    )


def _outbox_entry(r: sqlite3.Row) -> OutboxEntry:
    return OutboxEntry(
        id=r["id"],
        message_id=r["message_id"],
        conversation_id=r["conversation_id"],
        payload=OutboundMessage.model_validate_json(r["payload"]),
        attempts=r["attempts"],
        next_attempt_at=_ts(r["next_attempt_at"]),
        status=r["status"],
        last_error=r["last_error"],
        parts_sent=r["parts_sent"],
        part_external_id=r["part_external_id"],
    )


def _finish_outbox(
    conn: sqlite3.Connection, entry_id: str, status: str, attempts: int | None, delivery: Delivery,
    error: str | None, external_id: str | None,
) -> Message:
    row = _one(conn, "SELECT message_id, attempts FROM outbox WHERE id = ?", (entry_id,))
    if row is None:
        raise NotFound(f"outbox entry {entry_id}")
    conn.execute(
        "UPDATE outbox SET status = ?, attempts = ?, last_error = ? WHERE id = ?",
        (status, attempts if attempts is not None else row["attempts"] + 1, error, entry_id),
    )
    keep_shown_text(conn, entry_id)
    conn.execute(
        "UPDATE messages SET delivery = ?, delivery_error = ?, external_id = COALESCE(?, external_id) WHERE id = ?",
        (delivery.value, error, external_id, row["message_id"]),
    )
    if external_id is not None:
        # a receipt that arrived before this answer was stored
        key = (row["message_id"], external_id)
        where = "WHERE channel = (SELECT channel FROM messages WHERE id = ?) AND external_id = ?"
        receipt = _one(conn, f"SELECT state, error FROM delivery_receipts {where}", key)
        conn.execute(f"DELETE FROM delivery_receipts {where}", key)
        if receipt is not None and receipts.moves_forward(delivery, Delivery(receipt["state"])):
            conn.execute("UPDATE messages SET delivery = ?, delivery_error = ? WHERE id = ?",
                         (receipt["state"], receipt["error"], row["message_id"]))
    msg = _one(conn, "SELECT * FROM messages WHERE id = ?", (row["message_id"],))
    assert msg is not None
    return _message(msg)


class SQLiteOutbox(OutboxStore, Connections):
    """The outbox over the connections of the store it is mixed into."""

    async def pending_outbox(self, limit: int) -> list[OutboxEntry]:
        rows = await self._r.call(
            _all, "SELECT * FROM outbox WHERE status = 'pending' ORDER BY created_at, rowid LIMIT ?", (limit,)
        )
        return [_outbox_entry(r) for r in rows]

    async def outbox_sent(self, entry_id: str, external_id: str | None, now: datetime) -> Message:
        return await self._w.call(_finish_outbox, entry_id, "sent", None, Delivery.SENT, None, external_id)

    async def outbox_part_sent(self, entry_id: str, parts_sent: int, external_id: str | None) -> None:
        await self._w.call(record_part, entry_id, parts_sent, external_id)

    async def outbox_retry(self, entry_id: str, attempts: int, next_attempt_at: datetime, error: str) -> None:
        await self._w.call(
            _execute,
            "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?",
            (attempts, ts(next_attempt_at), error, entry_id),
        )

    async def outbox_dead(self, entry_id: str, attempts: int, reason: str, now: datetime) -> Message:
        return await self._w.call(_finish_outbox, entry_id, "dead", attempts, Delivery.FAILED, reason, None)

    async def outbox_wait(self, entry_id: str) -> None:
        await self._w.call(_execute, "UPDATE outbox SET status = 'waiting' WHERE id = ? AND status = 'pending'",
                           (entry_id,))

    async def outbox_reached(self, channel: str, recipient: str, message_ids: list[str],
                             now: datetime) -> list[Message]:
        return await self._w.call(_reached, channel, recipient, message_ids)


def _reached(conn: sqlite3.Connection, channel: str, recipient: str, message_ids: list[str]) -> list[Message]:
    if not message_ids:
        return []
    marks = ", ".join("?" * len(message_ids))
    rows = _all(conn, "SELECT id FROM outbox WHERE status IN ('pending', 'waiting') AND message_id IN"
                f" ({marks}) AND json_extract(payload, '$.channel') = ? AND json_extract(payload, '$.recipient') = ?"
                " ORDER BY created_at, rowid", (*message_ids, channel, recipient))
    return [_finish_outbox(conn, row["id"], "sent", None, Delivery.SENT, None, None) for row in rows]
