"""The embedded store: SQLite in WAL mode.

Each connection lives on its own thread (the aiosqlite pattern), and every
store method is one function run there: a whole transaction costs one hop off
the event loop instead of one per statement. One writer connection (SQLite
has one writer at a time anyway) and one reader, which WAL lets run beside it.
The service runs the writer in a child process instead (``store.writer``),
for the GIL's sake under high message rates (see ``_Connection``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from router.accounts.sqlite import SQLiteAccounts
from router.identity.sqlite import SQLiteIdentity
from router.identity.sqlite_resolve import _resolve_identity
from router.identity.sqlite_rows import _plain
from router.identity.types import IdentityPlan
from router.models import DESCRIPTION_EXTRA as DESCRIPTION
from router.models import (
    AgentPresence,
    Conversation,
    ConversationStatus,
    ConversationView,
    Customer,
    CustomerHistory,
    Delivery,
    Direction,
    InboundMessage,
    Message,
    OutboundMessage,
    Presence,
    RouteDecision,
    RouteTrace,
    new_id,
)
from router.outbox.sqlite import SQLiteOutbox
from router.store.base import Ingested, ReleasedOffer, Store
from router.store.checkpoint import checkpoint_regularly
from router.store.engine import CLOSE_TIMEOUT, WriterMode
from router.store.engine import Connection as _Connection
from router.store.engine import close_quietly as _closed
from router.store.engine import truncate_wal as _truncate_wal
from router.store.errors import ConflictError, NotFound, StoreError, StoreUnavailable
from router.store.faults import Episode
from router.store.migrations import MIGRATIONS
from router.store.rows import execute as _execute
from router.store.rows import fetch_all as _all
from router.store.rows import fetch_one as _one
from router.store.rows import from_ts as _ts
from router.store.rows import message_row as _message
from router.store.rows import ts
from router.store.sqlite_db import Synchronous

log = logging.getLogger(__name__)

T = TypeVar("T")
_PREVIEW = 200
CHECKPOINT_INTERVAL = 1.0  # seconds


_CONV_FIELDS = set(Conversation.model_fields)


def _conversation(row: sqlite3.Row) -> ConversationView:
    data: dict[str, Any] = {k: row[k] for k in row.keys() if k in _CONV_FIELDS}  # noqa: SIM118 (a Row is no dict)
    if isinstance(data.get("skills"), str):
        data["skills"] = json.loads(data["skills"])
    return ConversationView(
        **data,
        customer_name=row["customer_name"],
        last_message_text=row["last_message_text"],
    )


_CONV_SELECT = """
    SELECT c.*, cu.display_name AS customer_name
    FROM conversations c JOIN customers cu ON cu.id = c.customer_id
"""

_INSERT_MESSAGE = """
    INSERT INTO messages (id, conversation_id, customer_id, direction, author, agent_id, channel,
        external_id, sender_kind, sender_value, text, attachments, extras, created_at, delivery,
        delivery_error)
    VALUES (:id, :conversation_id, :customer_id, :direction, :author, :agent_id, :channel,
        :external_id, :sender_kind, :sender_value, :text, :attachments, :extras, :created_at,
        :delivery, :delivery_error)
"""


def _message_params(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "conversation_id": m.conversation_id,
        "customer_id": m.customer_id,
        "direction": m.direction.value,
        "author": m.author.value,
        "agent_id": m.agent_id,
        "channel": m.channel,
        "external_id": m.external_id,
        "sender_kind": m.sender.kind if m.sender else None,
        "sender_value": m.sender.value if m.sender else None,
        "text": m.text,
        "attachments": json.dumps([a.model_dump(mode="json") for a in m.attachments]),
        "extras": json.dumps(m.extras, ensure_ascii=False),
        "created_at": ts(m.created_at),
        "delivery": m.delivery.value,
        "delivery_error": m.delivery_error,
    }


def _preview(text: str | None, description: Any = None) -> str:
    """What a conversation list shows of a message: its words, or the
    connector's description of a message without any ("[photo]")."""
    shown = text or (description if isinstance(description, str) else "") or ""
    return shown[:_PREVIEW]


def _conv_view(conn: sqlite3.Connection, conversation_id: str) -> ConversationView:
    row = _one(conn, _CONV_SELECT + " WHERE c.id = ?", (conversation_id,))
    if row is None:
        raise NotFound(f"conversation {conversation_id}")
    return _conversation(row)


def _migrate(conn: sqlite3.Connection, path: str) -> None:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"{path} has schema version {version}, newer than this omnirouter ({len(MIGRATIONS)}); upgrade omnirouter"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        log.info("applying schema migration %d to %s", number, path)
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")


# -- the units of work, each run on the writer's or reader's thread -----------------


