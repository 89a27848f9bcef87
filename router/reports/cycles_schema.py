"""One row per conversation cycle (``conversation_cycles``), one migration per
backend (SQLite position 29, PostgreSQL 23).

A trigger on ``conversation_events`` folds each event into its
conversation's latest cycle as it is written (the fold: ``router.reports.cycles``),
so the row is committed in the transaction of the change, like the event
itself; a report reads the cycles that started in its range by the index on
their start (one narrow row each) instead of every event of them. The lists
keep what a cycle may have several of (its stays in a queue, its
transfers, its handoffs' reasons) are text: records split by char 30, their
fields by char 31, char 29 for a NULL (the triggers drop these chars from the
fields they pack), times as SQLite's fixed-width UTC text
(a report splits 100,000 of them several times faster than it decodes JSON).
``queued_*`` is a stay not yet ended. The migration folds the log written so far by the triggers' own
text, reading the log in seq order without writing it."""

from __future__ import annotations

_COLUMNS = ("start_seq, conversation_id, reopened, start_at, start_status, team, channel, tier, asked_at, asked_team,"
            " replied_at, replied_agent, resolved_at, resolved_agent, resolved_prev_status, merged, with_bot,"
            " handoffs, stays, transfers, queued_at, queued_team, queued_channel, queued_tier")

# the fold of NEW (a row of conversation_events, not an opening) into the cycle's row: every SET reads
# the row as it was before the statement, on both backends; {add} appends a record to a list
_ASKS = "asked_at IS NULL AND NEW.kind IN ('queued', 'assigned')"
_ENDS_STAY = "NEW.kind = 'assigned' AND queued_at IS NOT NULL"


def _fold(add: str, stay: str, transfer: str, true: str, reason: str) -> str:
    false = "0" if true == "1" else "false"
    return f"""
    asked_at = CASE WHEN {_ASKS} THEN NEW.at ELSE asked_at END,
    asked_team = CASE WHEN {_ASKS} THEN NEW.team ELSE asked_team END,
    queued_at = CASE WHEN NEW.kind = 'queued' THEN NEW.at WHEN {_ENDS_STAY} THEN NULL ELSE queued_at END,
    queued_team = CASE WHEN NEW.kind = 'queued' THEN NEW.team ELSE queued_team END,
    queued_channel = CASE WHEN NEW.kind = 'queued' THEN NEW.channel ELSE queued_channel END,
    queued_tier = CASE WHEN NEW.kind = 'queued' THEN NEW.tier ELSE queued_tier END,
    stays = CASE WHEN {_ENDS_STAY} THEN {add.format(list="stays", value=stay)} ELSE stays END,
    transfers = CASE WHEN NEW.kind = 'transferred' THEN {add.format(list="transfers", value=transfer)}
        ELSE transfers END,
    handoffs = CASE WHEN NEW.kind = 'handoff' THEN {add.format(list="handoffs", value=reason)} ELSE handoffs END,
    with_bot = CASE WHEN NEW.kind = 'to_bot' THEN {true} ELSE with_bot END,
    merged = CASE WHEN NEW.kind = 'merged' THEN {true} WHEN NEW.kind = 'unmerged' THEN {false} ELSE merged END,
    replied_agent = CASE WHEN NEW.kind = 'first_reply' AND replied_at IS NULL THEN NEW.agent_id
        ELSE replied_agent END,
    replied_at = CASE WHEN NEW.kind = 'first_reply' AND replied_at IS NULL THEN NEW.at ELSE replied_at END,
    resolved_agent = CASE WHEN NEW.kind = 'resolved' AND resolved_at IS NULL THEN NEW.agent_id
        ELSE resolved_agent END,
    resolved_prev_status = CASE WHEN NEW.kind = 'resolved' AND resolved_at IS NULL THEN NEW.prev_status
        ELSE resolved_prev_status END,
    resolved_at = CASE WHEN NEW.kind = 'resolved' AND resolved_at IS NULL THEN NEW.at ELSE resolved_at END"""


