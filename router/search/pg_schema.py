"""PostgreSQL's scripts of the search slice, appended to
``router.store.pg_migrations.PG_MIGRATIONS`` (migrations 14 and 19) as the
other slices' schemas are: shipped, so never edited."""

# 14: search, labels and snooze (issue 22; router/search/): messages searched by
# PostgreSQL's own text search, through a GIN index of the expression
# router.search.postgres.MESSAGE_VECTOR (the Russian configuration stems Cyrillic words by Snowball's
# Russian stemmer and Latin ones by the English; the text lowered by ICU's rules, whatever the
# database's LC_CTYPE); customers' terms (router.search.terms) kept as a tsvector, refreshed by the
# indexer from a queue that triggers append to when a name or an identity changes (a plain queue,
# never a unique key: an append waits for no other transaction); labels of conversations; a
# snoozed conversation's time to come back
SEARCH = """
CREATE INDEX messages_search ON messages
    USING gin (to_tsvector('russian'::regconfig, lower(text COLLATE "und-x-icu")));
-- the newest first: a common word's matches read backwards by seq until a page is full, not all
-- of them gathered and sorted (the planner takes the GIN index for a rare word)
CREATE INDEX messages_seq ON messages(seq);
CREATE TABLE search_customers (
    seq bigint GENERATED ALWAYS AS IDENTITY,
    customer_id text PRIMARY KEY REFERENCES customers(id),
    terms tsvector NOT NULL
);
CREATE INDEX search_customers_terms ON search_customers USING gin (terms);
CREATE INDEX search_customers_seq ON search_customers(seq);
CREATE TABLE search_dirty_customers (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id text NOT NULL
);
INSERT INTO search_dirty_customers (customer_id) SELECT id FROM customers ORDER BY created_at, id;
CREATE FUNCTION omnirouter_search_dirty() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_TABLE_NAME = 'customers' THEN
        INSERT INTO search_dirty_customers (customer_id) VALUES (NEW.id);
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO search_dirty_customers (customer_id) VALUES (OLD.customer_id);
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.customer_id IS DISTINCT FROM OLD.customer_id) THEN
        INSERT INTO search_dirty_customers (customer_id) VALUES (NEW.customer_id);
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER search_customer_changed AFTER INSERT OR UPDATE OF display_name, merged_into ON customers
    FOR EACH ROW EXECUTE FUNCTION omnirouter_search_dirty();
CREATE TRIGGER search_identity_changed AFTER INSERT OR UPDATE OF customer_id, value OR DELETE ON identities
    FOR EACH ROW EXECUTE FUNCTION omnirouter_search_dirty();
CREATE TABLE labels (name text PRIMARY KEY, created_at timestamptz NOT NULL);
CREATE TABLE conversation_labels (
    conversation_id text NOT NULL REFERENCES conversations(id),
    label text NOT NULL REFERENCES labels(name),
    created_at timestamptz NOT NULL,
    PRIMARY KEY (conversation_id, label)
);
CREATE INDEX conversation_labels_label ON conversation_labels(label, conversation_id);
ALTER TABLE conversations ADD COLUMN snoozed_until timestamptz;
CREATE INDEX conversations_snoozed ON conversations(snoozed_until) WHERE snoozed_until IS NOT NULL;
CREATE INDEX conversations_seq ON conversations(seq);
"""

# 19 (issue 22, search: one truth on both backends): messages are searched by the terms
# router.search.terms makes in Python, as SQLite's index holds them, not by PostgreSQL's
# own parse of the text (which read an email, a URL, a date or an accent its own way). A
# trigger queues each new message; the indexer (router.search.postgres) writes its terms to
# search_messages, a narrow table whose stored tsvector a walk by seq reads without parsing
# any text. Every message stored before is queued here, the newest first out, and every
# customer too (their terms are made by the new rules): the indexer rebuilds both in the
# background after the upgrade, search finding more as it goes.
SEARCH_TERMS = """
DROP INDEX messages_search;
CREATE TABLE search_messages (
    seq bigint PRIMARY KEY,
    terms tsvector NOT NULL
);
CREATE INDEX search_messages_terms ON search_messages USING gin (terms);
CREATE TABLE search_dirty_messages (seq bigint PRIMARY KEY);
INSERT INTO search_dirty_messages (seq) SELECT seq FROM messages;
CREATE FUNCTION omnirouter_search_message() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO search_dirty_messages (seq) VALUES (NEW.seq);
    RETURN NULL;
END
$fn$;
CREATE TRIGGER search_message_new AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION omnirouter_search_message();
INSERT INTO search_dirty_customers (customer_id) SELECT id FROM customers ORDER BY created_at, id;
"""