def _secret(conn: sqlite3.Connection, key: str, fresh: bytes) -> bytes:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING", (key, fresh))
    row = _one(conn, "SELECT value FROM meta WHERE key = ?", (key,))
    assert row is not None
    return bytes(row[0])


def _insert_inbound(conn: sqlite3.Connection, stored: Message) -> tuple[Message, bool]:
    cur = conn.execute(_INSERT_MESSAGE.replace("INSERT", "INSERT OR IGNORE", 1), _message_params(stored))
    if cur.rowcount == 1:
        return stored, False
    row = _one(
        conn,
        "SELECT * FROM messages WHERE channel = ? AND external_id = ? AND direction = 'in'",
        (stored.channel, stored.external_id),
    )
    assert row is not None
    return _message(row), True


def _attach(
    conn: sqlite3.Connection, message_id: str, customer_id: str, channel: str, route: RouteDecision | None, now: str,
    thread: str | None = None,
) -> tuple[ConversationView | None, bool]:
    """Attach to ``thread`` (an open conversation the message answers) or the
    customer's open conversation, or open one by ``route``; without a route
    and with no open conversation, attach nothing and return None."""
    msg = _one(conn, "SELECT conversation_id, text, json_extract(extras, '$.description') AS description"
               " FROM messages WHERE id = ?", (message_id,))
    if msg is None:
        raise NotFound(f"message {message_id}")
    if msg["conversation_id"] is not None:
        return _conv_view(conn, msg["conversation_id"]), False
    open_id = thread or _open_conversation(conn, customer_id)
    preview = _preview(msg["text"], msg["description"])
    if open_id is None:
        if route is None:
            return None, False
        conversation_id = new_id("conv")
        conn.execute(
            "INSERT INTO conversations (id, customer_id, status, team, priority, channel, route_reason,"
            " created_at, updated_at, last_message_at, last_message_text, rules_version, route_trace,"
            " skills, channel_kind, preferred_agent_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (conversation_id, customer_id, route.status.value, route.team, route.priority, channel, route.reason,
             now, now, now, preview, route.rules_version, route.trace.model_dump_json() if route.trace else None,
             json.dumps(route.skills), route.channel_kind, route.preferred_agent_id),
        )
    else:
        conversation_id = open_id
        _touch_conversation(conn, conversation_id, channel, now, preview)
    conn.execute(
        "UPDATE messages SET conversation_id = ?, customer_id = ? WHERE id = ?",
        (conversation_id, customer_id, message_id),
    )
    return _conv_view(conn, conversation_id), open_id is None


def _contact_history(conn: sqlite3.Connection, customer_id: str, since: str, before: str) -> CustomerHistory:
    total = _one(
        conn, "SELECT COUNT(*) FROM conversations WHERE customer_id = ? AND created_at < ?", (customer_id, before)
    )
    recent = _all(
        conn,
        "SELECT created_at FROM conversations WHERE customer_id = ? AND created_at >= ? AND created_at < ?"
        " ORDER BY created_at",
        (customer_id, since, before),
    )
    last = _one(
        conn,
        "SELECT agent_id FROM conversations WHERE customer_id = ? AND agent_id IS NOT NULL AND created_at < ?"
        " ORDER BY created_at DESC LIMIT 1",
        (customer_id, before),
    )
    return CustomerHistory(
        total=total[0] if total else 0,
        recent=[_ts(r[0]) for r in recent],
        last_agent_id=last[0] if last else None,
    )


def _openings(
    conn: sqlite3.Connection, since: str, after_id: str | None, limit: int
) -> list[tuple[ConversationView, Message | None]]:
    start = ("", "")
    if after_id is not None:
        row = _one(conn, "SELECT created_at, id FROM conversations WHERE id = ?", (after_id,))
        start = (row[0], row[1]) if row is not None else start
    rows = _all(
        conn,
        _CONV_SELECT + " WHERE c.created_at >= ? AND (c.created_at, c.id) > (?, ?) ORDER BY c.created_at, c.id LIMIT ?",
        (since, start[0], start[1], limit),
    )
    out: list[tuple[ConversationView, Message | None]] = []
    for row in rows:
        first = _one(
            conn,
            "SELECT * FROM messages WHERE conversation_id = ? AND direction = 'in' ORDER BY created_at, rowid LIMIT 1",
            (row["id"],),
        )
        out.append((_conversation(row), _message(first) if first is not None else None))
    return out


