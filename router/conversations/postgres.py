"""The conversations slice's SQL on PostgreSQL: reading, listing and changing
conversations, reading their messages, and an outbound message on its way
(queued with its outbox entry, then the platform's receipts). Mixed into
``PostgresStore``, which gives it the pool (``router.store.pg_engine``);
storage and atomicity only, the rules are the slice's (``states``,
``receipts``). Each write holds the lock its method's docstring names
(``router.conversations.store``), in the order of ``router.store.base``, and
reads what the rule decides on under it. The units keep the names of
``router.conversations.sqlite``'s."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

import asyncpg

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
from router.store.errors import NotFound
from router.store.pg_engine import RECEIPT, PgConn, PgConnections, advisory_lock
from router.store.pg_rows import CONVERSATION_SELECT as _CONV_SELECT
from router.store.pg_rows import LATEST_CONVERSATIONS, insert_message
from router.store.pg_rows import conversation_view as _conv_view
from router.store.rows import conversation_row as _conversation
from router.store.rows import message_row as _message


async def _expected(conn: PgConn, conversation_id: str, expected: set[ConversationStatus] | None
                    ) -> asyncpg.Record:
    """The conversation's row, locked ``FOR UPDATE`` to the commit, once the
    rule says a change made for the ``expected`` statuses may apply to it
    (``states.check_expected``). The status is the one read under the lock:
    a transaction that changed it first is waited for, and its change seen."""
    row = await conn.fetchrow(
        "SELECT status, preferred_agent_id, agent_id, assigned_at, opened_at, channel_kind FROM conversations"
        " WHERE id = $1 FOR UPDATE", conversation_id)
    if row is None:
        raise NotFound(f"conversation {conversation_id}")
    states.check_expected(conversation_id, ConversationStatus(row["status"]), expected)
    return row


# the latest answer (states.check_unanswered): what is said aside answers nothing. Every answer is
# inserted holding its conversation's row, so seq orders them as they committed
_LAST_ANSWER = ("SELECT id FROM messages WHERE conversation_id = $1 AND direction = 'out'"
                " AND NOT COALESCE((core->>'aside')::boolean, false) ORDER BY seq DESC LIMIT 1")


async def _unanswered(conn: PgConn, conversation_id: str, after: AnswerMark | None) -> None:
    """Refuse a bot turn's write when the conversation was answered after the
    turn read it; called holding the conversation's row (``_expected``), so
    an answer committed while this transaction waited for it is seen."""
    if after is not None:
        states.check_unanswered(conversation_id, await conn.fetchval(_LAST_ANSWER, conversation_id), after)


async def _reroute(
    conn: PgConn, conversation_id: str, route: RouteDecision, now: datetime, expected: set[ConversationStatus],
    after: AnswerMark | None = None,
) -> ConversationView:
    row = await _expected(conn, conversation_id, expected)
    await _unanswered(conn, conversation_id, after)
    await conn.execute(
        "UPDATE conversations SET status = $1, team = $2, priority = $3, agent_id = NULL, route_reason = $4,"
        " rules_version = $5, route_trace = $6, updated_at = $7, skills = $8, assigned_at = NULL,"
        " opened_at = NULL, preferred_agent_id = $9 WHERE id = $10",
        route.status.value, route.team, route.priority, route.reason, route.rules_version,
        route.trace.model_dump_json() if route.trace else None, now, json.dumps(route.skills),
        states.preferred_after_reroute(route.preferred_agent_id, row["preferred_agent_id"]), conversation_id,
    )
    return await _conv_view(conn, conversation_id)


# the customer's messages after the one an agent saw (any, if it is not this conversation's)
_UNSEEN = """
    SELECT count(*) FROM messages m WHERE m.conversation_id = $1 AND m.direction = 'in' AND m.author = 'customer'
      AND m.created_at > coalesce((SELECT s.created_at FROM messages s WHERE s.id = $2 AND s.conversation_id = $1),
                                  '-infinity')
