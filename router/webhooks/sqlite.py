"""The webhooks' SQL on SQLite, mixed into ``SQLiteStore`` (router.webhooks.store).
SQLite has one writer, so a claim never meets another; the leases matter to a
restart: what a node held when it stopped is found by its next claim, resumed."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from router.store.engine import Connections
from router.store.errors import ConflictError, NotFound
from router.store.rows import fetch_all as _all
from router.store.rows import fetch_one as _one
from router.store.rows import from_ts as _from_ts
from router.store.rows import ts
from router.webhooks.rows import delivery_row, lost, outgoing_row, subscription_row
from router.webhooks.schema import DELIVERY_COLUMNS, SUBSCRIPTION_COLUMNS
from router.webhooks.store import WebhookClaim, WebhookStore
from router.webhooks.types import DeliveryReason, Outgoing, Queued, Subscription, WebhookDelivery

# A claim looks first at the oldest WINDOW pending deliveries (the usual case: a few per
# conversation, so the oldest claimable are among them, found in a bounded walk); only when
# those hold fewer than asked and more are pending does it look at every conversation's first.
WINDOW = 1000
_CONDITIONS = """
    d.next_attempt_at <= :now AND (d.lease_until IS NULL OR d.lease_until <= :now)
    AND d.subscription_id NOT IN (SELECT value FROM json_each(:skip))
"""
_IN_WINDOW = f"""
    SELECT {DELIVERY_COLUMNS}, d.body, d.lease_until AS held_until, s.url, s.secret, s.allow_private
    FROM (SELECT seq FROM webhook_deliveries INDEXED BY webhook_deliveries_claim WHERE status = 'pending'
          ORDER BY seq LIMIT :window) AS w
    JOIN webhook_deliveries AS d ON d.seq = w.seq JOIN webhook_subscriptions AS s ON s.id = d.subscription_id
    WHERE {_CONDITIONS}
      AND NOT EXISTS (
        SELECT 1 FROM webhook_deliveries AS p
        WHERE p.status = 'pending' AND p.subscription_id = d.subscription_id
          AND p.order_key = d.order_key AND p.seq < d.seq)
    ORDER BY d.seq LIMIT :limit
"""
# the first pending delivery of each (subscription, key), found by a skip-scan of the pending
# index: one seek per key, so a conversation with a long backlog behind a delivery that is
# failing or in flight costs one step, not a walk of its backlog (the table's sent rows, none)
_HEADS = """
    WITH RECURSIVE heads(sub, okey, seq) AS (
      SELECT * FROM (SELECT subscription_id, order_key, seq FROM webhook_deliveries
                     INDEXED BY webhook_deliveries_pending WHERE status = 'pending'
                     ORDER BY subscription_id, order_key, seq LIMIT 1)
      UNION ALL
      SELECT n.subscription_id, n.order_key, n.seq FROM heads, webhook_deliveries AS n
      WHERE n.seq = coalesce(
        (SELECT x.seq FROM webhook_deliveries AS x INDEXED BY webhook_deliveries_pending
         WHERE x.status = 'pending' AND x.subscription_id = heads.sub AND x.order_key > heads.okey
         ORDER BY x.order_key, x.seq LIMIT 1),
        (SELECT x.seq FROM webhook_deliveries AS x INDEXED BY webhook_deliveries_pending
         WHERE x.status = 'pending' AND x.subscription_id > heads.sub
         ORDER BY x.subscription_id, x.order_key, x.seq LIMIT 1))
    )
"""
# of those: due, not leased (a lease run out is a dead node's: resumed), not of a subscription
# the sender skips (its receiver's host has all the sends it may have)
_CLAIMABLE = f"""{_HEADS}
    SELECT {DELIVERY_COLUMNS}, d.body, d.lease_until AS held_until, s.url, s.secret, s.allow_private
    FROM heads AS h JOIN webhook_deliveries AS d ON d.seq = h.seq
    JOIN webhook_subscriptions AS s ON s.id = d.subscription_id
    WHERE {_CONDITIONS}
    ORDER BY d.seq LIMIT :limit
"""
# when the next of them may be claimed (a retry's time, a lease's end)
_NEXT_DUE = f"""{_HEADS}
    SELECT min(max(d.next_attempt_at, coalesce(d.lease_until, d.next_attempt_at)))
    FROM heads AS h JOIN webhook_deliveries AS d ON d.seq = h.seq
    WHERE d.next_attempt_at > :now OR d.lease_until > :now