def _start(asks: str, is_bot: str, char: str) -> str:
    # the tier as its stays and transfers pack it: one name in a report's groups
    return (f"INSERT INTO conversation_cycles (start_seq, conversation_id, reopened, start_at, start_status, team,"
            f" channel, tier, asked_at, asked_team, with_bot) VALUES (NEW.seq, NEW.conversation_id,"
            f" NEW.kind = 'reopened', NEW.at, NEW.status, NEW.team, NEW.channel, {_clean('NEW.tier', char)},"
            f" CASE WHEN {asks} THEN NEW.at END, CASE WHEN {asks} THEN NEW.team END, {is_bot});")


# the fold since SQLite migration 35 / PostgreSQL 30: a stay in a queue is not ended by an offer
# alone. An offer (``assigned``, how ``offer``) is pending (``offered_*``) until the next event of the
# conversation: an offer given back unopened to the same queue (it lapsed, its agent went offline;
# ``queued``, how ``requeued``, straight after it, same team) leaves the stay running from when the
# customer began to wait; any other event (a reply, a transfer to another team, a resolve...) ends the
# stay at the offer. A take ends it at once.
_LAPSE = ("(NEW.kind = 'queued' AND NEW.how = 'requeued' AND offered_at IS NOT NULL"
          " AND COALESCE(NEW.team, '') = COALESCE(queued_team, ''))")
_CONFIRMS = f"(offered_at IS NOT NULL AND NOT {_LAPSE})"
_TAKE_ENDS = "(NEW.kind = 'assigned' AND NEW.how <> 'offer' AND queued_at IS NOT NULL AND offered_at IS NULL)"
_OFFER = "(NEW.kind = 'assigned' AND NEW.how = 'offer' AND queued_at IS NOT NULL AND offered_at IS NULL)"


def _fold_lapses(add: str, stay: str, offered_stay: str, transfer: str, true: str, reason: str) -> str:
    """``_fold`` with lapsed offers kept in their stay (migration 35 / 30); every SET reads the row as
    it was before the statement."""
    fold = _fold(add, stay, transfer, true, reason)
    head, _, _ = fold.partition("    queued_at = CASE")
    _, _, tail = fold.partition("    transfers = CASE")
    starts = f"NEW.kind = 'queued' AND NOT {_LAPSE}"
    return f"""{head}    queued_at = CASE WHEN {_LAPSE} THEN queued_at WHEN NEW.kind = 'queued' THEN NEW.at
        WHEN {_CONFIRMS} OR {_TAKE_ENDS} THEN NULL ELSE queued_at END,
    queued_team = CASE WHEN {starts} THEN NEW.team ELSE queued_team END,
    queued_channel = CASE WHEN {starts} THEN NEW.channel ELSE queued_channel END,
    queued_tier = CASE WHEN {starts} THEN NEW.tier ELSE queued_tier END,
    offered_at = CASE WHEN {_OFFER} THEN NEW.at END,
    offered_agent = CASE WHEN {_OFFER} THEN NEW.agent_id END,
    stays = CASE WHEN {_CONFIRMS} THEN {add.format(list="stays", value=offered_stay)}
        WHEN {_TAKE_ENDS} THEN {add.format(list="stays", value=stay)} ELSE stays END,
    transfers = CASE{tail}"""


_REOPEN_ASKS = "NEW.kind = 'reopened' AND NEW.status <> 'bot'"
_LATEST = ("start_seq = (SELECT max(l.start_seq) FROM conversation_cycles l"
           " WHERE l.conversation_id = NEW.conversation_id)")
_STAY = ("queued_at", "queued_team", "queued_channel", "queued_tier", "NEW.at", "NEW.agent_id")
_TRANSFER = ("NEW.at", "NEW.team", "NEW.channel", "NEW.tier", "NEW.how", "NEW.agent_id")
_OFFERED_STAY = ("queued_at", "queued_team", "queued_channel", "queued_tier", "offered_at", "offered_agent")
_TIMES = {"queued_at", "NEW.at", "offered_at"}