"""


async def _set_state(
    conn: PgConn, conversation_id: str, status: ConversationStatus, agent_id: str | None, now: datetime,
    expected: set[ConversationStatus] | None, seen: str | None = None, not_others: str | None = None,
    capacity: Mapping[str, int] | None = None,
) -> ConversationView:
    row = await _expected(conn, conversation_id, expected)
    states.check_owner(conversation_id, ConversationStatus(row["status"]), row["agent_id"], not_others)
    if seen is not None:  # under the row's lock: a message joining now waits for the resolve, then finds it
        states.check_seen(status, await conn.fetchval(_UNSEEN, conversation_id, seen))
    if status is ConversationStatus.ASSIGNED and agent_id is not None:
        await _assignable(conn, row, agent_id, capacity)
    await conn.execute(
        "UPDATE conversations SET status = $1, agent_id = $2, updated_at = $3, resolved_at = $4,"
        " snoozed_until = CASE WHEN $4::timestamptz IS NULL THEN snoozed_until END WHERE id = $5",  # resolved: awake
        status.value, states.agent_after(status, row["agent_id"], agent_id), now, states.resolved_at(status, now),
        conversation_id,
    )
    if status is ConversationStatus.ASSIGNED and agent_id is not None:
        await _take(conn, row, conversation_id, agent_id, now)
    return await _conv_view(conn, conversation_id)


# an agent's load of one channel kind: the offer's count (router.routing.postgres), from the conversations_load index
_LOAD = "SELECT COUNT(*) FROM conversations WHERE status = 'assigned' AND agent_id = $1 AND channel_kind = $2"


async def _assignable(conn: PgConn, row: asyncpg.Record, agent_id: str, capacity: Mapping[str, int] | None) -> None:
    """The agent's row locked to the commit, after the conversation's
    (``router.store.base``'s order): a deactivation (which locks it ``FOR
    UPDATE``) committed first is seen here and refused; one waiting for it
    comes after, and finds this conversation theirs to requeue.

    ``FOR SHARE`` when the change adds nothing to the agent's load (or has no
    capacity to keep). When it does, ``FOR UPDATE``, the lock of an offer
    (``router.routing.postgres._offer``), and the load counted after it is
    granted, in a statement of its own, so it sees every take, reply and
    offer to this agent committed before: two nodes giving one agent a
    conversation each at once go one after the other, and the second counts
    the first (``states.check_room``). Under ``FOR SHARE`` both would count
    the same load and both pass it."""
    counted = capacity is not None and states.takes_room(ConversationStatus(row["status"]), row["agent_id"], agent_id)
    lock = "UPDATE" if counted else "SHARE"
    active = await conn.fetchval(f"SELECT active FROM agents WHERE id = $1 FOR {lock}", agent_id)
    states.check_assignable(agent_id, None if active is None else bool(active))
    if counted and capacity is not None:
        load = await conn.fetchval(_LOAD, agent_id, row["channel_kind"])
        states.check_room(agent_id, row["channel_kind"], load or 0, capacity)


async def _take(conn: PgConn, row: asyncpg.Record, conversation_id: str, agent_id: str, now: datetime) -> None:
    assigned_at, opened_at = states.taken(row["agent_id"], agent_id, row["assigned_at"], row["opened_at"], now)
    await conn.execute("UPDATE conversations SET assigned_at = $1, opened_at = $2 WHERE id = $3",
                       assigned_at, opened_at, conversation_id)


async def _enqueue(
    conn: PgConn, message: Message, payload: OutboundMessage, assign_to: str | None, now: datetime,
    expected: set[ConversationStatus] | None = None, after: AnswerMark | None = None,
    capacity: Mapping[str, int] | None = None,
) -> ConversationView:
    conversation_id = str(message.conversation_id)
    if message.customer_id is not None:
        # the message's foreign key takes this share lock at its insert anyway; taken here, before the
        # conversation's, it keeps router.store.base's order (customers, then a conversation), so a
        # merge holding the customer and waiting for this conversation is never waited for in turn
        await conn.execute("SELECT 1 FROM customers WHERE id = $1 FOR KEY SHARE", message.customer_id)
    row = await _expected(conn, conversation_id, expected)
    if assign_to is not None:  # a reply in flight while its agent was deactivated, or filled up, is refused
        await _assignable(conn, row, assign_to, capacity)
    await _unanswered(conn, conversation_id, after)
    await insert_message(conn, message)
    await conn.execute(
        "INSERT INTO outbox (id, message_id, conversation_id, payload, status, next_attempt_at, created_at)"
        " VALUES ($1, $2, $3, $4, 'pending', $5, $6)",
        new_ordered_id("out"), message.id, conversation_id, payload.model_dump_json(), now, now,
    )
    if assign_to is not None:  # the agent who answers owns the conversation
        # updated_at now too: the event log (router/reports/schema.py) dates the change by it
        await conn.execute("UPDATE conversations SET status = $1, agent_id = $2, updated_at = $3 WHERE id = $4",
                           ConversationStatus.ASSIGNED.value, assign_to, now, conversation_id)
        await _take(conn, row, conversation_id, assign_to, now)
    shown = states.shown_in_list(message.core.automatic, message.text, message.extras.get(DESCRIPTION))
    if shown is None:
        await conn.execute("UPDATE conversations SET updated_at = $1 WHERE id = $2", now, conversation_id)
    else:
        await conn.execute(
            "UPDATE conversations SET updated_at = $1, last_message_at = $1, last_message_text = $2 WHERE id = $3",
            now, shown, conversation_id,
        )
    return await _conv_view(conn, conversation_id)


async def _record_delivery(
    conn: PgConn, channel: str, external_id: str, state: Delivery, error: str | None, now: datetime
) -> Message | None:
    # outbox_sent's lock too: this receipt is kept before it looks for kept ones, or it
    # finds the external id that outbox_sent stored, once that committed
    await advisory_lock(conn, RECEIPT, f"{channel}:{external_id}")
    row = await conn.fetchrow(
        "SELECT * FROM messages WHERE channel = $1 AND external_id = $2 AND direction = 'out'"
        " ORDER BY seq LIMIT 1 FOR UPDATE", channel, external_id)
    if row is None:
        await _keep_receipt(conn, channel, external_id, state, error, now)
        return None
    if not receipts.moves_forward(Delivery(row["delivery"]), state):
        return None
    updated = await conn.fetchrow("UPDATE messages SET delivery = $1, delivery_error = $2 WHERE id = $3 RETURNING *",
                                  state.value, receipts.error_kept(state, error), row["id"])
    assert updated is not None
    return _message(updated)


async def _keep_receipt(
    conn: PgConn, channel: str, external_id: str, state: Delivery, error: str | None, now: datetime
) -> None:
    """Until the send's answer is stored. Receipts for ids never sent from here
    (another system on the same account) are dropped after a day; the sweep
    skips the rows another transaction holds rather than wait for them, so
    two receipts' sweeps never wait for each other."""
    await conn.execute(
        "DELETE FROM delivery_receipts WHERE (channel, external_id) IN (SELECT channel, external_id"
        " FROM delivery_receipts WHERE received_at < $1 FOR UPDATE SKIP LOCKED)", receipts.forgotten_before(now))
    kept = await conn.fetchrow("SELECT state FROM delivery_receipts WHERE channel = $1 AND external_id = $2",
                               channel, external_id)
    if not receipts.supersedes(Delivery(kept["state"]) if kept is not None else None, state):
        return
    await conn.execute(
        "INSERT INTO delivery_receipts (channel, external_id, state, error, received_at) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (channel, external_id) DO UPDATE SET state = excluded.state, error = excluded.error,"
        " received_at = excluded.received_at",
        channel, external_id, state.value, receipts.error_kept(state, error), now,
    )


