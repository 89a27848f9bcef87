"""The ingest's SQL on SQLite: storing an inbound message once, the one-step
ingest transaction (store, resolve the sender, continue the open conversation
or the thread it answers), opening a conversation by a routing decision, and
what routing reads of a customer's past. Mixed into ``SQLiteStore``, which
gives it the writer and reader connections; storage and atomicity only."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import TYPE_CHECKING, Any

from router.conversations.states import is_open
from router.conversations.states import preview as _preview
from router.identity.sqlite_resolve import _resolve_identity, resolved_row
from router.identity.sqlite_rows import PlanValues, _plain, customer_of, customer_values, plan_of, plan_values
from router.ingest.inbound import stored_form
from router.ingest.store import Ingested, IngestStore, Reopening
from router.models import DESCRIPTION_EXTRA as DESCRIPTION
from router.models import (
    ConversationStatus,
    ConversationView,
    CoreMeta,
    CustomerHistory,
    IdentityRef,
    InboundMessage,
    Message,
    RouteDecision,
    new_id,
)
from router.store.engine import Connections
from router.store.errors import AlreadyRouted, NotFound
from router.store.rows import CONVERSATION_SELECT as _CONV_SELECT
from router.store.rows import INSERT_MESSAGE as _INSERT_MESSAGE
from router.store.rows import VIEW_VALUES as _VIEW_VALUES
from router.store.rows import conversation_row as _conversation
from router.store.rows import conversation_view as _conv_view
from router.store.rows import fetch_all as _all
from router.store.rows import fetch_one as _one
from router.store.rows import from_ts as _ts
from router.store.rows import message_params as _message_params
from router.store.rows import message_row as _message
from router.store.rows import ts, view_of

if TYPE_CHECKING:
    from router.identity.types import IdentityPlan


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
    thread: str | None = None, only_unrouted: bool = False,
) -> tuple[ConversationView | None, bool]:
    """Attach to ``thread`` (an open conversation the message answers) or the
    customer's open conversation, or open one by ``route``; without a route
    and with no open conversation, attach nothing and return None."""
    msg = _one(conn, "SELECT conversation_id, text, json_extract(extras, '$.description') AS description"
               " FROM messages WHERE id = ?", (message_id,))
    if msg is None:
        raise NotFound(f"message {message_id}")
    if msg["conversation_id"] is not None:
        if only_unrouted:
            raise AlreadyRouted(msg["conversation_id"])
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


# the resolved conversation back in its team's queue, the agent who handled it preferred (a resolve
# keeps them as its agent: states.agent_after; they are offered it first if free), on the channel and
# channel kind the customer writes on now, if it is still as it was read (SET reads the row's values
# before the update)
_REOPEN = """
    UPDATE conversations SET status = 'queued', preferred_agent_id = coalesce(agent_id, preferred_agent_id),
        agent_id = NULL, assigned_at = NULL,
        opened_at = NULL, resolved_at = NULL, snoozed_until = NULL, reopened_at = ?, reopens = reopens + 1,
        priority = MAX(priority, ?), channel = ?, channel_kind = ?, updated_at = ?, last_message_at = ?,
        last_message_text = ?
    WHERE id = ? AND customer_id = ? AND status = 'resolved' AND resolved_at = ?