def _thread(conn: sqlite3.Connection, channel: str, replies_to: list[str]) -> tuple[str | None, str | None]:
    """The conversation of the first earlier message ``replies_to`` names that
    is known: ``(open one, None)``, or ``(None, resolved one)``."""
    for external_id in replies_to:
        # one query per direction: each is served by its own partial index
        row = next(
            (found for direction in ("out", "in") if (found := _one(
                conn,
                "SELECT c.id, c.status FROM messages m JOIN conversations c ON c.id = m.conversation_id"
                " WHERE m.channel = ? AND m.external_id = ? AND m.direction = ? ORDER BY m.rowid DESC LIMIT 1",
                (channel, external_id, direction),
            )) is not None),
            None,
        )
        if row is not None:
            return (None, row["id"]) if row["status"] == ConversationStatus.RESOLVED.value else (row["id"], None)
    return None, None


@dataclass(frozen=True)
class _Filed:
    """Where the writer filed a new message, without the message itself: the
    server holds it already, and pickling it back from the writer process was
    the largest part of the reply (~half of its cost on each side, measured)."""

    customer: Customer
    conversation: ConversationView | None
    follows: str | None  # the resolved conversation whose thread it answered

    def ingested(self, sent: Message) -> Ingested:
        update: dict[str, Any] = {}
        if self.follows is not None:
            update["extras"] = sent.extras | {"follows_conversation": self.follows}
        if self.conversation is not None:
            update |= {"conversation_id": self.conversation.id, "customer_id": self.customer.id}
        return Ingested(sent.model_copy(update=update) if update else sent, False, self.customer, self.conversation)


def _ingest(conn: sqlite3.Connection, stored: Message, name: str | None, now: str, plan: IdentityPlan | None,
            replies_to: list[str]) -> Ingested | _Filed:
    thread, closed = _thread(conn, stored.channel, replies_to)
    if closed is not None:
        # an answer in a thread already resolved starts a new conversation, which keeps the link
        stored = stored.model_copy(update={"extras": stored.extras | {"follows_conversation": closed}})
    assert stored.sender is not None
    first = _stored_inbound(conn, stored.channel, stored.external_id)
    if first is not None:
        # a redelivery's claims were recorded the first time
        return _redelivered(conn, first, _plain(plan.identity if plan is not None else stored.sender), name, now,
                            thread)
    customer = _resolve_identity(conn, plan or _plain(stored.sender), name, now, stored.id)
    open_id = thread or _open_conversation(conn, customer.id)
    if open_id is None:  # routing opens one; the message waits unattached (and is resumed if we crash)
        conn.execute(_INSERT_MESSAGE, _message_params(stored))
        return _Filed(customer, None, closed)
    # inserted already attached: one write of the row and its indexes, not an insert and an update
    conn.execute(_INSERT_MESSAGE, _message_params(stored.model_copy(
        update={"conversation_id": open_id, "customer_id": customer.id})))
    _touch_conversation(conn, open_id, stored.channel, now, _preview(stored.text, stored.extras.get(DESCRIPTION)))
    return _Filed(customer, _conv_view(conn, open_id), closed)


def _stored_inbound(conn: sqlite3.Connection, channel: str, external_id: str | None) -> Message | None:
    if external_id is None:
        return None
    row = _one(
        conn, "SELECT * FROM messages WHERE channel = ? AND external_id = ? AND direction = 'in'",
        (channel, external_id),
    )
    return _message(row) if row is not None else None


def _redelivered(conn: sqlite3.Connection, first: Message, plan: IdentityPlan, name: str | None, now: str,
                 thread: str | None) -> Ingested:
    """A platform's retry: the first copy stands; if a crash left it
    unattached it joins the open conversation now."""
    customer = _resolve_identity(conn, plan, name, now, first.id)
    view, _ = _attach(conn, first.id, customer.id, first.channel, None, now, thread)
    if view is not None:
        first = first.model_copy(update={"conversation_id": view.id, "customer_id": customer.id})
    return Ingested(first, True, customer, view)


def _open_conversation(conn: sqlite3.Connection, customer_id: str) -> str | None:
    row = _one(conn, "SELECT id FROM conversations WHERE customer_id = ? AND status != 'resolved'", (customer_id,))
    return str(row["id"]) if row is not None else None


def _touch_conversation(conn: sqlite3.Connection, conversation_id: str, channel: str, now: str, preview: str) -> None:
    conn.execute(
        "UPDATE conversations SET channel = ?, updated_at = ?, last_message_at = ?, last_message_text = ?"
        " WHERE id = ?",
        (channel, now, now, preview, conversation_id),
    )


