"""The conversations' SQL on SQLite: reading, listing and changing
conversations, reading their messages, and an outbound message on its way
(queued with its outbox entry, then the platform's receipts). Mixed into
``SQLiteStore``, which gives it the writer and reader connections; storage and
atomicity only."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from router.conversations import receipts, states
from router.conversations.store import AnswerMark, ConversationStore, ListCursor, MessageStore, OutboundStore
from router.models import DESCRIPTION_EXTRA as DESCRIPTION
from router.models import (
    ConversationStatus,
    ConversationView,
    Delivery,
    Message,
    OutboundMessage,
    RouteDecision,
    RouteTrace,
    new_ordered_id,
)
from router.store.engine import Connections
from router.store.errors import NotFound
from router.store.rows import CONVERSATION_SELECT as _CONV_SELECT
from router.store.rows import INSERT_MESSAGE as _INSERT_MESSAGE
from router.store.rows import conversation_row as _conversation
from router.store.rows import conversation_view as _conv_view
from router.store.rows import fetch_all as _all
from router.store.rows import fetch_one as _one
from router.store.rows import latest_conversations, ts
from router.store.rows import message_params as _message_params
from router.store.rows import message_row as _message


def _expected(conn: sqlite3.Connection, conversation_id: str, expected: set[ConversationStatus] | None
              ) -> sqlite3.Row:
    """The conversation's row, once the rule says a change made for the
    ``expected`` statuses may apply to it (``states.check_expected``)."""
    row = _one(conn, "SELECT status, preferred_agent_id, agent_id, assigned_at, opened_at, channel_kind"
                     " FROM conversations WHERE id = ?", (conversation_id,))
    if row is None:
        raise NotFound(f"conversation {conversation_id}")
    states.check_expected(conversation_id, ConversationStatus(row["status"]), expected)
    return row


# the latest answer (states.check_unanswered): what is said aside answers nothing
_LAST_ANSWER = ("SELECT id FROM messages WHERE conversation_id = ? AND direction = 'out'"
                " AND COALESCE(json_extract(core, '$.aside'), 0) = 0 ORDER BY rowid DESC LIMIT 1")


def _unanswered(conn: sqlite3.Connection, conversation_id: str, after: AnswerMark | None) -> None:
    """Refuse a bot turn's write when the conversation was answered after the turn read it."""
    if after is not None:
        row = _one(conn, _LAST_ANSWER, (conversation_id,))
        states.check_unanswered(conversation_id, row["id"] if row is not None else None, after)


def _reroute(
    conn: sqlite3.Connection, conversation_id: str, route: RouteDecision, now: str, expected: set[ConversationStatus],
    after: AnswerMark | None = None,
) -> ConversationView:
    row = _expected(conn, conversation_id, expected)
    _unanswered(conn, conversation_id, after)
    conn.execute(
        "UPDATE conversations SET status = ?, team = ?, priority = ?, agent_id = NULL, route_reason = ?,"
        " rules_version = ?, route_trace = ?, updated_at = ?, skills = ?, assigned_at = NULL, opened_at = NULL,"
        " preferred_agent_id = ? WHERE id = ?",
        (route.status.value, route.team, route.priority, route.reason, route.rules_version,
         route.trace.model_dump_json() if route.trace else None, now, json.dumps(route.skills),
         states.preferred_after_reroute(route.preferred_agent_id, row["preferred_agent_id"]), conversation_id),
    )
    return _conv_view(conn, conversation_id)


# the customer's messages after the one an agent saw (any, if it is not this conversation's)
_UNSEEN = """
    SELECT count(*) FROM messages m WHERE m.conversation_id = :c AND m.direction = 'in' AND m.author = 'customer'
      AND m.created_at > coalesce((SELECT s.created_at FROM messages s WHERE s.id = :seen AND s.conversation_id = :c),
                                  '')
"""


def _set_state(
    conn: sqlite3.Connection, conversation_id: str, status: ConversationStatus, agent_id: str | None, now: str,
    expected: set[ConversationStatus] | None, seen: str | None = None, not_others: str | None = None,
    capacity: Mapping[str, int] | None = None,
) -> ConversationView:
    row = _expected(conn, conversation_id, expected)
    states.check_owner(conversation_id, ConversationStatus(row["status"]), row["agent_id"], not_others)
    if seen is not None:  # in the writer's transaction: a message that joins later finds it resolved
        states.check_seen(status, conn.execute(_UNSEEN, {"c": conversation_id, "seen": seen}).fetchone()[0])
    if status is ConversationStatus.ASSIGNED and agent_id is not None:
        _assignable(conn, agent_id)
        _room(conn, row, agent_id, capacity)
    conn.execute(
        "UPDATE conversations SET status = ?, agent_id = ?, updated_at = ?, resolved_at = ?,"
        " snoozed_until = CASE WHEN ? IS NULL THEN snoozed_until END WHERE id = ?",  # resolved: no longer snoozed
        (status.value, states.agent_after(status, row["agent_id"], agent_id), now, states.resolved_at(status, now),
         states.resolved_at(status, now), conversation_id),
    )
    if status is ConversationStatus.ASSIGNED and agent_id is not None:
        _take(conn, row, conversation_id, agent_id, now)
    return _conv_view(conn, conversation_id)


