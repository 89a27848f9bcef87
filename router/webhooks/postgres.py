"""The webhooks' SQL on PostgreSQL, mixed into ``PostgresStore``; the units
mirror ``router.webhooks.sqlite``'s. Every node claims from the one table:
the claim locks what it takes ``FOR UPDATE SKIP LOCKED``, so two nodes
claiming at once take different deliveries and never wait for each other;
the lease then keeps a delivery one node's until it finishes it or the lease
runs out (the node died: another resumes it, and the receiver may get it
twice, which the event id header lets it see)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from router.store.errors import ConflictError, NotFound
from router.store.pg_engine import PgConn, PgConnections, rows_changed
from router.webhooks.rows import delivery_row, lost, outgoing_row, subscription_row
from router.webhooks.schema import DELIVERY_COLUMNS, SUBSCRIPTION_COLUMNS
from router.webhooks.store import WebhookClaim, WebhookStore
from router.webhooks.types import DeliveryReason, Queued, Subscription, WebhookDelivery

# as router.webhooks.sqlite's (the oldest WINDOW pending first; every conversation's first
# delivery, by a skip-scan of the pending index, only when those hold fewer than asked); a row
# another claim holds is skipped, the conditions on ``d`` itself checked again on its latest
# version (READ COMMITTED), those on the others read from the snapshot (a delivery only ever
# leaves the pending ones)
WINDOW = 1000
_CONDITIONS = """
    d.next_attempt_at <= $1 AND (d.lease_until IS NULL OR d.lease_until <= $1)
    AND d.subscription_id <> ALL($3::text[])
"""
_IN_WINDOW = f"""
    SELECT {DELIVERY_COLUMNS}, d.body, d.lease_until AS held_until, s.url, s.secret, s.allow_private
    FROM (SELECT seq FROM webhook_deliveries WHERE status = 'pending' ORDER BY seq LIMIT $4) AS w
    JOIN webhook_deliveries AS d ON d.seq = w.seq JOIN webhook_subscriptions AS s ON s.id = d.subscription_id
    WHERE d.status = 'pending' AND {_CONDITIONS}
      AND NOT EXISTS (
        SELECT 1 FROM webhook_deliveries AS p
        WHERE p.status = 'pending' AND p.subscription_id = d.subscription_id
          AND p.order_key = d.order_key AND p.seq < d.seq)
    ORDER BY d.seq LIMIT $2
    FOR UPDATE OF d SKIP LOCKED
"""
_HEADS = """
    WITH RECURSIVE heads(sub, okey, seq) AS (
      (SELECT subscription_id, order_key, seq FROM webhook_deliveries WHERE status = 'pending'
       ORDER BY subscription_id, order_key, seq LIMIT 1)
      UNION ALL
      SELECT n.subscription_id, n.order_key, n.seq FROM heads AS h, LATERAL (
        SELECT subscription_id, order_key, seq FROM webhook_deliveries
        WHERE status = 'pending' AND (subscription_id, order_key) > (h.sub, h.okey)
        ORDER BY subscription_id, order_key, seq LIMIT 1) AS n
    )
"""
_CLAIMABLE = f"""{_HEADS}
    SELECT {DELIVERY_COLUMNS}, d.body, d.lease_until AS held_until, s.url, s.secret, s.allow_private
    FROM heads AS h JOIN webhook_deliveries AS d ON d.seq = h.seq
    JOIN webhook_subscriptions AS s ON s.id = d.subscription_id
    WHERE d.status = 'pending' AND {_CONDITIONS}
    ORDER BY d.seq LIMIT $2
    FOR UPDATE OF d SKIP LOCKED
"""
_PENDING_BEYOND = "SELECT 1 FROM webhook_deliveries WHERE status = 'pending' ORDER BY seq OFFSET $1 LIMIT 1"
_NEXT_DUE = f"""{_HEADS}
    SELECT min(GREATEST(d.next_attempt_at, d.lease_until))
    FROM heads AS h JOIN webhook_deliveries AS d ON d.seq = h.seq
    WHERE d.next_attempt_at > $1 OR d.lease_until > $1
