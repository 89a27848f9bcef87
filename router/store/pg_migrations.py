"""PostgreSQL's schema, as versioned migrations applied in order on open.

Migration 1 is the schema SQLite reached in its ten (``router.store.migrations``),
in PostgreSQL's own types: ``timestamptz`` for times, ``jsonb`` for JSON,
``boolean`` for flags. A ``seq`` identity column keeps insertion order where
SQLite's ``rowid`` did (the outbox, messages). A later change appends a
migration here and, for SQLite, one there.

Two nodes starting together migrate once: the first takes the session advisory
lock (kind 5, ``router.store.pg_engine``), the second waits for it and then
finds nothing left to apply."""

from __future__ import annotations

import logging

from router.csat.schema import POSTGRES as CSAT_SURVEYS
from router.ingest.pg_schema import INGEST_KNOWN_SWITCH
from router.reports.cycles_schema import POSTGRES as CONVERSATION_CYCLES
from router.reports.cycles_schema import POSTGRES_LAPSES as OFFER_LAPSES
from router.reports.schema import POSTGRES as CONVERSATION_EVENTS
from router.search.pg_schema import SEARCH as _SEARCH
from router.search.pg_schema import SEARCH_TERMS as _SEARCH_TERMS
from router.store.errors import SchemaTooNew
from router.store.pg_engine import MIGRATIONS as MIGRATIONS_LOCK
from router.store.pg_engine import PgConn
from router.store.schema_log import log_migration
from router.store.visitor_ids import POSTGRES as VISITOR_IDS
from router.webhooks.schema import INDEXES as WEBHOOK_INDEXES
from router.webhooks.schema import POSTGRES as WEBHOOKS

log = logging.getLogger(__name__)

# seconds a migration, or the wait for another node's, may take: not the pool's statement
# timeout (pg_engine.STATEMENT_TIMEOUT), since a migration rewrites whole tables
MIGRATION_TIMEOUT = 24 * 3600.0

