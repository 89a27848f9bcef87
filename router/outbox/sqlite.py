"""The outbox's SQL on SQLite: claiming entries, how far a message sent in
parts got, and finishing an entry (sent or dead) with its message's delivery.
Mixed into ``SQLiteStore``, which gives it the writer and reader connections;
storage and atomicity only, the rules are in ``router.outbox.service`` and
``router.outbox.leases``. Queueing an entry is the outbound path's
(``enqueue_outbound``).

SQLite has one writer, so a claim (one unit on it) never meets another; the
leases still matter to a node's restart: whatever it held when it stopped is
found by its next claim, resumed, and counted."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from router.conversations import receipts
from router.models import Delivery, Message, OutboxEntry
from router.outbox.leases import check_holder, entry_row, resumed
from router.outbox.store import Claim, LeaseLost, OutboxStore
from router.store.engine import Connections
from router.store.errors import NotFound
from router.store.rows import execute as _execute
from router.store.rows import fetch_all as _all
from router.store.rows import fetch_one as _one
from router.store.rows import from_ts as _from_ts
from router.store.rows import message_row as _message
from router.store.rows import ts

# the first pending entry of its recipient, due, and not leased to another node;
# the recipient has no entry leased to another node (one in flight per recipient).
# The expressions are those of the index outbox_recipient (migration 11).
_CLAIMABLE = """
    SELECT o.*, o.lease_until AS held_until FROM outbox AS o
    WHERE o.status = 'pending' AND o.next_attempt_at <= :now
      AND (o.lease_until IS NULL OR o.lease_until <= :now OR o.lease_owner = :node)
      AND NOT EXISTS (
        SELECT 1 FROM outbox AS p
        WHERE p.status = 'pending'
          AND json_extract(p.payload, '$.channel') = json_extract(o.payload, '$.channel')
          AND json_extract(p.payload, '$.recipient') = json_extract(o.payload, '$.recipient')
          AND p.id <> o.id
          AND ((p.created_at, p.rowid) < (o.created_at, o.rowid)
               OR (p.lease_until > :now AND p.lease_owner IS NOT :node)))
    ORDER BY o.created_at, o.rowid LIMIT :limit
"""
_LONG_AGO = ts(datetime(2000, 1, 1, tzinfo=UTC))  # a deadline every clock has passed
# when an entry not claimable now may become so: a retry falls due, another node's lease expires
_NEXT_DUE = """
    SELECT min(max(next_attempt_at, coalesce(lease_until, next_attempt_at))) FROM outbox
    WHERE status = 'pending' AND (next_attempt_at > :now OR (lease_until > :now AND lease_owner IS NOT :node))