def _assignable(conn: sqlite3.Connection, agent_id: str) -> None:
    # SQLite's one writer holds the agent's row with the conversation's (FOR SHARE elsewhere): a
    # deactivation is before or after this step, never between the check and the assignment
    agent = _one(conn, "SELECT active FROM agents WHERE id = ?", (agent_id,))
    states.check_assignable(agent_id, None if agent is None else bool(agent["active"]))


# an agent's load of one channel kind: the offer's count (router.routing.sqlite), from the conversations_load index
_LOAD = "SELECT COUNT(*) FROM conversations WHERE status = 'assigned' AND agent_id = ? AND channel_kind = ?"


def _room(conn: sqlite3.Connection, row: sqlite3.Row, agent_id: str, capacity: Mapping[str, int] | None) -> None:
    """``states.check_room`` when the change adds the conversation to the
    agent's load. SQLite's one writer holds every conversation until this
    transaction ends (the agent's row ``FOR UPDATE`` elsewhere, the offer's
    lock): no take, reply or offer on another connection can fill the agent
    between this count and the assignment."""
    if capacity is None or not states.takes_room(ConversationStatus(row["status"]), row["agent_id"], agent_id):
        return
    load = conn.execute(_LOAD, (agent_id, row["channel_kind"])).fetchone()[0]
    states.check_room(agent_id, row["channel_kind"], load, capacity)


def _take(conn: sqlite3.Connection, row: sqlite3.Row, conversation_id: str, agent_id: str, now: str) -> None:
    assigned_at, opened_at = states.taken(row["agent_id"], agent_id, row["assigned_at"], row["opened_at"], now)
    conn.execute("UPDATE conversations SET assigned_at = ?, opened_at = ? WHERE id = ?",
                 (assigned_at, opened_at, conversation_id))


def _enqueue(
    conn: sqlite3.Connection, message: Message, payload: OutboundMessage, assign_to: str | None, now: str,
    expected: set[ConversationStatus] | None = None, after: AnswerMark | None = None,
    capacity: Mapping[str, int] | None = None,
) -> ConversationView:
    conversation_id = str(message.conversation_id)
    row = _expected(conn, conversation_id, expected)
    if assign_to is not None:  # a reply in flight while its agent was deactivated, or filled up, is refused
        _assignable(conn, assign_to)
        _room(conn, row, assign_to, capacity)
    _unanswered(conn, conversation_id, after)
    conn.execute(_INSERT_MESSAGE, _message_params(message))
    conn.execute(
        "INSERT INTO outbox (id, message_id, conversation_id, payload, status, next_attempt_at, created_at)"
        " VALUES (?, ?, ?, ?, 'pending', ?, ?)",
        (new_ordered_id("out"), message.id, conversation_id, payload.model_dump_json(), now, now),
    )
    if assign_to is not None:  # the agent who answers owns the conversation
        conn.execute(
            # updated_at now too: the event log (router/reports/schema.py) dates the change by it
            "UPDATE conversations SET status = ?, agent_id = ?, updated_at = ? WHERE id = ?",
            (ConversationStatus.ASSIGNED.value, assign_to, now, conversation_id),
        )
        _take(conn, row, conversation_id, assign_to, now)
    shown = states.shown_in_list(message.core.automatic, message.text, message.extras.get(DESCRIPTION))
    if shown is None:
        conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
    else:
        conn.execute(
            "UPDATE conversations SET updated_at = ?, last_message_at = ?, last_message_text = ? WHERE id = ?",
            (now, now, shown, conversation_id),
        )
    return _conv_view(conn, conversation_id)


def _record_delivery(
    conn: sqlite3.Connection, channel: str, external_id: str, state: Delivery, error: str | None, now: datetime
) -> Message | None:
    row = _one(conn, "SELECT * FROM messages WHERE channel = ? AND external_id = ? AND direction = 'out'",
               (channel, external_id))
    if row is None:
        _keep_receipt(conn, channel, external_id, state, error, now)
        return None
    if not receipts.moves_forward(Delivery(row["delivery"]), state):
        return None
    conn.execute("UPDATE messages SET delivery = ?, delivery_error = ? WHERE id = ?",
                 (state.value, receipts.error_kept(state, error), row["id"]))
    updated = _one(conn, "SELECT * FROM messages WHERE id = ?", (row["id"],))
    assert updated is not None
    return _message(updated)