_V1 = """
CREATE TABLE meta (key text PRIMARY KEY, value bytea NOT NULL);

CREATE TABLE customers (
    id text PRIMARY KEY,
    display_name text,
    attributes jsonb NOT NULL DEFAULT '{}',
    attribute_meta jsonb NOT NULL DEFAULT '{}',
    merged_into text REFERENCES customers(id),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE identities (
    kind text NOT NULL,
    value text NOT NULL,
    customer_id text NOT NULL REFERENCES customers(id),
    verified boolean NOT NULL DEFAULT true,
    source text NOT NULL DEFAULT 'channel',
    created_at timestamptz NOT NULL,
    key_kind text,
    key_value text,
    link_reason text,
    PRIMARY KEY (kind, value)
);
CREATE INDEX identities_customer ON identities(customer_id);
CREATE INDEX identities_key ON identities(key_kind, key_value) WHERE key_kind IS NOT NULL;

CREATE TABLE conversations (
    id text PRIMARY KEY,
    customer_id text NOT NULL REFERENCES customers(id),
    status text NOT NULL,
    team text,
    agent_id text,
    priority integer NOT NULL DEFAULT 0,
    channel text NOT NULL,
    channel_kind text NOT NULL DEFAULT 'chat',
    route_reason text,
    rules_version text,
    route_trace jsonb,
    skills jsonb NOT NULL DEFAULT '{}',
    preferred_agent_id text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    last_message_at timestamptz NOT NULL,
    last_message_text text,
    assigned_at timestamptz,
    opened_at timestamptz,
    resolved_at timestamptz
);
CREATE UNIQUE INDEX conversations_one_open ON conversations(customer_id) WHERE status <> 'resolved';
CREATE INDEX conversations_activity ON conversations(status, last_message_at);
CREATE INDEX conversations_customer ON conversations(customer_id, created_at);
CREATE INDEX conversations_queue ON conversations(priority DESC, created_at) WHERE status = 'queued';
CREATE INDEX conversations_load ON conversations(agent_id, channel_kind) WHERE status = 'assigned';

CREATE TABLE messages (
    seq bigint GENERATED ALWAYS AS IDENTITY,
    id text PRIMARY KEY,
    conversation_id text REFERENCES conversations(id),
    customer_id text REFERENCES customers(id),
    direction text NOT NULL,
    author text NOT NULL,
    agent_id text,
    channel text NOT NULL,
    external_id text,
    sender_kind text,
    sender_value text,
    text text NOT NULL,
    attachments jsonb NOT NULL DEFAULT '[]',
    extras jsonb NOT NULL DEFAULT '{}',
    core jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    delivery text NOT NULL,
    delivery_error text
);
CREATE UNIQUE INDEX messages_dedupe ON messages(channel, external_id) WHERE direction = 'in';
CREATE INDEX messages_conversation ON messages(conversation_id, created_at);
CREATE INDEX messages_customer ON messages(customer_id, created_at);
CREATE INDEX messages_unrouted ON messages(created_at) WHERE conversation_id IS NULL;
CREATE INDEX messages_outbound_external ON messages(channel, external_id)
    WHERE direction = 'out' AND external_id IS NOT NULL;

CREATE TABLE outbox (
    seq bigint GENERATED ALWAYS AS IDENTITY,
    id text PRIMARY KEY,
    message_id text NOT NULL REFERENCES messages(id),
    conversation_id text,
    payload jsonb NOT NULL,
    status text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error text,
    parts_sent integer NOT NULL DEFAULT 0,
    part_external_id text,
    created_at timestamptz NOT NULL
);
CREATE INDEX outbox_pending ON outbox(created_at, seq) WHERE status = 'pending';

CREATE TABLE agents (
    id text PRIMARY KEY,
    username text NOT NULL UNIQUE,
    display_name text NOT NULL,
    role text NOT NULL,
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE sessions (
    token_hash text PRIMARY KEY,
    agent_id text NOT NULL REFERENCES agents(id),
    expires_at timestamptz NOT NULL
);

CREATE TABLE agent_presence (
    agent_id text PRIMARY KEY REFERENCES agents(id),
    presence text NOT NULL,
    changed_at timestamptz NOT NULL,
    idle_since timestamptz NOT NULL
);

CREATE TABLE identity_claims (
    id text PRIMARY KEY,
    customer_id text NOT NULL REFERENCES customers(id),
    kind text NOT NULL,
    value text NOT NULL,
    source text NOT NULL,
    raw text,
    message_id text,
    created_at timestamptz NOT NULL,
    verified_at timestamptz,
    dismissed_at timestamptz,
    dismissed_by text,
    UNIQUE (customer_id, kind, value)
);
CREATE INDEX identity_claims_key ON identity_claims(kind, value);

CREATE TABLE customer_merges (
    seq bigint GENERATED ALWAYS AS IDENTITY,
    id text PRIMARY KEY,
    survivor_id text NOT NULL REFERENCES customers(id),
    merged_id text NOT NULL REFERENCES customers(id),
    source text NOT NULL,
    actor text,
    reason text NOT NULL,
    -- what moved, so that an unmerge puts back exactly that
    snapshot jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    undone_at timestamptz
);
CREATE INDEX customer_merges_survivor ON customer_merges(survivor_id, created_at);
CREATE INDEX customer_merges_merged ON customer_merges(merged_id, created_at);

CREATE TABLE identity_audit (
    seq bigint GENERATED ALWAYS AS IDENTITY,
    id text PRIMARY KEY,
    action text NOT NULL,
    customer_id text NOT NULL,
    other_customer_id text,
    source text NOT NULL,
    actor text,
    reason text NOT NULL,
    details jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL
);
CREATE INDEX identity_audit_customer ON identity_audit(customer_id, created_at);

CREATE TABLE identity_verifications (
    id text PRIMARY KEY,
    customer_id text NOT NULL REFERENCES customers(id),
    kind text NOT NULL,
    value text NOT NULL,
    channel text NOT NULL,
    conversation_id text,
    origin text NOT NULL DEFAULT 'agent',
    code_hash text NOT NULL,
    status text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    sends integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL,
    last_sent_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    verified_at timestamptz
);
CREATE UNIQUE INDEX identity_verifications_pending ON identity_verifications(customer_id) WHERE status = 'pending';
CREATE INDEX identity_verifications_conversation ON identity_verifications(conversation_id)
    WHERE conversation_id IS NOT NULL;
CREATE INDEX identity_verifications_key ON identity_verifications(kind, value, created_at);

CREATE TABLE delivery_receipts (
    channel text NOT NULL,
    external_id text NOT NULL,
    state text NOT NULL,
    error text,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (channel, external_id)
);
CREATE INDEX delivery_receipts_age ON delivery_receipts(received_at);
"""

