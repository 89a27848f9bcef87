"""SQLite schema, one script per version. Append only: never edit a shipped one."""

from router.csat.schema import SQLITE as CSAT_SURVEYS
from router.reports.cycles_schema import SQLITE as CONVERSATION_CYCLES
from router.reports.cycles_schema import SQLITE_LAPSES as OFFER_LAPSES
from router.reports.schema import SQLITE as CONVERSATION_EVENTS
from router.store.visitor_ids import SQLITE as VISITOR_IDS
from router.webhooks.schema import INDEXES as WEBHOOK_INDEXES
from router.webhooks.schema import SQLITE as WEBHOOKS

# the core's keys of ``extras`` before migration 10, and the JSON type each must
# have to move into ``messages.core`` (router.models.CoreMeta)
_CORE_KEYS = {
    "automatic": "text", "bot": "object", "identity": "text", "follows_conversation": "text",
    "agent_name": "text", "sender_name": "text", "automated": "text", "claimed_phone": "text",
    "claimed_email": "text", "proven_phone": "text", "proven_email": "text", "thread": "object",
    "language": "text",
}
_CORE_FLAGS = ("aside", "verification")  # moved when true


def _moved(key: str, kind: str) -> str:
    return f"CASE json_type(extras, '$.{key}') WHEN '{kind}' THEN json_extract(extras, '$.{key}') END"


def _migration_10() -> str:
    values = [f"'{key}', {_moved(key, kind)}" for key, kind in _CORE_KEYS.items()]
    values += [f"'{flag}', CASE json_type(extras, '$.{flag}') WHEN 'true' THEN json('true') END"
               for flag in _CORE_FLAGS]
    values.append("'template', CASE json_type(extras, '$.template') WHEN 'true' THEN json_object("
                  "'customer_name', COALESCE(json_extract(extras, '$.customer_name'), ''),"
                  " 'agent_name', COALESCE(json_extract(extras, '$.agent_name'), '')) END")
    # a key leaves extras only when it moved ('$[0]' names nothing in an object: json_remove skips it)
    gone = [f"CASE json_type(extras, '$.{key}') WHEN '{kind}' THEN '$.{key}' ELSE '$[0]' END"
            for key, kind in _CORE_KEYS.items()]
    gone += [f"CASE json_type(extras, '$.{flag}') WHEN 'true' THEN '$.{flag}' ELSE '$[0]' END" for flag in _CORE_FLAGS]
    gone += [f"CASE json_type(extras, '$.template') WHEN 'true' THEN '$.{key}' ELSE '$[0]' END"
             for key in ("template", "customer_name")]
    return f"""
    ALTER TABLE messages ADD COLUMN core TEXT NOT NULL DEFAULT '{{}}';
    UPDATE messages SET core = json_patch('{{}}', json_object({", ".join(values)})),
        extras = json_remove(extras, {", ".join(gone)})
        WHERE extras != '{{}}' AND json_valid(extras);
    UPDATE outbox SET payload = json_set(
            json_remove(payload, '$.extras.template', '$.extras.customer_name', '$.extras.agent_name'),
            '$.agent_name', json_extract(payload, '$.extras.agent_name'),
            '$.template', CASE WHEN json_extract(payload, '$.extras.template') THEN json_object(
                'customer_name', COALESCE(json_extract(payload, '$.extras.customer_name'), ''),
                'agent_name', COALESCE(json_extract(payload, '$.extras.agent_name'), '')) END)
        WHERE json_valid(payload) AND (json_extract(payload, '$.extras.agent_name') IS NOT NULL
            OR json_extract(payload, '$.extras.template') IS NOT NULL);
    """


