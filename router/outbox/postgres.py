"""The outbox slice's SQL on PostgreSQL. Mixed into ``PostgresStore``, which gives it
the pool (``router.store.pg_engine``); storage and atomicity only, the rules are the
slice's (``router.outbox.service``, ``router.outbox.leases``). Each write holds the lock
its method's docstring names (``router.outbox.store``); the units mirror
``router.outbox.sqlite``'s, name for name.

Every node claims from the one outbox: the claim locks what it takes ``FOR UPDATE SKIP
LOCKED``, so two nodes claiming at once take different entries and never wait for each
other; a lease then keeps the entry one node's until it finishes it or the lease runs out."""

from __future__ import annotations

from datetime import datetime, timedelta

from router.conversations import receipts
from router.models import Delivery, Message, OutboxEntry
from router.outbox.leases import check_holder, entry_row, resumed
from router.outbox.store import Claim, LeaseLost, OutboxStore
from router.store.errors import NotFound
from router.store.pg_engine import RECEIPT, PgConn, PgConnections, rows_changed
from router.store.rows import message_row as _message

# the first pending entry of its recipient, due, and not leased to another node; the
# recipient has no entry leased to another node (one in flight per recipient). A row
# another claim holds is skipped; the conditions on ``o`` itself are checked again on
# its latest version (READ COMMITTED), those on the others read from the snapshot (an
# entry only ever leaves the pending ones). The expressions are those of the index
# outbox_recipient (migration 2).
_CLAIMABLE = """
    SELECT o.*, o.lease_until AS held_until FROM outbox AS o
    WHERE o.status = 'pending' AND o.next_attempt_at <= $2
      AND (o.lease_until IS NULL OR o.lease_until <= $2 OR o.lease_owner = $1)
      AND NOT EXISTS (
        SELECT 1 FROM outbox AS p
        WHERE p.status = 'pending'
          AND p.payload->>'channel' = o.payload->>'channel'
          AND p.payload->>'recipient' = o.payload->>'recipient'
          AND p.id <> o.id
          AND ((p.created_at, p.seq) < (o.created_at, o.seq)
               OR (p.lease_until > $2 AND p.lease_owner IS DISTINCT FROM $1)))
    ORDER BY o.created_at, o.seq LIMIT $3
    FOR UPDATE OF o SKIP LOCKED
"""
# when an entry not claimable now may become so: a retry falls due, another node's lease expires
_NEXT_DUE = """
    SELECT min(GREATEST(next_attempt_at, lease_until)) FROM outbox
    WHERE status = 'pending' AND (next_attempt_at > $2 OR (lease_until > $2 AND lease_owner IS DISTINCT FROM $1))
"""


async def _claim(conn: PgConn, node: str, limit: int, now: datetime, until: datetime) -> Claim:
    rows = await conn.fetch(_CLAIMABLE, node, now, limit)
    if not rows:
        return Claim([], frozenset(), await conn.fetchval(_NEXT_DUE, node, now))
    await conn.execute("UPDATE outbox SET lease_owner = $1, lease_until = $2 WHERE id = ANY($3::text[])",
                       node, until, [r["id"] for r in rows])
    return Claim([entry_row(r) for r in rows], frozenset(r["id"] for r in rows if resumed(r["held_until"])))


async def record_part(conn: PgConn, entry_id: str, parts_sent: int, external_id: str | None,
                      node: str | None = None) -> None:
    """``parts_sent`` platform calls of a pending entry went out; a retry,
    even after a restart or on another node, resumes after them."""
    status = await conn.execute(
        "UPDATE outbox SET parts_sent = $2, part_external_id = $3"
        " WHERE id = $1 AND status = 'pending' AND lease_owner IS NOT DISTINCT FROM $4",
        entry_id, parts_sent, external_id, node,
    )
    if not rows_changed(status) and node is not None:
        raise LeaseLost(f"outbox entry {entry_id} is not leased to {node}")


async def _retry(conn: PgConn, entry_id: str, attempts: int, next_attempt_at: datetime, error: str,
                 node: str | None) -> None:
    status = await conn.execute(
        "UPDATE outbox SET attempts = $2, next_attempt_at = $3, last_error = $4, lease_owner = NULL,"
        " lease_until = NULL WHERE id = $1 AND status = 'pending' AND lease_owner IS NOT DISTINCT FROM $5",
        entry_id, attempts, next_attempt_at, error, node,
    )
    if not rows_changed(status) and node is not None:
        raise LeaseLost(f"outbox entry {entry_id} is not leased to {node}")