# outbox (SQLite's 11): entries are claimed, not read: leased to one node
# (lease_owner, kept as who finished it) until a deadline (lease_until, dropped when
# finished); a recipient's pending entries found by its key, for one in flight per recipient
_OUTBOX_LEASES = """
ALTER TABLE outbox ADD COLUMN lease_owner text, ADD COLUMN lease_until timestamptz;
CREATE INDEX outbox_recipient ON outbox ((payload->>'channel'), (payload->>'recipient'), created_at, seq)
    WHERE status = 'pending';
"""

# identity: insertion order where SQLite reads it from rowid, for the
# order of equal times (a message's claims, the codes of one moment, a customer's
# conversations, which an unmerge updates in place: SQLite keeps a row's rowid
# through an UPDATE, PostgreSQL moves the row); SQLite needs none
_IDENTITY_ORDER = """
ALTER TABLE identity_claims ADD COLUMN IF NOT EXISTS seq bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE identity_verifications ADD COLUMN IF NOT EXISTS seq bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE conversations ADD COLUMN IF NOT EXISTS seq bigint GENERATED ALWAYS AS IDENTITY;
"""

# the cluster's shared state (router/cluster/): the send pace of each platform
# account (a bucket's theoretical arrival time) and the console's login throttle,
# counted for every node; SQLite (one node) keeps both in memory
_CLUSTER = """
CREATE TABLE send_pace (key text PRIMARY KEY, tat timestamptz NOT NULL);
CREATE INDEX send_pace_tat ON send_pace(tat);

CREATE TABLE login_throttle (
    username text NOT NULL,
    address text NOT NULL,
    failures timestamptz[] NOT NULL DEFAULT '{}',
    locked_until timestamptz,
    touched timestamptz NOT NULL,
    PRIMARY KEY (username, address)
);
CREATE INDEX login_throttle_touched ON login_throttle(touched);
"""

# events across nodes (issue 21; numbered 4 in its branch, where main's 4 is now the cluster's
# shared state): the cluster's event log (router.cluster.pg_bus), and the
# outbox's entries waiting for their recipient found by message.
# Each node appends what it publishes and reads what the others did after the last it saw; ``seq``
# is that cursor. Rows are pruned after minutes (router.cluster.pg_bus.KEEP).
_EVENTS = """
CREATE TABLE events (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    node text NOT NULL,
    topic text NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_age ON events(created_at);
-- a returning visitor's replies that no node could push yet (router.outbox.postgres_waiting)
CREATE INDEX outbox_unsent_message ON outbox(message_id) WHERE status IN ('pending', 'waiting');
-- a node's batch of events appended and announced in one statement (one round trip, its own
-- transaction): the table lock makes seq order commit order, so a reader's cursor never
-- passes a row still to commit; NOTIFY carries the last seq only and goes out at commit
CREATE FUNCTION omnirouter_append_events(p_channel text, p_node text, p_topics text[], p_payloads text[])
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE last_seq bigint;
BEGIN
    LOCK TABLE events IN EXCLUSIVE MODE;
    WITH added AS (
        INSERT INTO events (node, topic, payload)
        SELECT p_node, t, p::jsonb FROM unnest(p_topics, p_payloads) AS x(t, p) RETURNING seq
    ) SELECT max(seq) INTO last_seq FROM added;
    PERFORM pg_notify(p_channel, last_seq::text);
    RETURN last_seq;
END
$fn$;
"""

