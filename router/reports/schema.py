"""The conversation event log, one migration per backend (SQLite position 26,
PostgreSQL position 20; appended to router/store/migrations.py and
router/store/pg_migrations.py).

The events are written by triggers on ``conversations`` and ``messages``, so
each one is committed in the very transaction of the change it records, on
every path that changes a conversation (ingest, the assigner, agents' actions,
a merge, a deactivation, the batched PostgreSQL ingest, any node) and on any
path added later: nothing to remember to call. Its time is the change's own
(``updated_at``, ``assigned_at``, ``resolved_at``, a message's ``created_at``:
the application's clock, never the database's), so tests with a controlled
clock count exactly. The one rule for a new path (e.g. a customer's message
reopening a resolved conversation): the UPDATE that changes ``status``,
``agent_id`` or ``team`` sets ``updated_at`` to the change's time too.

Kinds (``router.reports.events.Kind``):
- ``opened``: a new conversation; ``status`` is the routing decision (bot or
  queued), with its team, priority and reason;
- ``queued``: put in a team's queue (opened there, handed off, requeued when an
  offer lapsed or its agent was deactivated, transferred to a team, reopened);
- ``assigned``: given to ``agent_id``, ``how`` = ``offer`` (the assigner's round
  or a transfer to a named agent: an offer the agent opens) or ``take`` (taken,
  answered, assigned by a supervisor);
- ``transferred``: ``how`` = ``team`` (to another team's queue) or ``agent``
  (from ``prev_agent_id`` to ``agent_id``);
- ``to_bot``: handed (back) to the bot; ``handoff``: the bot stepped aside,
  ``reason`` why;
- ``first_reply``: an agent's first answer since the conversation (re)opened
  (not a note said aside, not an automatic message);
- ``resolved``: ``prev_status`` ``bot`` means the bot kept it to the end
  (contained); ``reopened``;
- ``merged``: a merge of two customers folded this conversation into the
  other's (it is closed, not resolved: no resolve is counted of it);
  ``unmerged``: the merge was undone and the conversation is open again, dated
  by the unmerge (written by the ``customer_merges`` trigger; the restore of the
  conversation's old row writes nothing, so no ``reopened`` dated in the past).
``reason`` of a ``handoff`` is a code, never text: a ``HandoffReason`` value
(router/bot/base.py) when the bot stepped aside, ``taken`` when an agent took the
conversation from the bot, ``rules`` when the rules handed it over.

Conversations from before the log existed are backfilled by the migration with
what is known: ``opened`` at their creation (``how`` = ``backfill``), the first
agent's reply, and ``resolved`` (or ``merged``) at their resolve; which queue,
bot or wait they had before is not known, so their cycles count opened,
resolved and resolution time, no first response, SLA, bot or wait.
``tier`` is the customer's ``attributes.tier`` at the time of the event."""

from __future__ import annotations

from router.bot.base import HandoffReason

_COLUMNS = ("conversation_id, customer_id, kind, at, status, prev_status, team, channel, channel_kind, agent_id,"
            " prev_agent_id, how, priority, reason, tier")

# a merge closes the conversation it folds with this reason (router/identity/*_merge.py)
_MERGED = "COALESCE(NEW.route_reason, '') LIKE 'merged into %'"
# an unmerge puts the folded conversation's row back as it was (its old reason with it): the
# customer_merges trigger writes its ``unmerged`` event, dated by the unmerge, and this change writes none
_RESTORED = ("COALESCE(OLD.route_reason, '') LIKE 'merged into %' AND OLD.status = 'resolved'"
             " AND NEW.route_reason IS NOT OLD.route_reason")
# the code of a handoff (the bot's outcome is in the route's reason as "(<reason>: <detail>)")
_HANDOFF_CODE = ("CASE WHEN NEW.status = 'assigned' THEN 'taken' "
                 + " ".join(f"WHEN NEW.route_reason LIKE '%({r.value}:%' THEN '{r.value}'" for r in HandoffReason)
                 + " ELSE 'rules' END")
HANDOFF_CODES = (*(r.value for r in HandoffReason), "taken", "rules")

