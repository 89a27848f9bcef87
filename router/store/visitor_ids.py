"""The migration that takes the site chat's visitor tokens out of the data (SQLite's 32,
PostgreSQL's 27), one script per backend: shipped, so never edited.

A visitor's token (``<random>.<signature>``, connectors/webchat_tokens.py) is a
credential: a hello with it reads the visitor's history and writes as them. It was
also their identity's value, so it was stored, shown to every agent (the customer's
identities, a message's sender, the console's live events) and sent to every webhook.
The identity's value is now the token's public part (``<random>``, which proves
nothing): the token stays between the widget and the chat, which names the visitor
by that part past the hello. Rows written before are rewritten to it:

- ``identities`` of kind ``webchat``: their value (``key_kind``/``key_value`` hold
  a phone, an email or a CRM's id, never the token). The search triggers on an
  identity's value queue its customer, whose terms are made again;
- ``messages`` sent by one: ``sender_value``, a normalised identity kept in
  ``core.identity``, and an inbound one's ``external_id``
  ``<random>.<signature>:<client_id>`` to ``<random>:<client_id>``, as the chat
  makes it (base64url holds no '.' or ':': the first of each are the separators);
  a message re-sent since in the new form already holds that id (the widget sends
  a message again until acknowledged), so the older copy keeps ``#<its id>`` after
  it, still unique, never looked up again;
- ``outbox`` entries addressed to one (their ``recipient``), first, while the
  identities still name them by the token: a waiting entry is found by recipient
  when the visitor returns;
- ``customer_merges``' snapshots of identities, so that undoing a merge made before
  puts the visitor's identity back (it is found by its value), and
  ``identity_audit``'s ``details.identity`` (shown in the console).

A row whose public part another already holds is left as it was (the keys stay
unique; the random part is 24 random bytes, so none is expected). Not rewritten:
webhook deliveries queued before (their body is signed text, sent as it is) and, on
PostgreSQL, the events between nodes (pruned within minutes)."""

from __future__ import annotations

# the public part of a token (the text before its first '.'); SQLite has no split_part
_SQLITE_PUBLIC = "substr({v}, 1, instr({v}, '.') - 1)"
_SQLITE_OLD = "instr({v}, '.') > 1"


def _public(value: str) -> str:
    return _SQLITE_PUBLIC.format(v=value)


def _old(value: str) -> str:
    return _SQLITE_OLD.format(v=value)


_RECIPIENT = "json_extract(payload, '$.recipient')"
_EXTERNAL_NEW = f"{_public('external_id')} || substr(external_id, instr(external_id, ':'))"
_SNAPSHOT_VALUE = "json_extract(i.value, '$.value')"
_AUDIT_VALUE = "json_extract(details, '$.identity.value')"

SQLITE = f"""
UPDATE outbox SET payload = json_set(payload, '$.recipient', {_public(_RECIPIENT)})
    WHERE json_valid(payload) AND {_old(_RECIPIENT)} AND EXISTS (
        SELECT 1 FROM identities w WHERE w.kind = 'webchat' AND w.value = json_extract(outbox.payload, '$.recipient'));
UPDATE identities SET value = {_public('value')}
    WHERE kind = 'webchat' AND {_old('value')} AND NOT EXISTS (
        SELECT 1 FROM identities n WHERE n.kind = 'webchat' AND n.value = {_public('identities.value')});
UPDATE messages SET
    sender_value = CASE WHEN {_old('sender_value')} THEN {_public('sender_value')} ELSE sender_value END,
    external_id = CASE
        WHEN direction = 'in' AND {_old('external_id')} AND instr(external_id, '.') < instr(external_id, ':')
        THEN {_EXTERNAL_NEW} || CASE WHEN EXISTS (
            SELECT 1 FROM messages n WHERE n.channel = messages.channel AND n.direction = 'in'
                AND n.external_id = {_public('messages.external_id')}
                    || substr(messages.external_id, instr(messages.external_id, ':')))
            THEN '#' || id ELSE '' END
        ELSE external_id END,
    core = CASE WHEN json_valid(core) AND json_type(core, '$.identity') = 'text'
            AND {_old("json_extract(core, '$.identity')")}
        THEN json_set(core, '$.identity', {_public("json_extract(core, '$.identity')")}) ELSE core END
    WHERE sender_kind = 'webchat' AND ({_old('sender_value')} OR {_old('external_id')}
        OR (json_valid(core) AND {_old("json_extract(core, '$.identity')")}));
UPDATE customer_merges SET snapshot = json_set(snapshot, '$.identities', (
        SELECT json_group_array(CASE WHEN json_extract(i.value, '$.kind') = 'webchat' AND {_old(_SNAPSHOT_VALUE)}
            THEN json(json_set(i.value, '$.value', {_public(_SNAPSHOT_VALUE)})) ELSE json(i.value) END)
        FROM json_each(customer_merges.snapshot, '$.identities') AS i))
    WHERE json_valid(snapshot) AND EXISTS (
        SELECT 1 FROM json_each(customer_merges.snapshot, '$.identities') AS i
        WHERE json_extract(i.value, '$.kind') = 'webchat' AND {_old(_SNAPSHOT_VALUE)});
UPDATE identity_audit SET details = json_set(details, '$.identity.value', {_public(_AUDIT_VALUE)})
    WHERE json_valid(details) AND json_extract(details, '$.identity.kind') = 'webchat' AND {_old(_AUDIT_VALUE)};
"""