# the ingest of a message from a known sender, the common case, in one round trip
# (router.ingest.postgres_batch): the ingest transaction's path for it, with its locks
# (router.ingest.store), run by the server; the message is filed as it is inserted, which
# writes its row and its indexes once instead of twice. Whatever that path does not cover
# (a redelivery, a sender seen first or merged, a new name or claim, a copy stored meanwhile) returns
# no row before anything is written, and the full transaction runs instead. The first 17
# parameters are the message's columns (router.store.pg_rows.INSERT_MESSAGE)
_INGEST_KNOWN = """
CREATE FUNCTION omnirouter_ingest_known(
    p_id text, p_conversation_id text, p_customer_id text, p_direction text, p_author text, p_agent_id text,
    p_channel text, p_external_id text, p_sender_kind text, p_sender_value text, p_text text,
    p_attachments jsonb, p_extras jsonb, p_core jsonb, p_created_at timestamptz, p_delivery text,
    p_delivery_error text, p_kind text, p_value text, p_name text, p_now timestamptz, p_preview text,
    p_claims jsonb)
RETURNS TABLE (customer customers, conversation conversations) LANGUAGE plpgsql AS $fn$
DECLARE
    cu customers;
    co conversations;
    open_id text;
BEGIN
    IF p_external_id IS NOT NULL AND EXISTS (SELECT 1 FROM messages WHERE channel = p_channel
            AND external_id = p_external_id AND direction = 'in') THEN
        RETURN;  -- a redelivery
    END IF;
    -- the sender's customer held FOR KEY SHARE, then read again under the lock (a merge
    -- committed meanwhile makes its survivor the sender)
    SELECT c.* INTO cu FROM identities i JOIN customers c ON c.id = i.customer_id
        WHERE i.kind = p_kind AND i.value = p_value FOR KEY SHARE OF c;
    IF NOT FOUND OR cu.merged_into IS NOT NULL THEN
        RETURN;
    END IF;
    SELECT * INTO cu FROM customers WHERE id = cu.id FOR KEY SHARE;
    -- a name given and not the one kept is a write of the resolution's (rules.nothing_to_apply)
    IF cu.merged_into IS NOT NULL OR (coalesce(p_name, '') <> '' AND p_name IS DISTINCT FROM cu.display_name) THEN
        RETURN;
    END IF;
    -- claims ([[kind, value], ...], none merging by config): each one the customer has made
    -- before, or holds proven, records nothing (identity_claims is unique per customer and key);
    -- a new one is the resolution's to record
    IF p_claims <> '[]' AND EXISTS (SELECT 1 FROM jsonb_array_elements(p_claims) AS c(k)
            WHERE NOT EXISTS (SELECT 1 FROM identity_claims WHERE customer_id = cu.id AND kind = c.k->>0
                              AND value = c.k->>1)
              AND NOT EXISTS (SELECT 1 FROM identities WHERE key_kind = c.k->>0 AND key_value = c.k->>1
                              AND customer_id = cu.id)) THEN
        RETURN;
    END IF;
    -- the open conversation, read to file the message as it is inserted (its row written once,
    -- its indexes once): its foreign key locks the conversation FOR KEY SHARE, then the UPDATE
    -- locks, checks and touches it
    SELECT id INTO open_id FROM conversations WHERE customer_id = cu.id AND status <> 'resolved';
    INSERT INTO messages (id, conversation_id, customer_id, direction, author, agent_id, channel, external_id,
        sender_kind, sender_value, text, attachments, extras, core, created_at, delivery, delivery_error)
    VALUES (p_id, open_id, CASE WHEN open_id IS NULL THEN p_customer_id ELSE cu.id END, p_direction, p_author,
        p_agent_id, p_channel, p_external_id, p_sender_kind, p_sender_value, p_text, p_attachments, p_extras,
        p_core, p_created_at, p_delivery, p_delivery_error)
    ON CONFLICT (channel, external_id) WHERE direction = 'in' DO NOTHING;
    IF NOT FOUND THEN
        RETURN;  -- another node stored this delivery since the look above
    END IF;
    IF open_id IS NOT NULL THEN
        UPDATE conversations SET channel = p_channel, updated_at = p_now, last_message_at = p_now,
            last_message_text = p_preview
            WHERE id = open_id AND status <> 'resolved' RETURNING * INTO co;
        IF FOUND THEN
            conversation := co;
        ELSE  -- resolved since it was read: the message waits for routing, as with none open
            UPDATE messages SET conversation_id = NULL, customer_id = p_customer_id WHERE id = p_id;
        END IF;
    END IF;
    customer := cu;
    RETURN NEXT;
END
$fn$;

-- several of them in one call and one transaction (router.ingest.postgres_batch): the arrays
-- are the columns of the messages, row n the n-th message; a message left to the full
-- transaction has no row. They are taken in the order of their senders' customers' ids, each
-- customer's in the order given: so a batch locks customers, and their conversations, in the
-- order a merge locks them (router.store.base), and two nodes' batches in one order
CREATE FUNCTION omnirouter_ingest_known_many(
    p_id text[], p_conversation_id text[], p_customer_id text[], p_direction text[], p_author text[],
    p_agent_id text[], p_channel text[], p_external_id text[], p_sender_kind text[], p_sender_value text[],
    p_text text[], p_attachments jsonb[], p_extras jsonb[], p_core jsonb[], p_created_at timestamptz[],
    p_delivery text[], p_delivery_error text[], p_kind text[], p_value text[], p_name text[],
    p_now timestamptz[], p_preview text[], p_claims jsonb[])
RETURNS TABLE (n integer, customer customers, conversation conversations) LANGUAGE plpgsql AS $fn$
DECLARE
    i integer;
BEGIN
    FOR i IN SELECT x.i FROM generate_subscripts(p_id, 1) AS x(i)
            LEFT JOIN identities d ON d.kind = p_kind[x.i] AND d.value = p_value[x.i]
            ORDER BY d.customer_id COLLATE "C", x.i LOOP
        RETURN QUERY SELECT i, k.customer, k.conversation FROM omnirouter_ingest_known(p_id[i],
            p_conversation_id[i], p_customer_id[i], p_direction[i], p_author[i], p_agent_id[i], p_channel[i],
            p_external_id[i], p_sender_kind[i], p_sender_value[i], p_text[i], p_attachments[i], p_extras[i],
            p_core[i], p_created_at[i], p_delivery[i], p_delivery_error[i], p_kind[i], p_value[i], p_name[i],
            p_now[i], p_preview[i], p_claims[i]) AS k;
    END LOOP;
END
$fn$;
"""