# the receipt's advisory lock (kind 1, ``channel || ':' || external_id``, as ``advisory_lock``
# names it) taken in the statement that reads the channel: a message's channel never changes
_RECEIPT_LOCK = """
    SELECT m.channel, pg_advisory_xact_lock($3, hashtext(m.channel || ':' || $2))
    FROM outbox AS o JOIN messages AS m ON m.id = o.message_id WHERE o.id = $1
"""
# finished; the entry keeps only the text its stored message shows (a one-time code is
# masked there: what the platform got is then in no table; ``router.outbox.sqlite.keep_shown_text``)
_FINISH = """
    UPDATE outbox AS o SET status = $2, attempts = $3, last_error = $4, lease_until = NULL,
        payload = jsonb_set(o.payload, '{text}', to_jsonb(m.text))
    FROM messages AS m WHERE o.id = $1 AND m.id = o.message_id
"""


async def _kept_receipt(conn: PgConn, channel: str, external_id: str, delivery: Delivery,
                        error: str | None) -> tuple[Delivery, str | None]:
    """The delivery to store: a receipt that arrived before the send's answer
    was stored moves it on (under the receipt's advisory lock, taken by the caller)."""
    receipt = await conn.fetchrow(
        "DELETE FROM delivery_receipts WHERE channel = $1 AND external_id = $2 RETURNING state, error",
        channel, external_id,
    )
    if receipt is not None and receipts.moves_forward(delivery, Delivery(receipt["state"])):
        return Delivery(receipt["state"]), receipt["error"]
    return delivery, error


async def _finish_outbox(
    conn: PgConn, entry_id: str, status: str, attempts: int | None, delivery: Delivery,
    error: str | None, external_id: str | None, node: str | None = None,
) -> Message:
    channel: str | None = None
    if external_id is not None:
        locked = await conn.fetchrow(_RECEIPT_LOCK, entry_id, external_id, RECEIPT)
        if locked is None:
            raise NotFound(f"outbox entry {entry_id}")
        channel = locked["channel"]
    row = await conn.fetchrow(
        "SELECT message_id, attempts, lease_owner, status FROM outbox WHERE id = $1 FOR UPDATE", entry_id)
    if row is None:
        raise NotFound(f"outbox entry {entry_id}")
    check_holder(entry_id, row["lease_owner"], node, row["status"])
    await conn.execute(_FINISH, entry_id, status, attempts if attempts is not None else row["attempts"] + 1, error)
    shown, shown_error = delivery, error
    if channel is not None and external_id is not None:
        shown, shown_error = await _kept_receipt(conn, channel, external_id, delivery, error)
    msg = await conn.fetchrow(
        "UPDATE messages SET delivery = $1, delivery_error = $2, external_id = COALESCE($3, external_id)"
        " WHERE id = $4 RETURNING *",
        shown.value, shown_error, external_id, row["message_id"],
    )
    assert msg is not None
    return _message(msg)


async def _pending(conn: PgConn, limit: int) -> list[OutboxEntry]:
    rows = await conn.fetch("SELECT * FROM outbox WHERE status = 'pending' ORDER BY created_at, seq LIMIT $1", limit)
    return [entry_row(r) for r in rows]


class PostgresOutbox(OutboxStore, PgConnections):
    """Outbox over the pool of the store it is mixed into."""

    async def pending_outbox(self, limit: int) -> list[OutboxEntry]:
        return await self._pg.read(_pending, limit)

    async def claim_outbox(self, node: str, limit: int, now: datetime, lease: timedelta) -> Claim:
        return await self._pg.write(_claim, node, limit, now, now + lease)

    async def outbox_sent(
        self, entry_id: str, external_id: str | None, now: datetime, node: str | None = None
    ) -> Message:
        return await self._pg.write(_finish_outbox, entry_id, "sent", None, Delivery.SENT, None, external_id, node)

    async def outbox_part_sent(
        self, entry_id: str, parts_sent: int, external_id: str | None, node: str | None = None
    ) -> None:
        await self._pg.write(record_part, entry_id, parts_sent, external_id, node)

    async def outbox_retry(
        self, entry_id: str, attempts: int, next_attempt_at: datetime, error: str, node: str | None = None
    ) -> None:
        await self._pg.write(_retry, entry_id, attempts, next_attempt_at, error, node)

    async def outbox_dead(
        self, entry_id: str, attempts: int, reason: str, now: datetime, node: str | None = None
    ) -> Message:
        return await self._pg.write(_finish_outbox, entry_id, "dead", attempts, Delivery.FAILED, reason, None, node)