"""


def _reopen_with(
    conn: sqlite3.Connection, message_id: str, customer_id: str, channel: str, conversation_id: str,
    resolved_at: str, priority: int, channel_kind: str, now: str, only_unrouted: bool,
) -> tuple[ConversationView, bool] | None:
    """``_attach`` to the open conversation if there is one, else reopen
    ``conversation_id`` with the message; None when it is no longer as read."""
    view, _ = _attach(conn, message_id, customer_id, channel, None, now, None, only_unrouted)
    if view is not None:
        return view, False
    msg = _one(conn, "SELECT text, json_extract(extras, '$.description') AS description FROM messages WHERE id = ?",
               (message_id,))
    assert msg is not None  # _attach found it
    preview = _preview(msg["text"], msg["description"])
    reopened = conn.execute(_REOPEN, (now, priority, channel, channel_kind, now, now, preview, conversation_id,
                                      customer_id, resolved_at)).rowcount
    if reopened != 1:
        return None
    conn.execute("UPDATE messages SET conversation_id = ?, customer_id = ? WHERE id = ?",
                 (conversation_id, customer_id, message_id))
    return _conv_view(conn, conversation_id), True


def _last_resolved(conn: sqlite3.Connection, customer_id: str) -> ConversationView | None:
    row = _one(conn, _CONV_SELECT + " WHERE c.customer_id = ? AND c.status = 'resolved'"
               " ORDER BY c.resolved_at DESC NULLS LAST LIMIT 1", (customer_id,))  # as on PostgreSQL
    return _conversation(row) if row is not None else None


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
            return (row["id"], None) if is_open(ConversationStatus(row["status"])) else (None, row["id"])
    return None, None


# where the writer filed a new message, as plain values: neither the message (the server holds it
# already) nor the models of its customer and conversation, whose pickling there and unpickling here
# cost more than building them here from their rows (~30 µs against ~9, measured; ``python -m
# bench.ingest_writer``). A bare tuple, not a dataclass: pickling and unpickling an instance of a
# class cost twice a tuple's (~12 µs against ~6 there and back, measured), once per message.
# (customer: sqlite_rows.customer_values, conversation: a row of rows.VIEW_VALUES or None,
# follows: the resolved conversation whose thread it answered or None, switched: Ingested.switched)
_Filed = tuple[tuple[Any, ...], tuple[Any, ...] | None, str | None, bool]


def _ingested(sent: Message, filed: _Filed) -> Ingested:
    """``sent`` as filed: set in place, it being ``ingest``'s own, made for this call and seen by
    nobody else yet (a copy cost ~4 µs per message, setting its fields ~0.4, measured)."""
    customer_values, view_values, follows, switched = filed
    customer = customer_of(customer_values)
    view = view_of(view_values) if view_values is not None else None
    if follows is not None:
        sent.core = sent.core.model_copy(update={"follows_conversation": follows})
    if view is not None:
        sent.conversation_id, sent.customer_id = view.id, customer.id
    return Ingested(sent, False, customer, view, switched)


def _ingest(conn: sqlite3.Connection, params: dict[str, Any], description: str | None, name: str | None, now: str,
            sent_plan: PlanValues | None, replies_to: list[str]) -> Ingested | _Filed:
    """``params``: the new message's row (``message_params``), plain values: they cross to the writer
    process pickled, and a ``Message`` cost ~40 µs there and back, the row ~3 (measured)."""
    plan = plan_of(sent_plan) if sent_plan is not None else None
    channel, external_id = params["channel"], params["external_id"]
    thread, closed = _thread(conn, channel, replies_to)
    if closed is not None:
        # an answer in a thread already resolved starts a new conversation, which keeps the link
        core = CoreMeta.model_validate_json(params["core"]).model_copy(update={"follows_conversation": closed})
        params = {**params, "core": core.model_dump_json(exclude_defaults=True)}
    assert params["sender_kind"] is not None
    sender = IdentityRef(kind=params["sender_kind"], value=params["sender_value"])
    first = _stored_inbound(conn, channel, external_id)
    if first is not None:
        # a redelivery's claims were recorded the first time
        return _redelivered(conn, first, _plain(plan.identity if plan is not None else sender), name, now, thread)
    customer = resolved_row(conn, plan or _plain(sender), name, now, params["id"])
    view, switched = _touched(conn, thread, customer["id"], channel, now, _preview(params["text"], description))
    if view is None:  # routing opens one; the message waits unattached (and is resumed if we crash)
        conn.execute(_INSERT_MESSAGE, params)
        return customer_values(customer), None, closed, False
    # inserted already attached: one write of the row and its indexes, not an insert and an update
    conn.execute(_INSERT_MESSAGE, {**params, "conversation_id": view[0], "customer_id": customer["id"]})
    return customer_values(customer), view, closed, switched


# the conversation a new message continues, by id (the thread it answers) or the customer's open one
# (states.is_open in SQL: the predicate of the index that keeps one open conversation per customer)
_WHICH = {True: "id = ?", False: "customer_id = ? AND status != 'resolved'"}
_TOUCH = "UPDATE conversations SET updated_at = ?, last_message_at = ?, last_message_text = ?"
# the channel is set only when it changes: setting it rewrites the open board's index entry
# (migration 30), even to the same value (~3 of the statement's ~12 µs, measured)
_TOUCH_SAME = {thread: f"{_TOUCH} WHERE {which} AND channel = ? RETURNING {_VIEW_VALUES}"
               for thread, which in _WHICH.items()}
_TOUCH_OTHER = {thread: f"{_TOUCH}, channel = ? WHERE {which} RETURNING {_VIEW_VALUES}"
                for thread, which in _WHICH.items()}


def _touched(conn: sqlite3.Connection, thread: str | None, customer_id: str, channel: str, now: str,
             preview: str) -> tuple[tuple[Any, ...] | None, bool]:
    """The new message's conversation, ``thread`` or else the customer's open one, marked with it
    and read back (``VIEW_VALUES``) in one statement: finding, updating and reading it were three
    (~30 % of the writer's time per message, profiled); None when there is none to continue.
    Then whether its last message came on another channel (``Ingested.switched``)."""
    on = thread is not None
    key = thread if thread is not None else customer_id
    row = conn.execute(_TOUCH_SAME[on], (now, now, preview, key, channel)).fetchone()
    if row is not None:
        return tuple(row), False
    # another channel than the last message's, or no conversation to continue
    row = conn.execute(_TOUCH_OTHER[on], (now, now, preview, channel, key)).fetchone()
    return (tuple(row), True) if row is not None else (None, False)


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
    # states.is_open in SQL: the predicate of the index that keeps one open conversation per customer
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


class SQLiteIngest(IngestStore, Connections):
    """The ingest over the connections of the store it is mixed into."""

    async def insert_inbound(self, message: InboundMessage, received_at: datetime) -> tuple[Message, bool]:
        return await self._w.call(_insert_inbound, stored_form(message, received_at))

    async def attach_to_conversation(
        self, message_id: str, customer_id: str, channel: str, route: RouteDecision, now: datetime,
        *, only_unrouted: bool = False,
    ) -> tuple[ConversationView, bool]:
        view, created = await self._w.call(_attach, message_id, customer_id, channel, route, ts(now), None,
                                           only_unrouted)
        assert view is not None  # with a route, a conversation is always found or opened
        return view, created

    async def ingest(self, message: InboundMessage, received_at: datetime, plan: IdentityPlan | None = None
                     ) -> Ingested:
        stored = stored_form(message, received_at, plan)
        params = _message_params(stored)
        # the row's created_at is received_at's text already: formatted once (strftime, ~2 µs)
        outcome = await self._w.call(_ingest, params, stored.extras.get(DESCRIPTION), message.sender_name,
                                     params["created_at"], plan_values(plan) if plan is not None else None,
                                     message.replies_to)
        return _ingested(stored, outcome) if isinstance(outcome, tuple) else outcome

    async def ingest_automated(self, message: InboundMessage, received_at: datetime
                               ) -> tuple[Message, bool, ConversationView | None]:
        stored = stored_form(message, received_at)
        return await self._w.call(_ingest_automated, stored, ts(received_at), message.replies_to)

    async def last_resolved(self, customer_id: str) -> ConversationView | None:
        return await self._r.call(_last_resolved, customer_id)

    async def reopen_with(
        self, message_id: str, customer_id: str, channel: str, reopening: Reopening, now: datetime,
        *, only_unrouted: bool = False,
    ) -> tuple[ConversationView, bool] | None:
        # plain values to the writer process
        return await self._w.call(_reopen_with, message_id, customer_id, channel, reopening.conversation_id,
                                  ts(reopening.resolved_at), reopening.priority, reopening.channel_kind, ts(now),
                                  only_unrouted)

    async def unrouted_messages(self, limit: int) -> list[Message]:
        # a machine's message outside any thread stays unattached on purpose
        rows = await self._r.call(
            _all,
            "SELECT * FROM messages WHERE conversation_id IS NULL AND direction = 'in'"
            " AND json_extract(core, '$.automated') IS NULL ORDER BY created_at LIMIT ?",
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