# one row per event: (kind, at, how, reason, condition) over NEW / OLD of conversations, in the order
# a statement's events are written (a transfer before the assignment it makes)
_SQLITE_UPDATES = (
    ("resolved", "COALESCE(NEW.resolved_at, NEW.updated_at)", "NULL", "NEW.route_reason",
     f"NEW.status = 'resolved' AND OLD.status <> 'resolved' AND NOT ({_MERGED})"),
    ("merged", "COALESCE(NEW.resolved_at, NEW.updated_at)", "NULL", "NULL",
     f"NEW.status = 'resolved' AND OLD.status <> 'resolved' AND {_MERGED}"),
    ("reopened", "NEW.updated_at", "NULL", "NULL",
     f"OLD.status = 'resolved' AND NEW.status <> 'resolved' AND NOT ({_RESTORED})"),
    ("to_bot", "NEW.updated_at", "NULL", "NEW.route_reason",
     "NEW.status = 'bot' AND OLD.status NOT IN ('bot', 'resolved')"),
    ("handoff", "NEW.updated_at", "NULL", _HANDOFF_CODE,
     "OLD.status = 'bot' AND NEW.status IN ('queued', 'assigned')"),
    ("queued", "NEW.updated_at", "CASE WHEN OLD.status = 'assigned' THEN 'requeued' ELSE OLD.status END",
     "NEW.route_reason", f"NEW.status = 'queued' AND OLD.status <> 'queued' AND NOT ({_RESTORED})"),
    ("transferred", "NEW.updated_at", "'agent'", "NULL",
     "OLD.status = 'assigned' AND NEW.status = 'assigned' AND OLD.agent_id IS NOT NEW.agent_id"),
    ("transferred", "NEW.updated_at", "'team'", "NEW.route_reason",
     "OLD.team IS NOT NEW.team AND OLD.status IN ('queued', 'assigned') AND NEW.status IN ('queued', 'assigned')"),
    ("assigned", "NEW.assigned_at", "CASE WHEN NEW.opened_at IS NULL THEN 'offer' ELSE 'take' END", "NULL",
     "NEW.status = 'assigned' AND NEW.assigned_at IS NOT NULL AND NEW.assigned_at IS NOT OLD.assigned_at"
     f" AND NOT ({_RESTORED})"),
)


# the seq of a conversation's latest (re)opening; NULL when the log has none (a conversation from before
# the log, not backfilled): its replies then write no first_reply at all, rather than one each
_OPENING = ("(SELECT {max}(o.seq) FROM conversation_events o"
            " WHERE o.conversation_id = c.id AND o.kind IN ('opened', 'reopened'))")


def _backfill(tier: str, said: str, automatic: str) -> str:
    """What is known of the conversations from before the log: each one's opening, its first agent's
    reply and its resolve (or the merge that closed it), in that order per conversation."""
    columns = ("c.id, c.customer_id, {kind}, {at}, c.status, NULL, c.team, c.channel, c.channel_kind, {agent},"
               f" NULL, {{how}}, c.priority, NULL, {tier}")
    opened = columns.format(kind="'opened'", at="c.created_at", agent="NULL", how="'backfill'")
    replied = columns.format(kind="'first_reply'", at="f.at", agent=(
        "(SELECT m.agent_id FROM messages m WHERE m.conversation_id = c.id AND m.created_at = f.at"
        f" AND m.direction = 'out' AND m.author = 'agent' AND {said} AND {automatic} LIMIT 1)"), how="NULL")
    closed = columns.format(kind=f"CASE WHEN {_MERGED.replace('NEW.', 'c.')} THEN 'merged' ELSE 'resolved' END",
                            at="c.resolved_at", agent="c.agent_id", how="NULL")
    first = ("SELECT m.conversation_id, min(m.created_at) AS at FROM messages m WHERE m.direction = 'out'"
             f" AND m.author = 'agent' AND m.conversation_id IS NOT NULL AND {said} AND {automatic}"
             " GROUP BY m.conversation_id")
    customer = "LEFT JOIN customers cu ON cu.id = c.customer_id"
    return f"""
INSERT INTO conversation_events ({_COLUMNS}) SELECT {opened} FROM conversations c {customer}
    ORDER BY c.created_at, c.id;
INSERT INTO conversation_events ({_COLUMNS}) SELECT {replied} FROM conversations c {customer}
    JOIN ({first}) f ON f.conversation_id = c.id ORDER BY f.at, c.id;
INSERT INTO conversation_events ({_COLUMNS}) SELECT {closed} FROM conversations c {customer}
    WHERE c.status = 'resolved' AND c.resolved_at IS NOT NULL ORDER BY c.resolved_at, c.id;
"""


def _sqlite_insert(kind: str, at: str, how: str, reason: str, condition: str, old: bool = True) -> str:
    prev = ("OLD.status", "OLD.agent_id") if old else ("NULL", "NULL")
    return (
        f"INSERT INTO conversation_events ({_COLUMNS}) SELECT NEW.id, NEW.customer_id, '{kind}', {at}, NEW.status,"
        f" {prev[0]}, NEW.team, NEW.channel, NEW.channel_kind, NEW.agent_id, {prev[1]}, {how}, NEW.priority,"
        f" {reason}, (SELECT json_extract(attributes, '$.tier') FROM customers WHERE id = NEW.customer_id)"
        f" WHERE {condition};"
    )