# 7: agents — the console's language an agent chose (NULL: their browser's)
_AGENT_LANGUAGE = """
ALTER TABLE agents ADD COLUMN language text;
"""

# 8: notes — private notes beside a conversation and the agents each mentions (router/notes/),
# as SQLite's migration 14; seq keeps insertion order where SQLite's rowid does
_NOTES = """
CREATE TABLE notes (
    id text PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    conversation_id text NOT NULL REFERENCES conversations(id),
    agent_id text NOT NULL REFERENCES agents(id),
    agent_name text NOT NULL,
    text text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX notes_conversation ON notes(conversation_id, created_at);
CREATE TABLE note_mentions (
    note_id text NOT NULL REFERENCES notes(id),
    agent_id text NOT NULL REFERENCES agents(id),
    conversation_id text NOT NULL,
    created_at timestamptz NOT NULL,
    read_at timestamptz,
    PRIMARY KEY (note_id, agent_id)
);
CREATE INDEX note_mentions_agent ON note_mentions(agent_id, created_at);
CREATE INDEX note_mentions_unread ON note_mentions(agent_id, conversation_id) WHERE read_at IS NULL;
"""

# 9: agents (router.agents), as SQLite's 15: an account can be deactivated (it keeps its
# history); the teams, skills and capacity an admin set in the console for one agent (over
# teams.yaml's entry); the console's settings of agents (presence at sign-in)
_AGENTS_ADMIN = """
ALTER TABLE agents ADD COLUMN active boolean NOT NULL DEFAULT true;
ALTER TABLE agents ADD COLUMN deactivated_at timestamptz;
CREATE TABLE agent_routing (
    agent_id text PRIMARY KEY REFERENCES agents(id),
    teams jsonb NOT NULL,
    skills jsonb NOT NULL,
    capacity jsonb NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text
);
CREATE TABLE agents_settings (
    key text PRIMARY KEY,
    value text NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text
);
"""