def _clean(value: str, char: str) -> str:
    """``value`` without chars 29-31: a tier or a team written with a separator in it (by a path that let one
    through, or before names refused them) must not split its record wrongly and break every report of it."""
    if char == "chr":
        return f"translate({value}, chr(29) || chr(30) || chr(31), '')"
    return f"replace(replace(replace({value}, char(29), ''), char(30), ''), char(31), '')"


def _record(fields: tuple[str, ...], char: str, time: str) -> str:
    """The fields as one record (``router.reports.cycles.records`` splits it): ``time`` writes a time as text,
    any other field is written without the separators."""
    return f" || {char}(31) || ".join(
        f"COALESCE({time.format(f) if f in _TIMES else _clean(f, char)}, {char}(29))" for f in fields)


def _add(char: str) -> str:
    return f"COALESCE({{list}} || {char}(30), '') || {{value}}"


def _table(text: str, time: str, flag: str) -> str:
    return f"""
CREATE TABLE conversation_cycles (
    start_seq {'INTEGER' if text == 'TEXT' else 'bigint'} PRIMARY KEY,  -- the seq of its opened/reopened event
    conversation_id {text} NOT NULL,
    reopened {flag} NOT NULL,
    start_at {time} NOT NULL,
    start_status {text} NOT NULL,
    team {text},
    channel {text} NOT NULL,
    tier {text},
    asked_at {time},
    asked_team {text},
    replied_at {time},
    replied_agent {text},
    resolved_at {time},
    resolved_agent {text},
    resolved_prev_status {text},
    merged {flag} NOT NULL DEFAULT {'0' if flag == 'INTEGER' else 'false'},
    with_bot {flag} NOT NULL,
    handoffs {text},
    stays {text},
    transfers {text},
    queued_at {time},
    queued_team {text},
    queued_channel {text},
    queued_tier {text}
);
-- a report reads the cycles that started in its range; the fold finds a conversation's latest
CREATE INDEX conversation_cycles_start ON conversation_cycles(start_at, start_seq);
CREATE INDEX conversation_cycles_conversation ON conversation_cycles(conversation_id, start_seq);
"""


_EVENT_COLUMNS = ("seq, conversation_id, customer_id, kind, at, status, prev_status, team, channel, channel_kind,"
                  " agent_id, prev_agent_id, how, priority, reason, tier")

_SQLITE_ADD = _add("char")


def _sqlite_triggers(create: str, on: str) -> str:
    """The two triggers that fold a row inserted into ``on``: ``create`` is ``CREATE TRIGGER name`` or, for
    the migration's fold of the log written so far, a temp view's ``INSTEAD OF`` trigger (the same text)."""
    return f"""
{create.format("started")} INSERT ON {on}
    WHEN NEW.kind IN ('opened', 'reopened') BEGIN
        {_start(_REOPEN_ASKS, "NEW.status = 'bot'", "char")}
    END;
{create.format("folded")} INSERT ON {on}
    WHEN NEW.kind NOT IN ('opened', 'reopened') BEGIN
        UPDATE conversation_cycles SET {_fold(_SQLITE_ADD, _record(_STAY, "char", "{}"),
                                                     _record(_TRANSFER, "char", "{}"), "1",
                                                     _record(("NEW.reason",), "char", "{}"))}
        WHERE {_LATEST};
    END;
"""


# 29: reports — one row per conversation cycle, folded by a trigger (router/reports/cycles_schema.py). The log
# written so far is folded by the same triggers' text on a temp view it is read into in seq order: the log
# itself is not written (its seq kept by construction)
SQLITE = f"""
{_table("TEXT", "TEXT", "INTEGER")}
{_sqlite_triggers("CREATE TRIGGER conversation_cycles_{} AFTER", "conversation_events")}
CREATE TEMP VIEW conversation_events_refold AS SELECT {_EVENT_COLUMNS} FROM conversation_events WHERE 0;
{_sqlite_triggers("CREATE TEMP TRIGGER conversation_cycles_refold_{} INSTEAD OF", "conversation_events_refold")}
INSERT INTO conversation_events_refold ({_EVENT_COLUMNS}) SELECT {_EVENT_COLUMNS} FROM conversation_events ORDER BY seq;
DROP VIEW conversation_events_refold;
"""