"""
_ENQUEUE = """
    INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, order_key, body, next_attempt_at,
                                    created_at)
    SELECT ? || '-' || s.id, s.id, ?, ?, ?, ?, ?, ? FROM webhook_subscriptions AS s
    WHERE s.active = 1 AND EXISTS (SELECT 1 FROM json_each(s.events) WHERE value = ?)
    ON CONFLICT (subscription_id, event_id) DO NOTHING
"""
_LONG_AGO = ts(datetime(2000, 1, 1, tzinfo=UTC))


def _enqueue(conn: sqlite3.Connection, events: list[tuple[str, str, str, str]], now: str) -> int:
    written = 0
    for event_id, event_type, order_key, body in events:
        written += conn.execute(_ENQUEUE, (event_id, event_id, event_type, order_key, body, now, now,
                                           event_type)).rowcount
    return written


def _claim(conn: sqlite3.Connection, node: str, limit: int, now: str, until: str, skip: str
           ) -> tuple[list[Outgoing], str | None]:
    params = {"now": now, "limit": limit, "skip": skip, "window": WINDOW}
    rows = _all(conn, _IN_WINDOW, params)
    if len(rows) < limit and _pending_beyond(conn, WINDOW):
        rows = _all(conn, _CLAIMABLE, params)
    conn.executemany("UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ? WHERE id = ?",
                     [(node, until, r["id"]) for r in rows])
    next_due = None if rows else conn.execute(_NEXT_DUE, params).fetchone()[0]
    return [outgoing_row(r) for r in rows], next_due


def _pending_beyond(conn: sqlite3.Connection, window: int) -> bool:
    """Whether more than ``window`` deliveries are pending (a bounded walk of the index)."""
    return conn.execute("SELECT 1 FROM webhook_deliveries INDEXED BY webhook_deliveries_claim"
                        " WHERE status = 'pending' LIMIT 1 OFFSET ?", (window,)).fetchone() is not None


def expire_webhook_leases(conn: sqlite3.Connection) -> None:
    """Opening a SQLite store is its one node's start: a lease still running
    is from before, so it is made expired and resumed at once."""
    conn.execute("UPDATE webhook_deliveries SET lease_until = ? WHERE status = 'pending'"
                 " AND lease_until IS NOT NULL", (_LONG_AGO,))


def _finish(conn: sqlite3.Connection, delivery_id: str, node: str | None, sql: str,
            params: tuple[object, ...]) -> None:
    changed = conn.execute(f"{sql} WHERE id = ? AND status = 'pending' AND lease_owner IS ?",
                           (*params, delivery_id, node)).rowcount
    if not changed:
        raise lost(delivery_id, node)


def _redeliver(conn: sqlite3.Connection, delivery_id: str, now: str) -> WebhookDelivery:
    changed = conn.execute(
        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, lease_owner = NULL,"
        " lease_until = NULL, finished_at = NULL WHERE id = ? AND status IN ('sent', 'dead')",
        (now, delivery_id)).rowcount
    row = _one(conn, f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries AS d WHERE d.id = ?", (delivery_id,))
    if row is None:
        raise NotFound(f"webhook delivery {delivery_id}")
    if not changed:
        raise ConflictError(f"webhook delivery {delivery_id} is pending already")
    return delivery_row(row)


def _write(conn: sqlite3.Connection, sql: str, params: tuple[object, ...], what: str) -> None:
    if not conn.execute(sql, params).rowcount:
        raise NotFound(what)


def _delete(conn: sqlite3.Connection, subscription_id: str) -> None:
    conn.execute("DELETE FROM webhook_deliveries WHERE subscription_id = ?", (subscription_id,))
    _write(conn, "DELETE FROM webhook_subscriptions WHERE id = ?", (subscription_id,),
           f"webhook subscription {subscription_id}")


def _count(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> int:
    return conn.execute(sql, params).rowcount


class SQLiteWebhooks(WebhookStore, Connections):
    """Webhooks over the connections of the store it is mixed into."""

    async def create_webhook(self, subscription: Subscription, secret: str) -> None:
        s = subscription
        await self._w.call(_count, "INSERT INTO webhook_subscriptions (id, url, events, description, secret, active,"
                                   " allow_private, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (s.id, s.url, json.dumps(list(s.events)), s.description, secret, int(s.active),
                            int(s.allow_private), ts(s.created_at), ts(s.updated_at)))

    async def update_webhook(self, subscription: Subscription) -> Subscription:
        s = subscription
        await self._w.call(_write, "UPDATE webhook_subscriptions SET url = ?, events = ?, description = ?,"
                                   " active = ?, allow_private = ?, updated_at = ? WHERE id = ?",
                           (s.url, json.dumps(list(s.events)), s.description, int(s.active), int(s.allow_private),
                            ts(s.updated_at), s.id), f"webhook subscription {s.id}")
        return await self.get_webhook(s.id)

    async def rotate_webhook_secret(self, subscription_id: str, secret: str, now: datetime) -> None:
        await self._w.call(_write, "UPDATE webhook_subscriptions SET secret = ?, updated_at = ? WHERE id = ?",
                           (secret, ts(now), subscription_id), f"webhook subscription {subscription_id}")

    async def delete_webhook(self, subscription_id: str) -> None:
        await self._w.call(_delete, subscription_id)

    async def get_webhook(self, subscription_id: str) -> Subscription:
        row = await self._r.call(_one, f"SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE id = ?",
                                 (subscription_id,))
        if row is None:
            raise NotFound(f"webhook subscription {subscription_id}")
        return subscription_row(row)

    async def list_webhooks(self) -> list[Subscription]:
        rows = await self._r.call(_all, f"SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions"
                                        " ORDER BY created_at, id")
        return [subscription_row(r) for r in rows]

    async def subscribed_event_types(self) -> frozenset[str]:
        rows = await self._r.call(_all, "SELECT DISTINCT e.value AS type FROM webhook_subscriptions AS s,"
                                        " json_each(s.events) AS e WHERE s.active = 1")
        return frozenset(r["type"] for r in rows)

    async def enqueue_webhooks(self, events: list[Queued], now: datetime) -> int:
        if not events:
            return 0
        plain: list[tuple[str, str, str, str]] = [
            (q.event.id, q.event.type, q.order_key, q.event.model_dump_json()) for q in events]
        return await self._w.call(_enqueue, plain, ts(now))

    async def claim_webhooks(self, node: str, limit: int, now: datetime, lease: timedelta,
                             skip: Collection[str] = ()) -> WebhookClaim:
        taken, next_due = await self._w.call(_claim, node, limit, ts(now), ts(now + lease), json.dumps(sorted(skip)))
        return WebhookClaim(taken, None if next_due is None else _from_ts(next_due))

    async def webhook_sent(self, delivery_id: str, status: int, now: datetime, node: str | None) -> None:
        await self._w.call(_finish, delivery_id, node,
                           "UPDATE webhook_deliveries SET status = 'sent', attempts = attempts + 1, last_status = ?,"
                           " last_error = NULL, last_reason = NULL, finished_at = ?, lease_until = NULL",
                           (status, ts(now)))

    async def webhook_retry(self, delivery_id: str, attempts: int, next_attempt_at: datetime, error: str,
                            status: int | None, node: str | None, reason: DeliveryReason | None = None) -> None:
        await self._w.call(_finish, delivery_id, node,
                           "UPDATE webhook_deliveries SET attempts = ?, next_attempt_at = ?, last_error = ?,"
                           " last_reason = ?, last_status = ?, lease_owner = NULL, lease_until = NULL",
                           (attempts, ts(next_attempt_at), error, _json(reason), status))

    async def webhook_dead(self, delivery_id: str, attempts: int, reason: str, status: int | None,
                           now: datetime, node: str | None, code: DeliveryReason | None = None) -> None:
        await self._w.call(_finish, delivery_id, node,
                           "UPDATE webhook_deliveries SET status = 'dead', attempts = ?, last_error = ?,"
                           " last_reason = ?, last_status = ?, finished_at = ?, lease_until = NULL",
                           (attempts, reason, _json(code), status, ts(now)))

    async def redeliver_webhook(self, delivery_id: str, now: datetime) -> WebhookDelivery:
        return await self._w.call(_redeliver, delivery_id, ts(now))

    async def list_webhook_deliveries(self, subscription_id: str | None, status: str | None,
                                      limit: int) -> list[WebhookDelivery]:
        where, params = _filters(subscription_id, status)
        rows = await self._r.call(_all, f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries AS d{where}"
                                        " ORDER BY d.seq DESC LIMIT ?", (*params, limit))
        return [delivery_row(r) for r in rows]

    async def prune_webhook_deliveries(self, before: datetime) -> int:
        return await self._w.call(_count, "DELETE FROM webhook_deliveries WHERE status = 'sent' AND finished_at < ?",
                                  (ts(before),))


def _json(reason: DeliveryReason | None) -> str | None:
    return None if reason is None else reason.model_dump_json()


def _filters(subscription_id: str | None, status: str | None) -> tuple[str, tuple[object, ...]]:
    clauses: list[str] = []
    params: list[object] = []
    if subscription_id is not None:
        clauses.append("d.subscription_id = ?")
        params.append(subscription_id)
    if status is not None:
        clauses.append("d.status = ?")
        params.append(status)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)