# 10: canned replies (router.canned), as SQLite's migration 16
_CANNED = """
CREATE TABLE canned_replies (
    id text PRIMARY KEY,
    team text,
    agent_id text REFERENCES agents(id),
    shortcut text NOT NULL,
    title text NOT NULL,
    text_ru text,
    text_en text,
    created_by text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CHECK ((team IS NULL) <> (agent_id IS NULL)),
    CHECK (text_ru IS NOT NULL OR text_en IS NOT NULL)
);
CREATE UNIQUE INDEX canned_replies_team ON canned_replies(team, shortcut) WHERE team IS NOT NULL;
CREATE UNIQUE INDEX canned_replies_agent ON canned_replies(agent_id, shortcut) WHERE agent_id IS NOT NULL;
"""

# 11: signals — each agent's read mark per conversation (router.signals), as SQLite's migration 17
_CONVERSATION_READS = """
CREATE TABLE conversation_reads (
    agent_id text NOT NULL REFERENCES agents(id),
    conversation_id text NOT NULL REFERENCES conversations(id),
    message_id text NOT NULL,
    read_at timestamptz NOT NULL,
    PRIMARY KEY (agent_id, conversation_id)
);
CREATE INDEX conversation_reads_conversation ON conversation_reads(conversation_id, read_at);
"""

# 12: files — what the router knows of each stored file (router.files); the bytes are in the
# files folder or the bucket, under the file's id
_FILES = """
CREATE TABLE files (
    id text PRIMARY KEY,
    name text NOT NULL,
    content_type text NOT NULL,
    size bigint NOT NULL,
    sha256 text NOT NULL,
    uploaded_by text NOT NULL,
    created_at timestamptz NOT NULL
);
"""

# 16: the queue the assigner reads skips snoozed conversations: an index that keeps it an index walk
_QUEUE_AWAKE = """
CREATE INDEX conversations_queue_awake ON conversations(priority DESC, created_at, id)
    WHERE status = 'queued' AND snoozed_until IS NULL;
"""