def _sqlite() -> str:
    state = "\n        ".join(_sqlite_insert(*row) for row in _SQLITE_UPDATES)
    return f"""
CREATE TABLE conversation_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    status TEXT NOT NULL,
    prev_status TEXT,
    team TEXT,
    channel TEXT NOT NULL,
    channel_kind TEXT,
    agent_id TEXT,
    prev_agent_id TEXT,
    how TEXT,
    priority INTEGER NOT NULL DEFAULT 0,
    reason TEXT,
    tier TEXT
);
-- reports read a range of time; a conversation's own events in order
CREATE INDEX conversation_events_at ON conversation_events(at, kind);
CREATE INDEX conversation_events_conversation ON conversation_events(conversation_id, seq);
CREATE TRIGGER conversation_events_opened AFTER INSERT ON conversations BEGIN
        {_sqlite_insert("opened", "NEW.created_at", "NEW.status", "NEW.route_reason", "1", old=False)}
        {_sqlite_insert("queued", "NEW.created_at", "'opened'", "NEW.route_reason", "NEW.status = 'queued'",
                        old=False)}
    END;
-- one trigger, so the events of one statement are written in one order (the list's), as on PostgreSQL
CREATE TRIGGER conversation_events_changed AFTER UPDATE OF status, agent_id, team, assigned_at ON conversations BEGIN
        {state}
    END;
CREATE TRIGGER conversation_events_first_reply AFTER INSERT ON messages
    WHEN NEW.direction = 'out' AND NEW.author = 'agent' AND NEW.conversation_id IS NOT NULL
        AND COALESCE(json_extract(NEW.core, '$.aside'), 0) = 0 AND json_extract(NEW.core, '$.automatic') IS NULL
    BEGIN
        INSERT INTO conversation_events ({_COLUMNS})
        SELECT c.id, c.customer_id, 'first_reply', NEW.created_at, c.status, NULL, c.team, c.channel,
            c.channel_kind, NEW.agent_id, NULL, NULL, c.priority, NULL,
            (SELECT json_extract(attributes, '$.tier') FROM customers WHERE id = c.customer_id)
        FROM conversations c WHERE c.id = NEW.conversation_id AND NOT EXISTS (
            SELECT 1 FROM conversation_events e WHERE e.conversation_id = c.id AND e.kind = 'first_reply'
                AND e.seq > {_OPENING.format(max="MAX")}) AND {_OPENING.format(max="MAX")} IS NOT NULL;
    END;
CREATE TRIGGER conversation_events_unmerged AFTER UPDATE OF undone_at ON customer_merges
    WHEN OLD.undone_at IS NULL AND NEW.undone_at IS NOT NULL BEGIN
        INSERT INTO conversation_events ({_COLUMNS})
        SELECT c.id, c.customer_id, 'unmerged', NEW.undone_at, c.status, 'resolved', c.team, c.channel,
            c.channel_kind, c.agent_id, NULL, NULL, c.priority, NULL,
            (SELECT json_extract(attributes, '$.tier') FROM customers WHERE id = c.customer_id)
        FROM conversations c WHERE c.id = json_extract(NEW.snapshot, '$.fold.folded.id') AND c.status <> 'resolved';
    END;
{_backfill("json_extract(cu.attributes, '$.tier')", "COALESCE(json_extract(m.core, '$.aside'), 0) = 0",
           "json_extract(m.core, '$.automatic') IS NULL")}
"""


# 26: reports — the conversation event log (router/reports/schema.py)
SQLITE = _sqlite()


def _pg_insert(kind: str, at: str, how: str, reason: str, old: bool = True) -> str:
    prev = ("OLD.status", "OLD.agent_id") if old else ("NULL", "NULL")
    return (
        f"INSERT INTO conversation_events ({_COLUMNS}) VALUES (NEW.id, NEW.customer_id, '{kind}', {at}, NEW.status,"
        f" {prev[0]}, NEW.team, NEW.channel, NEW.channel_kind, NEW.agent_id, {prev[1]}, {how}, NEW.priority,"
        f" {reason}, tier);"
    )


def _pg_updates() -> str:
    rows = _SQLITE_UPDATES
    parts = []
    for kind, at, how, reason, sqlite_condition in rows:
        condition = sqlite_condition.replace(" IS NOT NEW.", " IS DISTINCT FROM NEW.").replace(
            " IS NOT OLD.", " IS DISTINCT FROM OLD.")
        parts.append(f"    IF {condition} THEN\n        {_pg_insert(kind, at, how, reason)}\n    END IF;")
    return "\n".join(parts)


