"""PostgreSQL's scripts of the ingest slice, appended to
``router.store.pg_migrations.PG_MIGRATIONS`` as the other slices' schemas
are: shipped, so never edited (a change is a new script)."""

# 25: the ingest of a message from a known sender (router.ingest.postgres_batch; migration 6's
# function, the same signature) leaves a message written on another channel than its open
# conversation's last one to the full transaction, which says so (Ingested.switched): a customer
# queued for people who switches channel is told again, there, what happens next. Such a switch
# is rare, so the full transaction's cost for it is too
INGEST_KNOWN_SWITCH = """
CREATE OR REPLACE FUNCTION omnirouter_ingest_known(
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
    open_channel text;
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
    SELECT id, channel INTO open_id, open_channel FROM conversations WHERE customer_id = cu.id
        AND status <> 'resolved';
    IF open_id IS NOT NULL AND open_channel IS DISTINCT FROM p_channel THEN
        RETURN;  -- written on another channel than the conversation's last message: Ingested.switched's
    END IF;
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
"""