MIGRATIONS: list[str] = [
    # 1: the foundation
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE customers (
        id TEXT PRIMARY KEY,
        display_name TEXT,
        attributes TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE identities (
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        customer_id TEXT NOT NULL REFERENCES customers(id),
        verified INTEGER NOT NULL DEFAULT 1,
        source TEXT NOT NULL DEFAULT 'channel',
        created_at TEXT NOT NULL,
        PRIMARY KEY (kind, value)
    );
    CREATE INDEX identities_customer ON identities(customer_id);
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL REFERENCES customers(id),
        status TEXT NOT NULL,
        team TEXT,
        agent_id TEXT,
        priority INTEGER NOT NULL DEFAULT 0,
        channel TEXT NOT NULL,
        route_reason TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_message_at TEXT NOT NULL,
        last_message_text TEXT,
        resolved_at TEXT
    );
    -- the invariant "one open conversation per customer", enforced by the database
    CREATE UNIQUE INDEX conversations_one_open ON conversations(customer_id) WHERE status != 'resolved';
    CREATE INDEX conversations_activity ON conversations(status, last_message_at);
    CREATE INDEX conversations_customer ON conversations(customer_id, created_at);
    CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        conversation_id TEXT REFERENCES conversations(id),
        customer_id TEXT REFERENCES customers(id),
        direction TEXT NOT NULL,
        author TEXT NOT NULL,
        agent_id TEXT,
        channel TEXT NOT NULL,
        external_id TEXT,
        sender_kind TEXT,
        sender_value TEXT,
        text TEXT NOT NULL,
        attachments TEXT NOT NULL DEFAULT '[]',
        extras TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        delivery TEXT NOT NULL,
        delivery_error TEXT
    );
    CREATE UNIQUE INDEX messages_dedupe ON messages(channel, external_id)
        WHERE direction = 'in';
    CREATE INDEX messages_conversation ON messages(conversation_id, created_at);
    CREATE INDEX messages_customer ON messages(customer_id, created_at);
    CREATE INDEX messages_unrouted ON messages(created_at) WHERE conversation_id IS NULL;
    CREATE TABLE outbox (
        id TEXT PRIMARY KEY,
        message_id TEXT NOT NULL REFERENCES messages(id),
        conversation_id TEXT,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX outbox_pending ON outbox(created_at) WHERE status = 'pending';
    CREATE TABLE agents (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        agent_id TEXT NOT NULL REFERENCES agents(id),
        expires_at TEXT NOT NULL
    );
    """,
    # 2: identity — match keys, unverified claims, merges that can be undone, audit log
    """
    -- the normalised key an identity is matched by (phone / email), and why it
    -- belongs to its customer (provenance of the link)
    ALTER TABLE identities ADD COLUMN key_kind TEXT;
    ALTER TABLE identities ADD COLUMN key_value TEXT;
    ALTER TABLE identities ADD COLUMN link_reason TEXT;
    CREATE INDEX identities_key ON identities(key_kind, key_value) WHERE key_kind IS NOT NULL;
    ALTER TABLE customers ADD COLUMN merged_into TEXT REFERENCES customers(id);
    -- per attribute: {"name": {"at": ts, "source": "crm"}}, to settle merge conflicts
    ALTER TABLE customers ADD COLUMN attribute_meta TEXT NOT NULL DEFAULT '{}';
    CREATE TABLE identity_claims (
        id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL REFERENCES customers(id),
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        source TEXT NOT NULL,
        raw TEXT,
        message_id TEXT,
        created_at TEXT NOT NULL,
        verified_at TEXT,
        UNIQUE (customer_id, kind, value)
    );
    CREATE INDEX identity_claims_key ON identity_claims(kind, value);
    CREATE TABLE customer_merges (
        id TEXT PRIMARY KEY,
        survivor_id TEXT NOT NULL REFERENCES customers(id),
        merged_id TEXT NOT NULL REFERENCES customers(id),
        source TEXT NOT NULL,
        actor TEXT,
        reason TEXT NOT NULL,
        -- what moved, so that an unmerge puts back exactly that
        snapshot TEXT NOT NULL,
        created_at TEXT NOT NULL,
        undone_at TEXT
    );
    CREATE INDEX customer_merges_survivor ON customer_merges(survivor_id, created_at);
    CREATE INDEX customer_merges_merged ON customer_merges(merged_id, created_at);
    CREATE TABLE identity_audit (
        id TEXT PRIMARY KEY,
        action TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        other_customer_id TEXT,
        source TEXT NOT NULL,
        actor TEXT,
        reason TEXT NOT NULL,
        details TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL
    );
    CREATE INDEX identity_audit_customer ON identity_audit(customer_id, created_at);
    """,
    # 3: routing — every decision keeps the rules version it used and its explanation
    """
    ALTER TABLE conversations ADD COLUMN rules_version TEXT;
    ALTER TABLE conversations ADD COLUMN route_trace TEXT;
    """,
    # 4: assignment — agents' presence, what a queued conversation needs, offers not yet opened
    """
    CREATE TABLE agent_presence (
        agent_id TEXT PRIMARY KEY REFERENCES agents(id),
        presence TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        idle_since TEXT NOT NULL
    );
    ALTER TABLE conversations ADD COLUMN skills TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE conversations ADD COLUMN channel_kind TEXT NOT NULL DEFAULT 'chat';
    ALTER TABLE conversations ADD COLUMN preferred_agent_id TEXT;
    ALTER TABLE conversations ADD COLUMN assigned_at TEXT;
    ALTER TABLE conversations ADD COLUMN opened_at TEXT;
    -- the queue in serving order, and each agent's load per channel kind
    CREATE INDEX conversations_queue ON conversations(priority DESC, created_at) WHERE status = 'queued';
    CREATE INDEX conversations_load ON conversations(agent_id, channel_kind) WHERE status = 'assigned';
    """,
    # 5: identity — one-time codes that prove a claimed phone/email
    """
    CREATE TABLE identity_verifications (
        id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL REFERENCES customers(id),
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        channel TEXT NOT NULL,
        code_hash TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        sends INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        last_sent_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        verified_at TEXT
    );
    -- at most one code in flight per customer: typing digits in the chat checks that one
    CREATE UNIQUE INDEX identity_verifications_pending ON identity_verifications(customer_id)
        WHERE status = 'pending';
    """,
    # 6: delivery receipts — find an outbound message by the platform's id, and keep a
    # receipt that arrives before the send's answer was stored (applied when it is)
    """
    CREATE INDEX messages_outbound_external ON messages(channel, external_id)
        WHERE direction = 'out' AND external_id IS NOT NULL;
    CREATE TABLE delivery_receipts (
        channel TEXT NOT NULL,
        external_id TEXT NOT NULL,
        state TEXT NOT NULL,
        error TEXT,
        received_at TEXT NOT NULL,
        PRIMARY KEY (channel, external_id)
    );
    CREATE INDEX delivery_receipts_age ON delivery_receipts(received_at);
    """,
    # 7: outbox — how far a message sent in parts got, so a retry after a
    # restart never sends a part twice
    """
    ALTER TABLE outbox ADD COLUMN parts_sent INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE outbox ADD COLUMN part_external_id TEXT;
    """,
    # 8: identity — an agent dismissed the hint that a claim matches another
    # customer's proven key (who and when; the audit log keeps the why)
    """
    ALTER TABLE identity_claims ADD COLUMN dismissed_at TEXT;
    ALTER TABLE identity_claims ADD COLUMN dismissed_by TEXT;
    """,
    # 9: identity — codes the bot offers by itself: the conversation they were offered
    # in (offered once per key there), and who started them ('agent' or 'bot')
    """
    ALTER TABLE identity_verifications ADD COLUMN conversation_id TEXT;
    ALTER TABLE identity_verifications ADD COLUMN origin TEXT NOT NULL DEFAULT 'agent';
    CREATE INDEX identity_verifications_conversation ON identity_verifications(conversation_id)
        WHERE conversation_id IS NOT NULL;
    -- how many codes went to one phone/email lately (the bot's offers are capped per key)
    CREATE INDEX identity_verifications_key ON identity_verifications(kind, value, created_at);
    """,
    # 10: messages — the core's own data of a message in a typed column of its own
    # (router.models.CoreMeta): ``extras`` is the platform's. Every key the core kept
    # in ``extras`` moves out of it when it has the type its field takes (anything
    # else, which a connector of one's own may have written, stays in ``extras``,
    # where it was only ever the platform's: never a row ``core`` could not read),
    # and a pending reply's template request moves to the outbox payload's
    # ``template``, so an upgraded database keeps every marker
    _migration_10(),
    # 11: outbox — entries are claimed, not read: leased to one node (lease_owner, kept
    # as who finished it) until a deadline (lease_until, dropped when finished); a
    # recipient's pending entries found by its key, for one in flight per recipient
    """
    ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
    ALTER TABLE outbox ADD COLUMN lease_until TEXT;
    CREATE INDEX outbox_recipient ON outbox(
        json_extract(payload, '$.channel'), json_extract(payload, '$.recipient'), created_at
    ) WHERE status = 'pending';
    """,
    # 12: outbox — a returning visitor's replies that no socket took yet, found by message
    # (router.outbox.sqlite._reached), as PostgreSQL's migration 5 has it: without it,
    # every reconnection of the site chat read the whole outbox
    """
    CREATE INDEX outbox_unsent_message ON outbox(message_id) WHERE status IN ('pending', 'waiting');
    """,
    # 13: agents — the console's language an agent chose (NULL: their browser's)
    """
    ALTER TABLE agents ADD COLUMN language TEXT;
    """,
    # 14: notes — private notes agents write beside a conversation (a table of their own, so no
    # path that reads messages meets one) and the agents each note mentions (router/notes/)
    """
    CREATE TABLE notes (
        id TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id),
        agent_id TEXT NOT NULL REFERENCES agents(id),
        agent_name TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX notes_conversation ON notes(conversation_id, created_at);
    CREATE TABLE note_mentions (
        note_id TEXT NOT NULL REFERENCES notes(id),
        agent_id TEXT NOT NULL REFERENCES agents(id),
        conversation_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        read_at TEXT,
        PRIMARY KEY (note_id, agent_id)
    );
    CREATE INDEX note_mentions_agent ON note_mentions(agent_id, created_at);
    CREATE INDEX note_mentions_unread ON note_mentions(agent_id, conversation_id) WHERE read_at IS NULL;
    """,
    # 15: agents (router.agents) — an account can be deactivated (it keeps its history); the
    # teams, skills and capacity an admin set in the console for one agent (over teams.yaml's
    # entry); the console's settings of agents (presence at sign-in)
    """
    ALTER TABLE agents ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE agents ADD COLUMN deactivated_at TEXT;
    CREATE TABLE agent_routing (
        agent_id TEXT PRIMARY KEY REFERENCES agents(id),
        teams TEXT NOT NULL,
        skills TEXT NOT NULL,
        capacity TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        updated_by TEXT
    );
    CREATE TABLE agents_settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        updated_by TEXT
    );
    """,
    # 16: canned replies (router.canned) — a team's (team) or an agent's own (agent_id), exactly
    # one; a shortcut once per owner; the text in Russian, English or both
    """
    CREATE TABLE canned_replies (
        id TEXT PRIMARY KEY,
        team TEXT,
        agent_id TEXT REFERENCES agents(id),
        shortcut TEXT NOT NULL,
        title TEXT NOT NULL,
        text_ru TEXT,
        text_en TEXT,
        created_by TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        CHECK ((team IS NULL) <> (agent_id IS NULL)),
        CHECK (text_ru IS NOT NULL OR text_en IS NOT NULL)
    );
    CREATE UNIQUE INDEX canned_replies_team ON canned_replies(team, shortcut) WHERE team IS NOT NULL;
    CREATE UNIQUE INDEX canned_replies_agent ON canned_replies(agent_id, shortcut) WHERE agent_id IS NOT NULL;
    """,
    # 17: signals — each agent's read mark per conversation (router.signals): unread counts are
    # the customer's messages after it, counted when read; the ingest path writes nothing for them
    """
    CREATE TABLE conversation_reads (
        agent_id TEXT NOT NULL REFERENCES agents(id),
        conversation_id TEXT NOT NULL REFERENCES conversations(id),
        message_id TEXT NOT NULL,
        read_at TEXT NOT NULL,
        PRIMARY KEY (agent_id, conversation_id)
    );
    -- has any agent read the customer's last message (the widget's "Seen")
    CREATE INDEX conversation_reads_conversation ON conversation_reads(conversation_id, read_at);
    """,
    # 18: files — what the router knows of each stored file (router.files); the bytes
    # are in the files folder or the bucket, under the file's id
    """
    CREATE TABLE files (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        content_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        uploaded_by TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
    # 19: csat — satisfaction surveys, one per conversation at most (router/csat/schema.py)
    CSAT_SURVEYS,
    # 20: search, labels, snooze
    # (router/search/). Customers' stemmed terms in an FTS5 table, filled by the catch-up
    # indexer (router.search.actions) from the queue the triggers fill when a name or an
    # identity changes (every customer already here is queued). Messages' terms are in a file
    # of their own beside this one (router.search.sqlite_index), off the store's writer. Labels
    # of conversations; a snoozed conversation's time to come back
    """
    CREATE VIRTUAL TABLE search_customers USING fts5(terms, tokenize='unicode61 remove_diacritics 0');
    CREATE TABLE search_dirty_customers (customer_id TEXT PRIMARY KEY) WITHOUT ROWID;
    INSERT INTO search_dirty_customers SELECT id FROM customers;
    CREATE TRIGGER search_customer_new AFTER INSERT ON customers
        BEGIN INSERT OR IGNORE INTO search_dirty_customers VALUES (new.id); END;
    CREATE TRIGGER search_customer_changed AFTER UPDATE OF display_name, merged_into ON customers
        BEGIN INSERT OR IGNORE INTO search_dirty_customers VALUES (new.id); END;
    CREATE TRIGGER search_identity_new AFTER INSERT ON identities
        BEGIN INSERT OR IGNORE INTO search_dirty_customers VALUES (new.customer_id); END;
    CREATE TRIGGER search_identity_moved AFTER UPDATE OF customer_id, value ON identities
        BEGIN INSERT OR IGNORE INTO search_dirty_customers VALUES (old.customer_id), (new.customer_id); END;
    CREATE TRIGGER search_identity_gone AFTER DELETE ON identities
        BEGIN INSERT OR IGNORE INTO search_dirty_customers VALUES (old.customer_id); END;
    CREATE TABLE labels (name TEXT PRIMARY KEY, created_at TEXT NOT NULL);
    CREATE TABLE conversation_labels (
        conversation_id TEXT NOT NULL REFERENCES conversations(id),
        label TEXT NOT NULL REFERENCES labels(name),
        created_at TEXT NOT NULL,
        PRIMARY KEY (conversation_id, label)
    );
    CREATE INDEX conversation_labels_label ON conversation_labels(label, conversation_id);
    ALTER TABLE conversations ADD COLUMN snoozed_until TEXT;
    CREATE INDEX conversations_snoozed ON conversations(snoozed_until) WHERE snoozed_until IS NOT NULL;
    """,
    # 21: read order — a conversation's messages in the order they were stored (the rowid, which
    # the one writer gives in commit order): read marks and unread counts go by it, not by a
    # message's time, which a later commit may carry earlier (router/signals/sqlite.py)
    "CREATE INDEX messages_conversation_order ON messages(conversation_id);",
    # 22: the queue the assigner reads skips snoozed conversations; this index
    # keeps that read a walk of the index however many are snoozed
    """
    CREATE INDEX conversations_queue_awake ON conversations(priority DESC, created_at, id)
        WHERE status = 'queued' AND snoozed_until IS NULL;
    """,
    # 23: reopen — a customer writing soon after a resolve reopens the conversation
    # (rules.yaml's reopen): when it last was, and how many times (router/ingest/reopen.py)
    """
    ALTER TABLE conversations ADD COLUMN reopened_at TEXT;
    ALTER TABLE conversations ADD COLUMN reopens INTEGER NOT NULL DEFAULT 0;
    """,
    # 24: webhooks — an admin's subscriptions and the webhooks' own durable outbox, one
    # delivery per (subscription, event) (router/webhooks/schema.py)
    WEBHOOKS,
    # 25: search's terms made by new
    # rules (router.search.terms: accents, look-alike letters, phones, dates, codes): every
    # customer queued for the indexer again. The index of messages, a file of its own, is
    # rebuilt by itself when it was made by other rules (router.search.sqlite_index)
    "INSERT OR IGNORE INTO search_dirty_customers SELECT id FROM customers;",
    # 26: reports — the conversation event log, written by triggers (router/reports/schema.py)
    CONVERSATION_EVENTS,
    # 27: webhooks — a claim walks only the pending deliveries; the dead letters and the
    # prune of sent ones read an index (router/webhooks/schema.py)
    WEBHOOK_INDEXES,
    # 28: the conversation list's pages seek to their cursor, (last_message_at, id) < (?, ?), through
    # an index ending in id, by status and, for "Mine", by agent first: a page deep in the list, or
    # the Mine tab of an agent with none, reads only what it returns (router/store/rows.py)
    """
    CREATE INDEX conversations_activity_id ON conversations(status, last_message_at, id);
    CREATE INDEX conversations_agent_activity ON conversations(agent_id, status, last_message_at, id)
        WHERE agent_id IS NOT NULL;
    DROP INDEX conversations_activity;
    """,
    # 29: reports — one row per conversation cycle, folded from the event log by a trigger, so a
    # report reads a row per cycle, not every event (router/reports/cycles_schema.py)
    CONVERSATION_CYCLES,
    # 30: the console's lists at a million customers (issue 24): a view of conversations by status
    # walks one status's rows newest first (an index ends in the rowid, the views' order), by status
    # and assignee when it names one, nobody's included (router/search/sqlite.py); the wallboard
    # counts the open ones from an index holding every column it reads (router/wallboard/sqlite.py)
    """
    CREATE INDEX conversations_status_position ON conversations(status);
    CREATE INDEX conversations_status_agent_position ON conversations(status, agent_id);
    CREATE INDEX conversations_open_board ON conversations(team, channel, status, snoozed_until, reopened_at,
        created_at) WHERE status IN ('bot', 'queued', 'assigned');
    """,
    # 31: a missed first-response target announced once per conversation cycle, whichever node
    # leads the assigner and across restarts (router.routing.assignment: a new leader announced
    # every current breach again)
    "ALTER TABLE conversations ADD COLUMN sla_announced_at TEXT;",
    # 32: a site-chat visitor's token is a credential (a hello with it reads their history), and it was
    # their identity's value: stored, shown to agents, sent to integrations. The value is now its public
    # part; identities, their messages (sender, external id), outbox entries, merge snapshots and the
    # audit log are rewritten to it (router/store/visitor_ids.py)
    VISITOR_IDS,
    # 33: an agent's sessions by agent: the assigner asks every few seconds whether an offline agent
    # is signed in anywhere (router.routing.sql.STRANDED), and a logout counts the agent's others
    # (IF NOT EXISTS: a test ages a store to before 32, which runs again with what follows it)
    "CREATE INDEX IF NOT EXISTS sessions_agent ON sessions(agent_id);",
    # 34: when each session was last seen at a console (an open console socket, a request): an agent
    # whose consoles have all been closed a while without a logout (the browser, the laptop) is
    # nobody at work (router.routing.sql: ABSENT, STRANDED); the sessions alive now count as seen now
    """
    ALTER TABLE sessions ADD COLUMN seen_at TEXT;
    UPDATE sessions SET seen_at = strftime('%Y-%m-%dT%H:%M:%f000Z', 'now');
    """,
    # 35: reports — an offer that lapsed back to the queue no longer cuts the customer's wait in two: the
    # stay runs from when they began to wait until an offer that stuck or a take
    # (router/reports/cycles_schema.py, _fold_lapses)
    OFFER_LAPSES,
]