"""
_ENQUEUE = """
    INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, order_key, body, next_attempt_at,
                                    created_at)
    SELECT e.id || '-' || s.id, s.id, e.id, e.type, e.order_key, e.body, $5, $5
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS e(id, type, order_key, body, n)
    JOIN webhook_subscriptions AS s ON s.active AND e.type = ANY(s.events)
    ORDER BY e.n, s.id
    ON CONFLICT (subscription_id, event_id) DO NOTHING
"""


async def _claim(conn: PgConn, node: str, limit: int, now: datetime, until: datetime,
                 skip: list[str]) -> WebhookClaim:
    rows = await conn.fetch(_IN_WINDOW, now, limit, skip, WINDOW)
    if len(rows) < limit and await conn.fetchval(_PENDING_BEYOND, WINDOW) is not None:
        rows = await conn.fetch(_CLAIMABLE, now, limit, skip)
    if not rows:
        return WebhookClaim([], await conn.fetchval(_NEXT_DUE, now))
    await conn.execute("UPDATE webhook_deliveries SET lease_owner = $1, lease_until = $2 WHERE id = ANY($3::text[])",
                       node, until, [r["id"] for r in rows])
    return WebhookClaim([outgoing_row(r) for r in rows])


async def _finish(conn: PgConn, delivery_id: str, node: str | None, sql: str, *params: object) -> None:
    n = len(params)
    status = await conn.execute(
        f"{sql} WHERE id = ${n + 1} AND status = 'pending' AND lease_owner IS NOT DISTINCT FROM ${n + 2}",
        *params, delivery_id, node)
    if not rows_changed(status):
        raise lost(delivery_id, node)


async def _redeliver(conn: PgConn, delivery_id: str, now: datetime) -> WebhookDelivery:
    row = await conn.fetchrow(
        "UPDATE webhook_deliveries AS d SET status = 'pending', attempts = 0, next_attempt_at = $2,"
        " lease_owner = NULL, lease_until = NULL, finished_at = NULL WHERE d.id = $1 AND d.status IN ('sent', 'dead')"
        f" RETURNING {DELIVERY_COLUMNS}", delivery_id, now)
    if row is not None:
        return delivery_row(row)
    if await conn.fetchval("SELECT 1 FROM webhook_deliveries WHERE id = $1", delivery_id) is None:
        raise NotFound(f"webhook delivery {delivery_id}")
    raise ConflictError(f"webhook delivery {delivery_id} is pending already")


async def _write(conn: PgConn, sql: str, what: str, *params: object) -> None:
    if not rows_changed(await conn.execute(sql, *params)):
        raise NotFound(what)


async def _delete(conn: PgConn, subscription_id: str) -> None:
    await conn.execute("DELETE FROM webhook_deliveries WHERE subscription_id = $1", subscription_id)
    await _write(conn, "DELETE FROM webhook_subscriptions WHERE id = $1", f"webhook subscription {subscription_id}",
                 subscription_id)


async def _count(conn: PgConn, sql: str, *params: object) -> int:
    return rows_changed(await conn.execute(sql, *params))


class PostgresWebhooks(WebhookStore, PgConnections):
    """Webhooks over the pool of the store it is mixed into."""

    async def create_webhook(self, subscription: Subscription, secret: str) -> None:
        s = subscription
        await self._pg.write(_count, "INSERT INTO webhook_subscriptions (id, url, events, description, secret, active,"
                                     " allow_private, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
                                     " $9)", s.id, s.url, list(s.events), s.description, secret, s.active,
                             s.allow_private, s.created_at, s.updated_at)

    async def update_webhook(self, subscription: Subscription) -> Subscription:
        s = subscription
        await self._pg.write(_write, "UPDATE webhook_subscriptions SET url = $2, events = $3, description = $4,"
                                     " active = $5, allow_private = $6, updated_at = $7 WHERE id = $1",
                             f"webhook subscription {s.id}", s.id, s.url, list(s.events), s.description, s.active,
                             s.allow_private, s.updated_at)
        return await self.get_webhook(s.id)

    async def rotate_webhook_secret(self, subscription_id: str, secret: str, now: datetime) -> None:
        await self._pg.write(_write, "UPDATE webhook_subscriptions SET secret = $2, updated_at = $3 WHERE id = $1",
                             f"webhook subscription {subscription_id}", subscription_id, secret, now)

    async def delete_webhook(self, subscription_id: str) -> None:
        await self._pg.write(_delete, subscription_id)

    async def get_webhook(self, subscription_id: str) -> Subscription:
        row = await self._pg.read(_fetchrow, f"SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions"
                                             " WHERE id = $1", subscription_id)
        if row is None:
            raise NotFound(f"webhook subscription {subscription_id}")
        return subscription_row(row)

    async def list_webhooks(self) -> list[Subscription]:
        rows = await self._pg.read(_fetch, f"SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions"
                                           " ORDER BY created_at, id")
        return [subscription_row(r) for r in rows]

    async def subscribed_event_types(self) -> frozenset[str]:
        rows = await self._pg.read(_fetch, "SELECT DISTINCT unnest(events) AS type FROM webhook_subscriptions"
                                           " WHERE active")
        return frozenset(r["type"] for r in rows)

    async def enqueue_webhooks(self, events: list[Queued], now: datetime) -> int:
        if not events:
            return 0
        return await self._pg.write(_count, _ENQUEUE, [q.event.id for q in events], [q.event.type for q in events],
                                    [q.order_key for q in events], [q.event.model_dump_json() for q in events], now)

    async def claim_webhooks(self, node: str, limit: int, now: datetime, lease: timedelta,
                             skip: Collection[str] = ()) -> WebhookClaim:
        return await self._pg.write(_claim, node, limit, now, now + lease, sorted(skip))

    async def webhook_sent(self, delivery_id: str, status: int, now: datetime, node: str | None) -> None:
        await self._pg.write(_finish, delivery_id, node,
                             "UPDATE webhook_deliveries SET status = 'sent', attempts = attempts + 1, last_status = $1,"
                             " last_error = NULL, last_reason = NULL, finished_at = $2, lease_until = NULL",
                             status, now)

    async def webhook_retry(self, delivery_id: str, attempts: int, next_attempt_at: datetime, error: str,
                            status: int | None, node: str | None, reason: DeliveryReason | None = None) -> None:
        await self._pg.write(_finish, delivery_id, node,
                             "UPDATE webhook_deliveries SET attempts = $1, next_attempt_at = $2, last_error = $3,"
                             " last_status = $4, last_reason = $5, lease_owner = NULL, lease_until = NULL",
                             attempts, next_attempt_at, error, status, _json(reason))

    async def webhook_dead(self, delivery_id: str, attempts: int, reason: str, status: int | None,
                           now: datetime, node: str | None, code: DeliveryReason | None = None) -> None:
        await self._pg.write(_finish, delivery_id, node,
                             "UPDATE webhook_deliveries SET status = 'dead', attempts = $1, last_error = $2,"
                             " last_status = $3, finished_at = $4, last_reason = $5, lease_until = NULL",
                             attempts, reason, status, now, _json(code))

    async def redeliver_webhook(self, delivery_id: str, now: datetime) -> WebhookDelivery:
        return await self._pg.write(_redeliver, delivery_id, now)

    async def list_webhook_deliveries(self, subscription_id: str | None, status: str | None,
                                      limit: int) -> list[WebhookDelivery]:
        rows = await self._pg.read(
            _fetch, f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries AS d"
                    " WHERE ($1::text IS NULL OR d.subscription_id = $1) AND ($2::text IS NULL OR d.status = $2)"
                    " ORDER BY d.seq DESC LIMIT $3", subscription_id, status, limit)
        return [delivery_row(r) for r in rows]

    async def prune_webhook_deliveries(self, before: datetime) -> int:
        return await self._pg.write(_count, "DELETE FROM webhook_deliveries WHERE status = 'sent'"
                                            " AND finished_at < $1", before)


async def _fetch(conn: PgConn, sql: str, *params: object) -> list[Any]:
    return list(await conn.fetch(sql, *params))


async def _fetchrow(conn: PgConn, sql: str, *params: object) -> Any:
    return await conn.fetchrow(sql, *params)


def _json(reason: DeliveryReason | None) -> str | None:
    return None if reason is None else reason.model_dump_json()