def _ingest_automated(conn: sqlite3.Connection, stored: Message, now: str, replies_to: list[str]
                      ) -> tuple[Message, bool, ConversationView | None]:
    """Store a machine's message; put it in the open conversation it answers,
    if any, as that conversation's customer's. No identity is resolved (a
    mailer daemon is nobody's profile) and nothing is opened."""
    thread, _ = _thread(conn, stored.channel, replies_to)
    stored, duplicate = _insert_inbound(conn, stored)
    if duplicate or thread is None:
        view = _conv_view(conn, stored.conversation_id) if stored.conversation_id else None
        return stored, duplicate, view
    conn.execute(
        "UPDATE messages SET conversation_id = ?, customer_id = (SELECT customer_id FROM conversations WHERE id = ?)"
        " WHERE id = ?",
        (thread, thread, stored.id),
    )
    conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, thread))
    row = _one(conn, "SELECT * FROM messages WHERE id = ?", (stored.id,))
    assert row is not None
    return _message(row), False, _conv_view(conn, thread)


def _reroute(
    conn: sqlite3.Connection, conversation_id: str, route: RouteDecision, now: str, expected: set[ConversationStatus]
) -> ConversationView:
    row = _one(conn, "SELECT status FROM conversations WHERE id = ?", (conversation_id,))
    if row is None:
        raise NotFound(f"conversation {conversation_id}")
    if ConversationStatus(row["status"]) not in expected:
        raise ConflictError(f"conversation {conversation_id} is {row['status']}")
    conn.execute(
        "UPDATE conversations SET status = ?, team = ?, priority = ?, agent_id = NULL, route_reason = ?,"
        " rules_version = ?, route_trace = ?, updated_at = ?, skills = ?, assigned_at = NULL, opened_at = NULL,"
        " preferred_agent_id = COALESCE(?, preferred_agent_id) WHERE id = ?",
        (route.status.value, route.team, route.priority, route.reason, route.rules_version,
         route.trace.model_dump_json() if route.trace else None, now, json.dumps(route.skills),
         route.preferred_agent_id, conversation_id),
    )
    return _conv_view(conn, conversation_id)


def _set_state(
    conn: sqlite3.Connection, conversation_id: str, status: ConversationStatus, agent_id: str | None, now: str,
    expected: set[ConversationStatus] | None,
) -> ConversationView:
    row = _one(conn, "SELECT status FROM conversations WHERE id = ?", (conversation_id,))
    if row is None:
        raise NotFound(f"conversation {conversation_id}")
    current = ConversationStatus(row["status"])
    if expected is not None and current not in expected:
        raise ConflictError(f"conversation {conversation_id} is {current.value}")
    resolved_at = now if status is ConversationStatus.RESOLVED else None
    conn.execute(
        "UPDATE conversations SET status = ?, agent_id = ?, updated_at = ?, resolved_at = ? WHERE id = ?",
        (status.value, agent_id, now, resolved_at, conversation_id),
    )
    return _conv_view(conn, conversation_id)


def _enqueue(
    conn: sqlite3.Connection, message: Message, payload: OutboundMessage, assign_to: str | None, now: str,
    expected: set[ConversationStatus] | None = None,
) -> ConversationView:
    conversation_id = message.conversation_id
    row = _one(conn, "SELECT status FROM conversations WHERE id = ?", (conversation_id,))
    if row is None:
        raise NotFound(f"conversation {conversation_id}")
    if expected is not None and ConversationStatus(row["status"]) not in expected:
        raise ConflictError(f"conversation {conversation_id} is {row['status']}")
    conn.execute(_INSERT_MESSAGE, _message_params(message))
    conn.execute(
        "INSERT INTO outbox (id, message_id, conversation_id, payload, status, next_attempt_at, created_at)"
        " VALUES (?, ?, ?, ?, 'pending', ?, ?)",
        (new_id("out"), message.id, conversation_id, payload.model_dump_json(), now, now),
    )
    if assign_to is not None:
        conn.execute(
            "UPDATE conversations SET status = 'assigned', agent_id = ? WHERE id = ?", (assign_to, conversation_id)
        )
    if message.extras.get("automatic"):
        # "a colleague will answer soon" is not what the conversation is about: the
        # console's list keeps showing the customer's last words
        conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
    else:
        conn.execute(
            "UPDATE conversations SET updated_at = ?, last_message_at = ?, last_message_text = ? WHERE id = ?",
            (now, now, _preview(message.text, message.extras.get(DESCRIPTION)), conversation_id),
        )
    return _conv_view(conn, str(conversation_id))


RECEIPT_KEEP = timedelta(days=1)


def _record_delivery(
    conn: sqlite3.Connection, channel: str, external_id: str, state: Delivery, error: str | None, now: datetime
) -> Message | None:
    row = _one(conn, "SELECT * FROM messages WHERE channel = ? AND external_id = ? AND direction = 'out'",
               (channel, external_id))
    if row is None:
        _keep_receipt(conn, channel, external_id, state, error, now)
        return None
    if not Delivery(row["delivery"]).may_become(state):
        return None
    conn.execute("UPDATE messages SET delivery = ?, delivery_error = ? WHERE id = ?",
                 (state.value, error if state is Delivery.FAILED else None, row["id"]))
    updated = _one(conn, "SELECT * FROM messages WHERE id = ?", (row["id"],))
    assert updated is not None
    return _message(updated)