# a migration's version is its place here (1-based); append, never reorder
# 13: csat — satisfaction surveys, one per conversation at most (router/csat/schema.py)
PG_MIGRATIONS: list[str] = [
    _V1, _OUTBOX_LEASES, _IDENTITY_ORDER, _CLUSTER, _EVENTS, _INGEST_KNOWN,
    _AGENT_LANGUAGE, _NOTES, _AGENTS_ADMIN, _CANNED, _CONVERSATION_READS, _FILES, CSAT_SURVEYS, _SEARCH,
    # 15: read order — a conversation's messages by seq: read marks and unread counts go by it,
    # not by a message's time, which a later commit may carry earlier (router/signals/postgres.py)
    "CREATE INDEX messages_conversation_seq ON messages(conversation_id, seq);",
    _QUEUE_AWAKE,
    # 17: reopen — a customer writing soon after a resolve reopens the conversation
    # (rules.yaml's reopen): when it last was, and how many times (router/ingest/reopen.py)
    "ALTER TABLE conversations ADD COLUMN reopened_at timestamptz,"
    " ADD COLUMN reopens integer NOT NULL DEFAULT 0;",
    # 18: webhooks — an admin's subscriptions and the webhooks' own durable outbox, one
    # delivery per (subscription, event) (router/webhooks/schema.py)
    WEBHOOKS,
    _SEARCH_TERMS,  # 19: search's terms made in Python (router.search.terms), a table of stored vectors
    # 20: reports — the conversation event log, written by triggers (router/reports/schema.py)
    CONVERSATION_EVENTS,
    # 21: webhooks — a claim walks only the pending deliveries; the dead letters and the
    # prune of sent ones read an index (router/webhooks/schema.py)
    WEBHOOK_INDEXES,
    # 22: the conversation list's pages seek to their cursor, (last_message_at, id) < ($5, $6),
    # through an index ending in id, by status and, for "Mine", by agent first (router/store/pg_rows.py)
    "CREATE INDEX conversations_activity_id ON conversations(status, last_message_at, id);"
    " CREATE INDEX conversations_agent_activity ON conversations(agent_id, status, last_message_at, id)"
    " WHERE agent_id IS NOT NULL;"
    " DROP INDEX conversations_activity;",
    # 23: reports — one row per conversation cycle, folded from the event log by a trigger, so a
    # report reads a row per cycle, not every event (router/reports/cycles_schema.py)
    CONVERSATION_CYCLES,
    # 24: the console's lists at a million customers (issue 24): a view of conversations by status walks
    # one status's rows newest first, by assignee too when it names one (router/search/postgres.py);
    # the wallboard counts the open ones
    # from an index holding every column it reads (router/wallboard/postgres.py)
    "CREATE INDEX conversations_status_seq ON conversations(status, seq);"
    " CREATE INDEX conversations_status_agent_seq ON conversations(status, agent_id, seq);"
    " CREATE INDEX conversations_open_board ON conversations(team, channel, status)"
    " INCLUDE (snoozed_until, reopened_at, created_at) WHERE status IN ('bot', 'queued', 'assigned');",
    INGEST_KNOWN_SWITCH,  # 25: a known sender's message on another channel takes the full transaction
    # 26: a missed first-response target announced once per conversation cycle (SQLite's 31)
    "ALTER TABLE conversations ADD COLUMN sla_announced_at timestamptz;",
    # 27: a site-chat visitor's identity is their token's public part, not the token, a credential
    # shown to agents and integrations (SQLite's 32; router/store/visitor_ids.py)
    VISITOR_IDS,
    "CREATE INDEX IF NOT EXISTS sessions_agent ON sessions(agent_id);",  # 28: SQLite's 33
    # 29: when each session was last seen at a console (SQLite's 34; router.routing.sql: ABSENT)
    "ALTER TABLE sessions ADD COLUMN seen_at timestamptz NOT NULL DEFAULT now();",
    OFFER_LAPSES,  # 30: a lapsed offer no longer cuts a customer's wait in two (SQLite's 35)
]


async def migrate(conn: PgConn, where: str) -> tuple[int, int]:
    """Apply what is pending, each migration in a transaction of its own,
    under the cluster-wide migration lock; the versions before and after,
    both read under the lock (what another node applied first is not ours)."""
    await conn.execute("SELECT pg_advisory_lock($1, 0)", MIGRATIONS_LOCK, timeout=MIGRATION_TIMEOUT)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
        version = await conn.fetchval("SELECT max(version) FROM schema_version") or 0
        if version > len(PG_MIGRATIONS):
            raise SchemaTooNew(where, version, len(PG_MIGRATIONS))
        log_migration(log, where, version, len(PG_MIGRATIONS))
        for number, script in enumerate(PG_MIGRATIONS[version:], start=version + 1):
            log.debug("applying schema migration %d to %s", number, where)
            async with conn.transaction():
                await conn.execute(script, timeout=MIGRATION_TIMEOUT)
                await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", number)
        return version, len(PG_MIGRATIONS)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1, 0)", MIGRATIONS_LOCK)