_LATEST_MESSAGES = (
    "SELECT * FROM (SELECT * FROM messages WHERE {column} = $1"
    " ORDER BY created_at DESC, seq DESC LIMIT $2) latest ORDER BY created_at, seq"
)


async def _route_trace(conn: PgConn, conversation_id: str) -> RouteTrace | None:
    row = await conn.fetchrow("SELECT route_trace FROM conversations WHERE id = $1", conversation_id)
    if row is None:
        raise NotFound(f"conversation {conversation_id}")
    return None if row["route_trace"] is None else RouteTrace.model_validate_json(row["route_trace"])


async def _get_message(conn: PgConn, message_id: str) -> Message:
    row = await conn.fetchrow("SELECT * FROM messages WHERE id = $1", message_id)
    if row is None:
        raise NotFound(f"message {message_id}")
    return _message(row)


async def _fetch_conversations(conn: PgConn, sql: str, *args: object) -> list[ConversationView]:
    return [_conversation(r) for r in await conn.fetch(sql, *args)]


async def _fetch_messages(conn: PgConn, sql: str, *args: object) -> list[Message]:
    return [_message(r) for r in await conn.fetch(sql, *args)]


async def _fetch_id(conn: PgConn, sql: str, *args: object) -> str | None:
    found = await conn.fetchval(sql, *args)
    return None if found is None else str(found)


async def _fetch_message(conn: PgConn, sql: str, *args: object) -> Message | None:
    row = await conn.fetchrow(sql, *args)
    return None if row is None else _message(row)