def _keep_receipt(
    conn: sqlite3.Connection, channel: str, external_id: str, state: Delivery, error: str | None, now: datetime
) -> None:
    """Until the send's answer is stored. Receipts for ids never sent from here
    (another system on the same account) are dropped after a day."""
    conn.execute("DELETE FROM delivery_receipts WHERE received_at < ?", (ts(now - RECEIPT_KEEP),))
    kept = _one(conn, "SELECT state FROM delivery_receipts WHERE channel = ? AND external_id = ?",
                (channel, external_id))
    if kept is not None and not Delivery(kept["state"]).may_become(state):
        return
    conn.execute(
        "INSERT OR REPLACE INTO delivery_receipts (channel, external_id, state, error, received_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (channel, external_id, state.value, error if state is Delivery.FAILED else None, ts(now)),
    )


def _presence(r: sqlite3.Row) -> AgentPresence:
    return AgentPresence(agent_id=r["agent_id"], presence=Presence(r["presence"]), changed_at=_ts(r["changed_at"]),
                         idle_since=_ts(r["idle_since"]))


def _set_presence(conn: sqlite3.Connection, agent_id: str, presence: Presence, now: str) -> AgentPresence:
    if _one(conn, "SELECT 1 FROM agents WHERE id = ?", (agent_id,)) is None:
        raise NotFound(f"agent {agent_id}")
    # idle time restarts when an agent comes online, not when they step away and back
    conn.execute(
        "INSERT INTO agent_presence (agent_id, presence, changed_at, idle_since) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (agent_id) DO UPDATE SET presence = excluded.presence, changed_at = excluded.changed_at,"
        " idle_since = CASE WHEN agent_presence.presence = 'offline' THEN excluded.idle_since"
        " ELSE agent_presence.idle_since END",
        (agent_id, presence.value, now, now),
    )
    row = _one(conn, "SELECT * FROM agent_presence WHERE agent_id = ?", (agent_id,))
    assert row is not None
    return _presence(row)


def _offer(
    conn: sqlite3.Connection, conversation_id: str, agent_id: str, capacity: int, now: str,
    expected: frozenset[ConversationStatus],
) -> ConversationView:
    row = _one(conn, "SELECT status, channel_kind, agent_id FROM conversations WHERE id = ?", (conversation_id,))
    if row is None:
        raise NotFound(f"conversation {conversation_id}")
    if ConversationStatus(row["status"]) not in expected or row["agent_id"] == agent_id:
        raise ConflictError(f"conversation {conversation_id} is {row['status']}")
    load = _one(
        conn, "SELECT COUNT(*) FROM conversations WHERE status = 'assigned' AND agent_id = ? AND channel_kind = ?",
        (agent_id, row["channel_kind"]),
    )
    if load is not None and load[0] >= capacity:
        raise ConflictError(f"agent {agent_id} is at capacity for {row['channel_kind']} ({capacity})")
    conn.execute(
        "UPDATE conversations SET status = 'assigned', agent_id = ?, assigned_at = ?, opened_at = NULL,"
        " updated_at = ? WHERE id = ?",
        (agent_id, now, now, conversation_id),
    )
    conn.execute("UPDATE agent_presence SET idle_since = ? WHERE agent_id = ?", (now, agent_id))
    return _conv_view(conn, conversation_id)


def _release_offers(
    conn: sqlite3.Connection, agent_id: str | None, now: str, offered_before: str | None
) -> list[ReleasedOffer]:
    where = "status = 'assigned' AND assigned_at IS NOT NULL AND opened_at IS NULL"
    params: list[Any] = []
    if agent_id is not None:
        where += " AND agent_id = ?"
        params.append(agent_id)
    if offered_before is not None:
        where += " AND assigned_at < ?"
        params.append(offered_before)
    # the agent is read before the update clears it: the caller says whose offer lapsed
    offers = [(r[0], r[1]) for r in _all(conn, f"SELECT id, agent_id FROM conversations WHERE {where}", params)]
    for conversation_id, _ in offers:
        conn.execute(
            "UPDATE conversations SET status = 'queued', agent_id = NULL, assigned_at = NULL, updated_at = ?"
            " WHERE id = ?",
            (now, conversation_id),
        )
    return [ReleasedOffer(_conv_view(conn, i), agent) for i, agent in offers]


