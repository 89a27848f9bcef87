"""The webhooks' tables, for each backend's migration (one script each,
appended to router/store/migrations.py and router/store/pg_migrations.py).

``webhook_deliveries`` is the webhooks' own durable outbox: one row per event
and subscription (the unique key makes a second queueing of one event a
no-op), claimed under a lease as the message outbox's entries are, and kept
after it is finished (sent or dead, with the reason) for the console."""

from __future__ import annotations

# SQLite: times as fixed-width UTC text (router.store.rows.ts); events as a JSON array
SQLITE = """
CREATE TABLE webhook_subscriptions (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    secret TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    allow_private INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE webhook_deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions(id),
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    order_key TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    last_status INTEGER,
    lease_owner TEXT,
    lease_until TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(subscription_id, order_key, seq)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries(subscription_id, status, seq);
"""

POSTGRES = """
CREATE TABLE webhook_subscriptions (
    id text PRIMARY KEY,
    url text NOT NULL,
    events text[] NOT NULL,
    description text NOT NULL DEFAULT '',
    secret text NOT NULL,
    active boolean NOT NULL DEFAULT true,
    allow_private boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE TABLE webhook_deliveries (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL UNIQUE,
    subscription_id text NOT NULL REFERENCES webhook_subscriptions(id),
    event_id text NOT NULL,
    event_type text NOT NULL,
    order_key text NOT NULL,
    body text NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error text,
    last_status integer,
    lease_owner text,
    lease_until timestamptz,
    created_at timestamptz NOT NULL,
    finished_at timestamptz,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(subscription_id, order_key, seq)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries(subscription_id, status, seq);
"""

# the claim walks the pending deliveries in order, not the whole table (the sent ones
# would be walked through the rowid otherwise); the dead letters and the prune have
# an index each. One script per backend: SQLite migration 27, PostgreSQL migration 21
# and the last failure's reason as a code and its values (JSON: {"code", "values"}), which the
# console words in the admin's language; ``last_error`` keeps the English detail
INDEXES = """
ALTER TABLE webhook_deliveries ADD COLUMN last_reason TEXT;
CREATE INDEX webhook_deliveries_claim ON webhook_deliveries(seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_status ON webhook_deliveries(status, seq);
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries(finished_at) WHERE status = 'sent';
"""

DELIVERY_COLUMNS = ("d.id, d.subscription_id, d.event_id, d.event_type, d.order_key, d.status, d.attempts,"
                    " d.next_attempt_at, d.last_error, d.last_reason, d.last_status, d.created_at, d.finished_at")
SUBSCRIPTION_COLUMNS = "id, url, events, description, active, allow_private, created_at, updated_at"