# 20: reports — the conversation event log (router/reports/schema.py)
POSTGRES = f"""
CREATE TABLE conversation_events (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id text NOT NULL,
    customer_id text NOT NULL,
    kind text NOT NULL,
    at timestamptz NOT NULL,
    status text NOT NULL,
    prev_status text,
    team text,
    channel text NOT NULL,
    channel_kind text,
    agent_id text,
    prev_agent_id text,
    how text,
    priority integer NOT NULL DEFAULT 0,
    reason text,
    tier text,
    -- the writing transaction: a reader that follows the log (router.reports.prometheus) reads only what
    -- every older transaction has committed (pg_snapshot_xmin), in (xid, seq) order, so an event whose
    -- seq was drawn before a later one's but committed after it is never passed over
    xid xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX conversation_events_at ON conversation_events(at, kind);
CREATE INDEX conversation_events_conversation ON conversation_events(conversation_id, seq);
CREATE INDEX conversation_events_follow ON conversation_events(xid, seq);
CREATE FUNCTION omnirouter_conversation_events() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    tier text;
BEGIN
    IF current_setting('omnirouter.copying', true) = 'on' THEN
        RETURN NULL;  -- omnirouter db copy: the log is copied as it was written, not written again
    END IF;
    SELECT attributes->>'tier' INTO tier FROM customers WHERE id = NEW.customer_id;
    IF TG_OP = 'INSERT' THEN
        {_pg_insert("opened", "NEW.created_at", "NEW.status", "NEW.route_reason", old=False)}
        IF NEW.status = 'queued' THEN
            {_pg_insert("queued", "NEW.created_at", "'opened'", "NEW.route_reason", old=False)}
        END IF;
        RETURN NULL;
    END IF;
{_pg_updates()}
    RETURN NULL;
END
$fn$;
CREATE TRIGGER conversation_events_opened AFTER INSERT ON conversations
    FOR EACH ROW EXECUTE FUNCTION omnirouter_conversation_events();
-- only a change an event may record: the ingest's touches of a conversation cost nothing more
CREATE TRIGGER conversation_events_changed AFTER UPDATE ON conversations FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.agent_id IS DISTINCT FROM NEW.agent_id
          OR OLD.team IS DISTINCT FROM NEW.team OR OLD.assigned_at IS DISTINCT FROM NEW.assigned_at)
    EXECUTE FUNCTION omnirouter_conversation_events();
CREATE FUNCTION omnirouter_first_reply() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF current_setting('omnirouter.copying', true) = 'on' THEN
        RETURN NULL;
    END IF;
    INSERT INTO conversation_events ({_COLUMNS})
    SELECT c.id, c.customer_id, 'first_reply', NEW.created_at, c.status, NULL, c.team, c.channel, c.channel_kind,
        NEW.agent_id, NULL, NULL, c.priority, NULL, (SELECT attributes->>'tier' FROM customers WHERE id = c.customer_id)
    FROM conversations c WHERE c.id = NEW.conversation_id AND NOT EXISTS (
        SELECT 1 FROM conversation_events e WHERE e.conversation_id = c.id AND e.kind = 'first_reply'
            AND e.seq > {_OPENING.format(max="max")}) AND {_OPENING.format(max="max")} IS NOT NULL;
    RETURN NULL;
END
$fn$;
CREATE FUNCTION omnirouter_unmerged() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF current_setting('omnirouter.copying', true) = 'on' THEN
        RETURN NULL;
    END IF;
    INSERT INTO conversation_events ({_COLUMNS})
    SELECT c.id, c.customer_id, 'unmerged', NEW.undone_at, c.status, 'resolved', c.team, c.channel, c.channel_kind,
        c.agent_id, NULL, NULL, c.priority, NULL, (SELECT attributes->>'tier' FROM customers WHERE id = c.customer_id)
    FROM conversations c WHERE c.id = NEW.snapshot->'fold'->'folded'->>'id' AND c.status <> 'resolved';
    RETURN NULL;
END
$fn$;
CREATE TRIGGER conversation_events_unmerged AFTER UPDATE OF undone_at ON customer_merges FOR EACH ROW
    WHEN (OLD.undone_at IS NULL AND NEW.undone_at IS NOT NULL)
    EXECUTE FUNCTION omnirouter_unmerged();
{_backfill("cu.attributes->>'tier'", "NOT COALESCE((m.core->>'aside')::boolean, false)",
           "m.core->>'automatic' IS NULL")}
CREATE TRIGGER conversation_events_first_reply AFTER INSERT ON messages FOR EACH ROW
    WHEN (NEW.direction = 'out' AND NEW.author = 'agent' AND NEW.conversation_id IS NOT NULL
          AND NOT COALESCE((NEW.core->>'aside')::boolean, false) AND NEW.core->>'automatic' IS NULL)
    EXECUTE FUNCTION omnirouter_first_reply();
"""