# /healthz's probe: a row rewritten, so a page goes to the WAL like a message's
_PROBE = ("INSERT INTO meta (key, value) VALUES ('health:probe', ?)"
          " ON CONFLICT (key) DO UPDATE SET value = excluded.value")


_LATEST_MESSAGES = (
    "SELECT * FROM (SELECT *, rowid AS seq FROM messages WHERE {column} = ?"
    " ORDER BY created_at DESC, rowid DESC LIMIT ?) ORDER BY created_at, seq"
)


# -- identity: keys, claims, merges ---------------------------------------------------


# -- identity: one-time codes ------------------------------------------------------------


class SQLiteStore(SQLiteAccounts, SQLiteOutbox, SQLiteIdentity, Store):
    def __init__(self, path: str | Path, synchronous: Synchronous = "normal", writer: WriterMode = "thread") -> None:
        self.path = str(path)
        self.synchronous = synchronous
        # separate connections to ":memory:" are separate databases: there, nothing leaves the process
        self.writer_mode: WriterMode = "thread" if self.path == ":memory:" else writer
        self._writer: _Connection | None = None
        self._reader: _Connection | None = None
        self._checkpointer: _Connection | None = None
        self._checkpoints: asyncio.Task[None] | None = None
        # writes failing: one log line as it starts, one as it ends; /healthz fails meanwhile
        self.outage = Episode("sqlite store: writes are failing", log)

    # -- lifecycle ------------------------------------------------------------
    async def open(self) -> None:
        if self.path != ":memory:":
            folder = Path(self.path).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a file in the way, no permission: the store's own fault, said as such
                why = "a file is in the way" if folder.is_file() else exc.strerror
                raise StoreUnavailable(f"its folder {folder} cannot be created ({why})") from exc
        writer = _Connection(self.path, self.synchronous, "writer", process=self.writer_mode == "process",
                             episode=self.outage)
        try:
            await writer.open()
            await writer.run_alone(functools.partial(_migrate, path=self.path))
        except BaseException:
            await _closed(writer)
            raise
        self._writer = writer
        self._reader = _Connection(self.path, self.synchronous, "reader")
        await self._reader.open(read_only=True)
        self._checkpointer = _Connection(self.path, self.synchronous, "checkpoint")
        await self._checkpointer.open(read_only=True)
        self._checkpoints = asyncio.create_task(
            checkpoint_regularly(self._checkpointer.call, CHECKPOINT_INTERVAL), name="sqlite-checkpoint"
        )

    async def ping(self) -> None:
        """A real write (a page into the WAL), and no write failing lately:
        "ok" must mean a message could be stored now."""
        await self._w.call(_execute, _PROBE, (ts(datetime.now(UTC)),))
        if (reason := self.outage.reason) is not None:
            raise StoreUnavailable(reason)

    async def close(self) -> None:
        """Bounded whatever the disk does: each step's failure is logged and
        the next one still runs (a writer process left open would keep the
        server from exiting)."""
        if self._checkpoints is not None:
            self._checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoints
            self._checkpoints = None
        if self._writer is not None:
            try:
                await asyncio.wait_for(self._writer.run_alone(_truncate_wal), CLOSE_TIMEOUT)
            except (StoreError, TimeoutError) as exc:
                log.warning("sqlite store: the WAL was not folded into the database on close: %s", exc)
        for conn in (self._checkpointer, self._reader, self._writer):
            if conn is not None:
                await _closed(conn)
        self._checkpointer = self._reader = self._writer = None

    @property
    def _w(self) -> _Connection:
        if self._writer is None:
            raise RuntimeError("store is not open")
        return self._writer

    @property
    def _r(self) -> _Connection:
        if self._reader is None:
            raise RuntimeError("store is not open")
        return self._reader


    # -- secrets -----------------------------------------------------------
    async def secret(self, name: str) -> bytes:
        return await self._w.call(_secret, f"secret:{name}", secrets.token_bytes(32))

    # -- ingest -----------------------------------------------------------------
    @staticmethod
    def _new_inbound(message: InboundMessage, received_at: datetime) -> Message:
        extras = message.extras | ({"sender_name": message.sender_name} if message.sender_name else {})
        if message.description:
            extras[DESCRIPTION] = message.description
        if message.automated:
            extras["automated"] = message.automated
        return Message(
            id=new_id("msg"), conversation_id=None, customer_id=None, direction=Direction.IN, author="customer",
            channel=message.channel, external_id=message.external_id, sender=message.sender, text=message.text,
            attachments=message.attachments, extras=extras, created_at=received_at,
        )

    async def insert_inbound(self, message: InboundMessage, received_at: datetime) -> tuple[Message, bool]:
        return await self._w.call(_insert_inbound, self._new_inbound(message, received_at))


    async def attach_to_conversation(
        self, message_id: str, customer_id: str, channel: str, route: RouteDecision, now: datetime
    ) -> tuple[ConversationView, bool]:
        view, created = await self._w.call(_attach, message_id, customer_id, channel, route, ts(now))
        assert view is not None  # with a route, a conversation is always found or opened
        return view, created

    async def ingest(self, message: InboundMessage, received_at: datetime, plan: IdentityPlan | None = None
                     ) -> Ingested:
        stored = self._new_inbound(message, received_at)
        outcome = await self._w.call(_ingest, stored, message.sender_name, ts(received_at), plan, message.replies_to)
        return outcome.ingested(stored) if isinstance(outcome, _Filed) else outcome

    async def ingest_automated(self, message: InboundMessage, received_at: datetime
                               ) -> tuple[Message, bool, ConversationView | None]:
        stored = self._new_inbound(message, received_at)
        return await self._w.call(_ingest_automated, stored, ts(received_at), message.replies_to)

    async def unrouted_messages(self, limit: int) -> list[Message]:
        # a machine's message outside any thread stays unattached on purpose
        rows = await self._r.call(
            _all,
            "SELECT * FROM messages WHERE conversation_id IS NULL AND direction = 'in'"
            " AND json_extract(extras, '$.automated') IS NULL ORDER BY created_at LIMIT ?",
            (limit,),
        )
        return [_message(r) for r in rows]

    async def contact_history(
        self, customer_id: str, since: datetime, before: datetime | None = None
    ) -> CustomerHistory:
        # "~" sorts after every timestamp: no upper bound
        return await self._r.call(_contact_history, customer_id, ts(since), ts(before) if before else "~")

    async def conversation_openings(
        self, since: datetime | None, after_id: str | None, limit: int
    ) -> list[tuple[ConversationView, Message | None]]:
        return await self._r.call(_openings, ts(since) if since else "", after_id, limit)

    async def conversation_route(self, conversation_id: str) -> RouteTrace | None:
        row = await self._r.call(_one, "SELECT route_trace FROM conversations WHERE id = ?", (conversation_id,))
        if row is None:
            raise NotFound(f"conversation {conversation_id}")
        return None if row[0] is None else RouteTrace.model_validate_json(row[0])

    # -- conversations -------------------------------------------------------------
    async def get_conversation(self, conversation_id: str) -> ConversationView:
        return await self._r.call(_conv_view, conversation_id)

    async def list_conversations(
        self, statuses: list[ConversationStatus] | None, limit: int
    ) -> list[ConversationView]:
        if statuses:
            marks = ", ".join("?" for _ in statuses)
            sql = f"{_CONV_SELECT} WHERE c.status IN ({marks}) ORDER BY c.last_message_at DESC LIMIT ?"
            params: list[Any] = [s.value for s in statuses] + [limit]
        else:
            sql = f"{_CONV_SELECT} ORDER BY c.last_message_at DESC LIMIT ?"
            params = [limit]
        return [_conversation(r) for r in await self._r.call(_all, sql, params)]

    async def count_conversations(self) -> dict[ConversationStatus, int]:
        rows = await self._r.call(_all, "SELECT status, COUNT(*) FROM conversations GROUP BY status")
        counts = dict.fromkeys(ConversationStatus, 0)
        for row in rows:
            counts[ConversationStatus(row[0])] = row[1]
        return counts

    async def reroute_conversation(
        self, conversation_id: str, route: RouteDecision, now: datetime, *, expected: set[ConversationStatus]
    ) -> ConversationView:
        return await self._w.call(_reroute, conversation_id, route, ts(now), expected)

    async def set_conversation_state(
        self,
        conversation_id: str,
        status: ConversationStatus,
        agent_id: str | None,
        now: datetime,
        *,
        expected: set[ConversationStatus] | None = None,
    ) -> ConversationView:
        return await self._w.call(_set_state, conversation_id, status, agent_id, ts(now), expected)

    async def list_messages(self, conversation_id: str, limit: int) -> list[Message]:
        rows = await self._r.call(_all, _LATEST_MESSAGES.format(column="conversation_id"), (conversation_id, limit))
        return [_message(r) for r in rows]

    async def get_message(self, message_id: str) -> Message:
        row = await self._r.call(_one, "SELECT * FROM messages WHERE id = ?", (message_id,))
        if row is None:
            raise NotFound(f"message {message_id}")
        return _message(row)

    async def customer_messages(self, customer_id: str, limit: int) -> list[Message]:
        rows = await self._r.call(_all, _LATEST_MESSAGES.format(column="customer_id"), (customer_id, limit))
        return [_message(r) for r in rows]

    async def last_inbound(self, conversation_id: str) -> Message | None:
        row = await self._r.call(
            _one,
            "SELECT * FROM messages WHERE conversation_id = ? AND direction = 'in'"
            " ORDER BY created_at DESC, rowid DESC LIMIT 1",
            (conversation_id,),
        )
        return None if row is None else _message(row)

    async def customer_channels(self, customer_id: str) -> list[str]:
        rows = await self._r.call(
            _all,
            "SELECT channel FROM messages WHERE customer_id = ? AND direction = 'in'"
            " GROUP BY channel ORDER BY MAX(created_at) DESC",
            (customer_id,),
        )
        return [r[0] for r in rows]

    async def customer_last_inbound(self, customer_id: str, channel: str) -> Message | None:
        row = await self._r.call(
            _one,
            "SELECT * FROM messages WHERE customer_id = ? AND channel = ? AND direction = 'in'"
            " ORDER BY created_at DESC, rowid DESC LIMIT 1",
            (customer_id, channel),
        )
        return None if row is None else _message(row)

    # -- outbound / outbox -------------------------------------------------------------
    async def enqueue_outbound(
        self, message: Message, payload: OutboundMessage, assign_to: str | None, now: datetime,
        *, expected: set[ConversationStatus] | None = None,
    ) -> tuple[Message, ConversationView]:
        if message.conversation_id is None:
            raise ValueError("an outbound message belongs to a conversation")
        return message, await self._w.call(_enqueue, message, payload, assign_to, ts(now), expected)

    async def record_delivery(
        self, channel: str, external_id: str, state: Delivery, error: str | None, now: datetime
    ) -> Message | None:
        return await self._w.call(_record_delivery, channel, external_id, state, error, now)

    # -- customers ----------------------------------------------------------------


    async def customer_conversations(self, customer_id: str) -> list[ConversationView]:
        rows = await self._r.call(
            _all, _CONV_SELECT + " WHERE c.customer_id = ? ORDER BY c.created_at DESC", (customer_id,)
        )
        return [_conversation(r) for r in rows]

    # -- identity: claims, merges, audit ---------------------------------------------------


    # -- assignment ------------------------------------------------------------------------
    async def set_presence(self, agent_id: str, presence: Presence, now: datetime) -> AgentPresence:
        return await self._w.call(_set_presence, agent_id, presence, ts(now))

    async def list_presence(self) -> list[AgentPresence]:
        return [_presence(r) for r in await self._r.call(_all, "SELECT * FROM agent_presence ORDER BY agent_id")]

    async def queued_conversations(self, limit: int) -> list[ConversationView]:
        rows = await self._r.call(
            _all, _CONV_SELECT + " WHERE c.status = 'queued' ORDER BY c.priority DESC, c.created_at LIMIT ?", (limit,)
        )
        return [_conversation(r) for r in rows]

    async def agent_loads(self) -> dict[str, dict[str, int]]:
        rows = await self._r.call(
            _all,
            "SELECT agent_id, channel_kind, COUNT(*) FROM conversations WHERE status = 'assigned'"
            " AND agent_id IS NOT NULL GROUP BY agent_id, channel_kind",
        )
        loads: dict[str, dict[str, int]] = {}
        for agent_id, kind, count in rows:
            loads.setdefault(agent_id, {})[kind] = count
        return loads

    async def offer(
        self, conversation_id: str, agent_id: str, capacity: int, now: datetime,
        *, expected: frozenset[ConversationStatus] = frozenset({ConversationStatus.QUEUED}),
    ) -> ConversationView:
        return await self._w.call(_offer, conversation_id, agent_id, capacity, ts(now), expected)

    async def release_offers(self, agent_id: str | None, now: datetime, offered_before: datetime | None = None
                             ) -> list[ReleasedOffer]:
        before = ts(offered_before) if offered_before is not None else None
        return await self._w.call(_release_offers, agent_id, ts(now), before)

    async def awaiting_first_response(self, limit: int, created_before: datetime | None = None
                                      ) -> list[ConversationView]:
        rows = await self._r.call(
            _all,
            _CONV_SELECT + " WHERE c.status IN ('queued', 'assigned') AND c.created_at < ? AND NOT EXISTS"
            " (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'out' AND m.author = 'agent')"
            " ORDER BY c.created_at LIMIT ?",
            # every stored time sorts before "9999": no bound
            (ts(created_before) if created_before is not None else "9999", limit),
        )
        return [_conversation(r) for r in rows]

    async def mark_opened(self, conversation_id: str, agent_id: str, now: datetime) -> None:
        await self._w.call(
            _execute,
            "UPDATE conversations SET opened_at = ? WHERE id = ? AND agent_id = ? AND status = 'assigned'"
            " AND opened_at IS NULL",
            (ts(now), conversation_id, agent_id),
        )