POSTGRES = """
UPDATE outbox SET payload = jsonb_set(payload, '{recipient}', to_jsonb(split_part(payload->>'recipient', '.', 1)))
    WHERE strpos(payload->>'recipient', '.') > 1 AND EXISTS (
        SELECT 1 FROM identities w WHERE w.kind = 'webchat' AND w.value = outbox.payload->>'recipient');
UPDATE identities SET value = split_part(value, '.', 1)
    WHERE kind = 'webchat' AND strpos(value, '.') > 1 AND NOT EXISTS (
        SELECT 1 FROM identities n WHERE n.kind = 'webchat' AND n.value = split_part(identities.value, '.', 1));
UPDATE messages SET
    sender_value = CASE WHEN strpos(sender_value, '.') > 1 THEN split_part(sender_value, '.', 1)
        ELSE sender_value END,
    external_id = CASE
        WHEN direction = 'in' AND strpos(external_id, '.') > 1 AND strpos(external_id, '.') < strpos(external_id, ':')
        THEN split_part(external_id, '.', 1) || substr(external_id, strpos(external_id, ':')) || CASE WHEN EXISTS (
            SELECT 1 FROM messages n WHERE n.channel = messages.channel AND n.direction = 'in'
                AND n.external_id = split_part(messages.external_id, '.', 1)
                    || substr(messages.external_id, strpos(messages.external_id, ':')))
            THEN '#' || id ELSE '' END
        ELSE external_id END,
    core = CASE WHEN jsonb_typeof(core->'identity') = 'string' AND strpos(core->>'identity', '.') > 1
        THEN jsonb_set(core, '{identity}', to_jsonb(split_part(core->>'identity', '.', 1))) ELSE core END
    WHERE sender_kind = 'webchat' AND (strpos(sender_value, '.') > 1 OR strpos(external_id, '.') > 1
        OR strpos(core->>'identity', '.') > 1);
UPDATE customer_merges SET snapshot = jsonb_set(snapshot, '{identities}', (
        SELECT jsonb_agg(CASE WHEN e.i->>'kind' = 'webchat' AND strpos(e.i->>'value', '.') > 1
            THEN jsonb_set(e.i, '{value}', to_jsonb(split_part(e.i->>'value', '.', 1))) ELSE e.i END ORDER BY e.n)
        FROM jsonb_array_elements(customer_merges.snapshot->'identities') WITH ORDINALITY AS e(i, n)))
    WHERE jsonb_typeof(snapshot->'identities') = 'array' AND EXISTS (
        SELECT 1 FROM jsonb_array_elements(customer_merges.snapshot->'identities') AS x(i)
        WHERE x.i->>'kind' = 'webchat' AND strpos(x.i->>'value', '.') > 1);
UPDATE identity_audit SET details = jsonb_set(details, '{identity,value}',
        to_jsonb(split_part(details#>>'{identity,value}', '.', 1)))
    WHERE details#>>'{identity,kind}' = 'webchat' AND strpos(details#>>'{identity,value}', '.') > 1;
"""