"""


def _claim(conn: sqlite3.Connection, node: str, limit: int, now: str, until: str) -> tuple[
        list[OutboxEntry], list[str], str | None]:
    params = {"node": node, "now": now, "limit": limit}
    rows = _all(conn, _CLAIMABLE, params)
    conn.executemany("UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE id = ?",
                     [(node, until, r["id"]) for r in rows])
    again = [r["id"] for r in rows if resumed(r["held_until"])]
    next_due = None if rows else conn.execute(_NEXT_DUE, params).fetchone()[0]
    return [entry_row(r) for r in rows], again, next_due


def expire_leases(conn: sqlite3.Connection) -> None:
    """A SQLite store is one node's, and opening it is that node's start: a
    lease still running is from before (its node id may have changed since),
    so it is made expired, and the next claim resumes the entry at once
    instead of when the lease runs out."""
    conn.execute("UPDATE outbox SET lease_until = ? WHERE status = 'pending' AND lease_until IS NOT NULL",
                 (_LONG_AGO,))


def record_part(
    conn: sqlite3.Connection, entry_id: str, parts_sent: int, external_id: str | None, node: str | None = None
) -> None:
    """``parts_sent`` platform calls of a pending entry went out; a retry,
    even after a restart, resumes after them."""
    changed = conn.execute(
        "UPDATE outbox SET parts_sent = ?, part_external_id = ?"
        " WHERE id = ? AND status = 'pending' AND lease_owner IS ?",
        (parts_sent, external_id, entry_id, node),
    ).rowcount
    if not changed and node is not None:
        raise LeaseLost(f"outbox entry {entry_id} is not leased to {node}")


def _retry(
    conn: sqlite3.Connection, entry_id: str, attempts: int, next_attempt_at: str, error: str, node: str | None
) -> None:
    changed = conn.execute(
        "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, lease_owner = NULL,"
        " lease_until = NULL WHERE id = ? AND status = 'pending' AND lease_owner IS ?",
        (attempts, next_attempt_at, error, entry_id, node),
    ).rowcount
    if not changed and node is not None:
        raise LeaseLost(f"outbox entry {entry_id} is not leased to {node}")


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


def _finish_outbox(
    conn: sqlite3.Connection, entry_id: str, status: str, attempts: int | None, delivery: Delivery,
    error: str | None, external_id: str | None, node: str | None = None,
) -> Message:
    row = _one(conn, "SELECT message_id, attempts, lease_owner, status FROM outbox WHERE id = ?", (entry_id,))
    if row is None:
        raise NotFound(f"outbox entry {entry_id}")
    check_holder(entry_id, row["lease_owner"], node, row["status"])
    conn.execute(
        "UPDATE outbox SET status = ?, attempts = ?, last_error = ?, lease_until = NULL WHERE id = ?",
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
        return [entry_row(r) for r in rows]

    async def claim_outbox(self, node: str, limit: int, now: datetime, lease: timedelta) -> Claim:
        entries, again, next_due = await self._w.call(_claim, node, limit, ts(now), ts(now + lease))
        return Claim(entries, frozenset(again), None if next_due is None else _from_ts(next_due))

    async def outbox_sent(
        self, entry_id: str, external_id: str | None, now: datetime, node: str | None = None
    ) -> Message:
        return await self._w.call(_finish_outbox, entry_id, "sent", None, Delivery.SENT, None, external_id, node)

    async def outbox_part_sent(
        self, entry_id: str, parts_sent: int, external_id: str | None, node: str | None = None
    ) -> None:
        await self._w.call(record_part, entry_id, parts_sent, external_id, node)

    async def outbox_retry(
        self, entry_id: str, attempts: int, next_attempt_at: datetime, error: str, node: str | None = None
    ) -> None:
        await self._w.call(_retry, entry_id, attempts, ts(next_attempt_at), error, node)

    async def outbox_dead(
        self, entry_id: str, attempts: int, reason: str, now: datetime, node: str | None = None
    ) -> Message:
        return await self._w.call(_finish_outbox, entry_id, "dead", attempts, Delivery.FAILED, reason, None, node)

    async def outbox_wait(self, entry_id: str, node: str | None = None) -> None:
        await self._w.call(
            _execute,
            "UPDATE outbox SET status = 'waiting', lease_until = NULL WHERE id = ? AND status = 'pending'"
            " AND lease_owner IS ?",
            (entry_id, node),
        )

    async def outbox_reached(self, channel: str, recipient: str, message_ids: list[str],
                             now: datetime) -> list[Message]:
        return await self._w.call(_reached, channel, recipient, message_ids)


def _reached(conn: sqlite3.Connection, channel: str, recipient: str, message_ids: list[str]) -> list[Message]:
    if not message_ids:
        return []
    marks = ", ".join("?" * len(message_ids))
    rows = _all(conn, "SELECT id, lease_owner FROM outbox WHERE status IN ('pending', 'waiting') AND message_id IN"
                f" ({marks}) AND json_extract(payload, '$.channel') = ? AND json_extract(payload, '$.recipient') = ?"
                " ORDER BY created_at, rowid", (*message_ids, channel, recipient))
    # the recipient has it, whichever node holds its lease: finished as that node
    return [_finish_outbox(conn, row["id"], "sent", None, Delivery.SENT, None, None, row["lease_owner"])
            for row in rows]
