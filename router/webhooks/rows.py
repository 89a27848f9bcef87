"""The webhooks' rows as both backends read them (sqlite3 rows or asyncpg
records), and the rules of a delivery's lease, asked by both backends' SQL."""

from __future__ import annotations

import json
from datetime import datetime

from router.outbox.store import LeaseLost
from router.store.rows import RowLike, parse_ts
from router.store.rows import from_ts as _ts
from router.webhooks.types import DeliveryReason, Outgoing, Subscription, WebhookDelivery


def subscription_row(r: RowLike) -> Subscription:
    events = r["events"]
    return Subscription(
        id=r["id"], url=r["url"], events=json.loads(events) if isinstance(events, str) else list(events),
        description=r["description"], active=bool(r["active"]), allow_private=bool(r["allow_private"]),
        created_at=_ts(r["created_at"]), updated_at=_ts(r["updated_at"]),
    )


def delivery_row(r: RowLike) -> WebhookDelivery:
    return WebhookDelivery(
        id=r["id"], subscription_id=r["subscription_id"], event_id=r["event_id"], event_type=r["event_type"],
        order_key=r["order_key"], status=r["status"], attempts=r["attempts"],
        next_attempt_at=_ts(r["next_attempt_at"]), last_error=r["last_error"], last_status=r["last_status"],
        last_reason=DeliveryReason.model_validate_json(r["last_reason"]) if r["last_reason"] else None,
        created_at=_ts(r["created_at"]), finished_at=parse_ts(r["finished_at"]),
    )


def outgoing_row(r: RowLike) -> Outgoing:
    """A claimed delivery joined with its subscription (``url``, ``secret``,
    ``allow_private``) and ``held_until``, its lease before this claim."""
    return Outgoing(delivery=delivery_row(r), url=r["url"], secret=r["secret"],
                    allow_private=bool(r["allow_private"]), body=r["body"], resumed=r["held_until"] is not None)


def lost(delivery_id: str, node: str | None) -> LeaseLost:
    return LeaseLost(f"webhook delivery {delivery_id} is not pending and leased to {node or 'the caller'}")


def due(value: str | datetime | None) -> datetime | None:
    return parse_ts(value)