async def _count(conn: PgConn) -> dict[ConversationStatus, int]:
    counts = dict.fromkeys(ConversationStatus, 0)
    for row in await conn.fetch("SELECT status, COUNT(*) AS n FROM conversations GROUP BY status"):
        counts[ConversationStatus(row["status"])] = row["n"]
    return counts


async def _channels(conn: PgConn, customer_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT channel FROM messages WHERE customer_id = $1 AND direction = 'in'"
        " GROUP BY channel ORDER BY MAX(created_at) DESC", customer_id)
    return [r["channel"] for r in rows]


class PostgresConversations(ConversationStore, MessageStore, OutboundStore, PgConnections):
    """Conversations, their messages and the outbound path over the pool of
    the store it is mixed into."""

    async def conversation_route(self, conversation_id: str) -> RouteTrace | None:
        return await self._pg.read(_route_trace, conversation_id)

    # -- conversations -------------------------------------------------------------
    async def customer_conversations(self, customer_id: str) -> list[ConversationView]:
        return await self._pg.read(
            _fetch_conversations, _CONV_SELECT + " WHERE c.customer_id = $1 ORDER BY c.created_at DESC, c.seq DESC",
            customer_id)

    async def get_conversation(self, conversation_id: str) -> ConversationView:
        return await self._pg.read(_conv_view, conversation_id)

    async def list_conversations(self, statuses: list[ConversationStatus] | None, limit: int, *,
                                 awake_only: bool = False, agent_id: str | None = None,
                                 after: ListCursor | None = None) -> list[ConversationView]:
        chosen = list(dict.fromkeys(statuses or ConversationStatus))
        return await self._pg.read(_fetch_conversations, LATEST_CONVERSATIONS, [s.value for s in chosen], limit,
                                   awake_only, agent_id, after and after.last_message_at, after and after.id)

    async def count_conversations(self) -> dict[ConversationStatus, int]:
        return await self._pg.read(_count)

    async def reroute_conversation(
        self, conversation_id: str, route: RouteDecision, now: datetime, *, expected: set[ConversationStatus],
        after: AnswerMark | None = None,
    ) -> ConversationView:
        return await self._pg.write(_reroute, conversation_id, route, now, expected, after)

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
        return await self._pg.write(_set_state, conversation_id, status, agent_id, now, expected, seen, not_others,
                                    capacity)

    # -- messages ------------------------------------------------------------------
    async def list_messages(self, conversation_id: str, limit: int) -> list[Message]:
        return await self._pg.read(_fetch_messages, _LATEST_MESSAGES.format(column="conversation_id"),
                                   conversation_id, limit)

    async def last_answer(self, conversation_id: str) -> str | None:
        return await self._pg.read(_fetch_id, _LAST_ANSWER, conversation_id)

    async def get_message(self, message_id: str) -> Message:
        return await self._pg.read(_get_message, message_id)

    async def customer_messages(self, customer_id: str, limit: int) -> list[Message]:
        return await self._pg.read(_fetch_messages, _LATEST_MESSAGES.format(column="customer_id"), customer_id, limit)

    async def last_inbound(self, conversation_id: str) -> Message | None:
        return await self._pg.read(
            _fetch_message,
            "SELECT * FROM messages WHERE conversation_id = $1 AND direction = 'in'"
            " ORDER BY created_at DESC, seq DESC LIMIT 1", conversation_id)

    async def customer_channels(self, customer_id: str) -> list[str]:
        return await self._pg.read(_channels, customer_id)

    async def customer_last_inbound(self, customer_id: str, channel: str) -> Message | None:
        return await self._pg.read(
            _fetch_message,
            "SELECT * FROM messages WHERE customer_id = $1 AND channel = $2 AND direction = 'in'"
            " ORDER BY created_at DESC, seq DESC LIMIT 1", customer_id, channel)

    # -- outbound ------------------------------------------------------------------
    async def enqueue_outbound(
        self,
        message: Message,
        payload: OutboundMessage,
        assign_to: str | None,
        now: datetime,
        *,
        expected: set[ConversationStatus] | None = None,
        after: AnswerMark | None = None,
        capacity: Mapping[str, int] | None = None,
    ) -> tuple[Message, ConversationView]:
        if message.conversation_id is None:
            raise ValueError("an outbound message belongs to a conversation")
        return message, await self._pg.write(_enqueue, message, payload, assign_to, now, expected, after, capacity)

    async def record_delivery(
        self, channel: str, external_id: str, state: Delivery, error: str | None, now: datetime
    ) -> Message | None:
        return await self._pg.write(_record_delivery, channel, external_id, state, error, now)