_PG_ADD = _add("chr")
# the text of SQLite's times (router.store.rows.ts), whatever the session's zone
_PG_TIME = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"


def _pg_fold(row: str) -> str:
    """The fold of the event ``row`` (``NEW`` in the trigger, the backfill's loop variable)."""
    text = f"""
    IF NEW.kind IN ('opened', 'reopened') THEN
        {_start(_REOPEN_ASKS, "NEW.status = 'bot'", "chr")}
    ELSE
        UPDATE conversation_cycles SET {_fold(_PG_ADD, _record(_STAY, "chr", _PG_TIME),
                                              _record(_TRANSFER, "chr", _PG_TIME), "true",
                                              _record(("NEW.reason",), "chr", "{}"))}
        WHERE {_LATEST};
    END IF;"""
    return text.replace("NEW.", f"{row}.")


# 23: reports — one row per conversation cycle, folded by a trigger (router/reports/cycles_schema.py). The log
# written so far is folded by the trigger's text in a loop over it in seq order: the log itself is not written
# (its seq and xid kept by construction); CREATE TRIGGER holds its SHARE ROW EXCLUSIVE lock on
# conversation_events until the fold commits (the README: upgrade a large store in a quiet hour)
POSTGRES = f"""
{_table("text", "timestamptz", "boolean")}
CREATE FUNCTION omnirouter_conversation_cycles() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF current_setting('omnirouter.copying', true) = 'on' THEN
        RETURN NULL;  -- omnirouter db copy: the cycles are copied as they were folded, not folded again
    END IF;{_pg_fold("NEW")}
    RETURN NULL;
END
$fn$;
CREATE TRIGGER conversation_cycles_folded AFTER INSERT ON conversation_events
    FOR EACH ROW EXECUTE FUNCTION omnirouter_conversation_cycles();
DO $refold$
DECLARE
    e conversation_events;
BEGIN
    FOR e IN SELECT * FROM conversation_events ORDER BY seq LOOP{_pg_fold("e")}
    END LOOP;
END
$refold$;
"""


# 35: reports — a lapsed offer no longer cuts a customer's wait in a queue in two (the fold above,
# ``_fold_lapses``): the pending offer's columns, and the fold's trigger made again with them
SQLITE_LAPSES = f"""
ALTER TABLE conversation_cycles ADD COLUMN offered_at TEXT;
ALTER TABLE conversation_cycles ADD COLUMN offered_agent TEXT;
DROP TRIGGER conversation_cycles_folded;
CREATE TRIGGER conversation_cycles_folded AFTER INSERT ON conversation_events
    WHEN NEW.kind NOT IN ('opened', 'reopened') BEGIN
        UPDATE conversation_cycles SET {_fold_lapses(_SQLITE_ADD, _record(_STAY, "char", "{}"),
                                                     _record(_OFFERED_STAY, "char", "{}"),
                                                     _record(_TRANSFER, "char", "{}"), "1",
                                                     _record(("NEW.reason",), "char", "{}"))}
        WHERE {_LATEST};
    END;
"""

# 30: PostgreSQL's (SQLite's 35)
POSTGRES_LAPSES = f"""
ALTER TABLE conversation_cycles ADD COLUMN offered_at timestamptz, ADD COLUMN offered_agent text;
CREATE OR REPLACE FUNCTION omnirouter_conversation_cycles() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF current_setting('omnirouter.copying', true) = 'on' THEN
        RETURN NULL;  -- omnirouter db copy: the cycles are copied as they were folded, not folded again
    END IF;
    IF NEW.kind IN ('opened', 'reopened') THEN
        {_start(_REOPEN_ASKS, "NEW.status = 'bot'", "chr")}
    ELSE
        UPDATE conversation_cycles SET {_fold_lapses(_PG_ADD, _record(_STAY, "chr", _PG_TIME),
                                                     _record(_OFFERED_STAY, "chr", _PG_TIME),
                                                     _record(_TRANSFER, "chr", _PG_TIME), "true",
                                                     _record(("NEW.reason",), "chr", "{}"))}
        WHERE {_LATEST};
    END IF;
    RETURN NULL;
END
$fn$;
"""