def _keep_receipt(
    conn: sqlite3.Connection, channel: str, external_id: str, state: Delivery, error: str | None, now: datetime
) -> None:
    """Until the send's answer is stored. Receipts for ids never sent from here
    (another system on the same account) are dropped after a day."""
    conn.execute("DELETE FROM delivery_receipts WHERE received_at < ?", (ts(receipts.forgotten_before(now)),))
    kept = _one(conn, "SELECT state FROM delivery_receipts WHERE channel = ? AND external_id = ?",
                (channel, external_id))
    if not receipts.supersedes(Delivery(kept["state"]) if kept is not None else None, state):
        return
    conn.execute(
        "INSERT OR REPLACE INTO delivery_receipts (channel, external_id, state, error, received_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (channel, external_id, state.value, receipts.error_kept(state, error), ts(now)),
    )


_LATEST_MESSAGES = (
    "SELECT * FROM (SELECT *, rowid AS seq FROM messages WHERE {column} = ?"
    " ORDER BY created_at DESC, rowid DESC LIMIT ?) ORDER BY created_at, seq"
)


class SQLiteConversations(ConversationStore, MessageStore, OutboundStore, Connections):
    """Conversations, their messages and the outbound path over the
    connections of the store it is mixed into."""

    async def conversation_route(self, conversation_id: str) -> RouteTrace | None:
        row = await self._r.call(_one, "SELECT route_trace FROM conversations WHERE id = ?", (conversation_id,))
        if row is None:
            raise NotFound(f"conversation {conversation_id}")
        return None if row[0] is None else RouteTrace.model_validate_json(row[0])

    # -- conversations -------------------------------------------------------------
    async def customer_conversations(self, customer_id: str) -> list[ConversationView]:
        rows = await self._r.call(
            _all, _CONV_SELECT + " WHERE c.customer_id = ? ORDER BY c.created_at DESC", (customer_id,)
        )
        return [_conversation(r) for r in rows]

    async def get_conversation(self, conversation_id: str) -> ConversationView:
        return await self._r.call(_conv_view, conversation_id)

    async def list_conversations(
        self, statuses: list[ConversationStatus] | None, limit: int, *, awake_only: bool = False,
        agent_id: str | None = None, after: ListCursor | None = None,
    ) -> list[ConversationView]:
        chosen = list(dict.fromkeys(statuses or ConversationStatus))
        own: list[Any] = [] if agent_id is None else [agent_id]
        older: list[Any] = [] if after is None else [ts(after.last_message_at), after.id]
        params: list[Any] = [p for s in chosen for p in (s.value, *own, *older, limit)] + [limit]
        sql = latest_conversations(len(chosen), awake_only, mine=agent_id is not None, after=after is not None)
        return [_conversation(r) for r in await self._r.call(_all, sql, params)]

    async def count_conversations(self) -> dict[ConversationStatus, int]:
        rows = await self._r.call(_all, "SELECT status, COUNT(*) FROM conversations GROUP BY status")
        counts = dict.fromkeys(ConversationStatus, 0)
        for row in rows:
            counts[ConversationStatus(row[0])] = row[1]
        return counts

    async def reroute_conversation(
        self, conversation_id: str, route: RouteDecision, now: datetime, *, expected: set[ConversationStatus],
        after: AnswerMark | None = None,
    ) -> ConversationView:
        return await self._w.call(_reroute, conversation_id, route, ts(now), expected, after)

    async def set_conversation_state(
        self,
        conversation_id: str,
        status: ConversationStatus,
        agent_id: str | None,
        now: datetime,
        *,
        expected: set[ConversationStatus] | None = None,
        seen: str | None = None,
        not_others: str | None = None,
        capacity: Mapping[str, int] | None = None,
    ) -> ConversationView:
        # a plain dict: it crosses to the writer's process
        return await self._w.call(_set_state, conversation_id, status, agent_id, ts(now), expected, seen, not_others,
                                  None if capacity is None else dict(capacity))

    async def list_messages(self, conversation_id: str, limit: int) -> list[Message]:
        rows = await self._r.call(_all, _LATEST_MESSAGES.format(column="conversation_id"), (conversation_id, limit))
        return [_message(r) for r in rows]

    async def last_answer(self, conversation_id: str) -> str | None:
        row = await self._r.call(_one, _LAST_ANSWER, (conversation_id,))
        return None if row is None else str(row["id"])

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
        *, expected: set[ConversationStatus] | None = None, after: AnswerMark | None = None,
        capacity: Mapping[str, int] | None = None,
    ) -> tuple[Message, ConversationView]:
        if message.conversation_id is None:
            raise ValueError("an outbound message belongs to a conversation")
        return message, await self._w.call(_enqueue, message, payload, assign_to, ts(now), expected, after,
                                           None if capacity is None else dict(capacity))

    async def record_delivery(
        self, channel: str, external_id: str, state: Delivery, error: str | None, now: datetime
    ) -> Message | None:
        return await self._w.call(_record_delivery, channel, external_id, state, error, now)
