"""The ingest slice's SQL on PostgreSQL: storing an inbound message once, the one-step
ingest transaction (store, resolve the sender, continue the open conversation or the
thread it answers), opening a conversation by a routing decision, and what routing
reads of a customer's past. Mixed into ``PostgresStore``, which gives it the pool
(``router.store.pg_engine``); storage and atomicity only, the rules are the slice's.
The unit functions mirror ``router.ingest.sqlite``'s, by name.

Each write holds the lock its method's docstring names (``router.ingest.store``), in
the order of ``router.store.base``: the sender's resolution (its advisory locks, its
customers) first, then the sender's customer's row (``FOR KEY SHARE``, read again: a
merge committed meanwhile makes the survivor the sender), then the message (inserted,
or the first copy's row locked), then the conversation. So the new message goes in
unattached and is attached by the same statement that locks its open conversation,
checks it is still open and touches it (``_JOIN_OPEN``): an UPDATE re-checks its
WHERE on a row it waited for, so a conversation resolved meanwhile is skipped, never
written into. Rows that are only updated, never re-keyed, are locked ``FOR NO KEY
UPDATE``: it serialises writers as ``FOR UPDATE`` does, without blocking the
foreign-key checks of rows that name them (a message's insert names its customer)."""

from __future__ import annotations

import json
from datetime import datetime

from router.conversations.states import is_open
from router.conversations.states import preview as _preview
from router.identity.postgres_live import live_end
from router.identity.postgres_resolve import _resolve_identity
from router.identity.postgres_rows import _customer, _plain
from router.identity.rules import MERGE_CHAIN_LIMIT, chain_unended
from router.identity.types import IdentityPlan
from router.ingest.inbound import stored_form
from router.ingest.postgres_batch import KnownIngests, known_path
from router.ingest.store import Ingested, IngestStore, Reopening
from router.models import DESCRIPTION_EXTRA as DESCRIPTION
from router.models import (
    ConversationStatus,
    ConversationView,
    Customer,
    CustomerHistory,
    InboundMessage,
    Message,
    RouteDecision,
    new_id,
)
from router.store.errors import AlreadyRouted, NotFound
from router.store.pg_engine import PgConn, PgConnections, rows_changed
from router.store.pg_rows import CONVERSATION_SELECT as _CONV_SELECT
from router.store.pg_rows import INSERT_MESSAGE as _INSERT_MESSAGE
from router.store.pg_rows import conversation_view as _conv_view
from router.store.pg_rows import message_args as _message_args
from router.store.rows import conversation_row as _conversation
from router.store.rows import message_row as _message

# the unique index messages_dedupe is partial: its predicate names it for ON CONFLICT
_INSERT_ONCE = _INSERT_MESSAGE + " ON CONFLICT (channel, external_id) WHERE direction = 'in' DO NOTHING"
_FIRST_COPY = "SELECT * FROM messages WHERE channel = $1 AND external_id = $2 AND direction = 'in'"

# lock the open conversation, check it is still open, touch it, attach the message and read the
# conversation back as every slice returns it: one statement, one round trip (a data-modifying
# WITH runs whether or not the query reads it). $1 message, $2 the customer it is filed as,
# $3 channel, $4 now, $5 preview, $6 the conversation (a thread's) or the customer (theirs), as
# {which} says; ``switched`` (Ingested.switched): its last message came on another channel
_JOIN_OPEN = """
    WITH was AS (SELECT id, channel FROM conversations WHERE {which} = $6 AND status <> 'resolved' FOR UPDATE),
    joined AS (
        UPDATE conversations c SET channel = $3, updated_at = $4, last_message_at = $4, last_message_text = $5
        FROM was WHERE c.id = was.id RETURNING c.*, was.channel <> $3 AS switched),
    filed AS (UPDATE messages m SET conversation_id = joined.id, customer_id = $2 FROM joined WHERE m.id = $1)
    SELECT joined.*, cu.display_name AS customer_name FROM joined JOIN customers cu ON cu.id = joined.customer_id
"""
_JOIN_THREAD = _JOIN_OPEN.format(which="id")
_JOIN_CUSTOMERS = _JOIN_OPEN.format(which="customer_id")

_OPEN_CONVERSATION = """
    INSERT INTO conversations (id, customer_id, status, team, priority, channel, route_reason, created_at,
        updated_at, last_message_at, last_message_text, rules_version, route_trace, skills, channel_kind,
        preferred_agent_id)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8, $9, $10, $11, $12, $13, $14)
"""


async def _insert_inbound(conn: PgConn, stored: Message) -> tuple[Message, bool]:
    if rows_changed(await conn.execute(_INSERT_ONCE, *_message_args(stored))) == 1:
        return stored, False
    # the insert waited for the transaction that stored it first to commit: this statement sees its row
    row = await conn.fetchrow(_FIRST_COPY, stored.channel, stored.external_id)
    assert row is not None
    return _message(row), True


async def _join_open(
    conn: PgConn, message_id: str, customer_id: str, thread: str | None, channel: str, now: datetime, preview: str
) -> tuple[ConversationView | None, str | None, bool]:
    """File an unattached message in ``thread``'s conversation if it is still
    open, else in the customer's open one: ``(conversation, None, switched)``;
    ``(None, None, False)`` when there is none; the second is the thread's
    conversation when it was resolved before its lock was granted."""
    if thread is not None:
        row = await conn.fetchrow(_JOIN_THREAD, message_id, customer_id, channel, now, preview, thread)
        if row is not None:
            return _conversation(row), None, row["switched"]
    row = await conn.fetchrow(_JOIN_CUSTOMERS, message_id, customer_id, channel, now, preview, customer_id)
    if row is None:
        return None, thread, False
    return _conversation(row), thread, row["switched"]


async def _lock_customer(conn: PgConn, customer_id: str, *, opening: bool) -> None:
    """The customer's row, before the message's and the conversation's (``router.store.base``'s
    order). Opening a conversation, ``FOR NO KEY UPDATE``: there may be no open conversation to
    lock, and two openings at once must not both insert. Else ``FOR KEY SHARE``, which the
    message's foreign key takes anyway once it names the customer: taken here, before the
    conversation's lock, it waits for a merge (customers ``FOR UPDATE``, then their
    conversations) instead of deadlocking with it."""
    strength = "NO KEY UPDATE" if opening else "KEY SHARE"
    await conn.execute(f"SELECT 1 FROM customers WHERE id = $1 FOR {strength}", customer_id)


async def _settled(conn: PgConn, customer: Customer) -> Customer:
    """The sender's customer, its row locked ``FOR KEY SHARE`` (as ``_lock_customer``) and read
    again under the lock: a merge that committed while this transaction waited for it moved
    the sender's identities to the survivor, who is then the sender (the live end of the
    chain of merges, followed a bounded number of steps: ``postgres_live``)."""
    row = await live_end(conn, customer.id, "KEY SHARE")
    return customer if row is None else _customer(row)


async def _attach(
    conn: PgConn, message_id: str, customer_id: str, channel: str, route: RouteDecision | None, now: datetime,
    thread: str | None = None, only_unrouted: bool = False, *, opening: bool = False,
) -> tuple[ConversationView | None, bool]:
    """Attach to ``thread`` (an open conversation the message answers) or the
    customer's open conversation, or open one by ``route``; without a route
    and with no open conversation, attach nothing and return None.

    The customer's row is locked first (``_lock_customer``; ``opening``: as
    for a route, the caller may open one without it)."""
    await _lock_customer(conn, customer_id, opening=opening or route is not None)
    msg = await conn.fetchrow("SELECT conversation_id, text, extras->>'description' AS description"
                              " FROM messages WHERE id = $1 FOR NO KEY UPDATE", message_id)
    if msg is None:
        raise NotFound(f"message {message_id}")
    if msg["conversation_id"] is not None:  # read under the lock: attached meanwhile, that is the answer
        if only_unrouted:
            raise AlreadyRouted(msg["conversation_id"])
        return await _conv_view(conn, msg["conversation_id"]), False
    preview = _preview(msg["text"], msg["description"])
    joined, _, _ = await _join_open(conn, message_id, customer_id, thread, channel, now, preview)
    if joined is not None:
        return joined, False
    if route is None:
        return None, False
    conversation_id = new_id("conv")
    await conn.execute(
        _OPEN_CONVERSATION, conversation_id, customer_id, route.status.value, route.team, route.priority, channel,
        route.reason, now, preview, route.rules_version, route.trace.model_dump_json() if route.trace else None,
        json.dumps(route.skills), route.channel_kind, route.preferred_agent_id,
    )
    await conn.execute("UPDATE messages SET conversation_id = $1, customer_id = $2 WHERE id = $3",
                       conversation_id, customer_id, message_id)
    return await _conv_view(conn, conversation_id), True


# the resolved conversation back in its team's queue, the agent who handled it preferred (they are offered it
# first if free), if it is still as it was read (SET reads the row's values before the update), and
# the message filed in it: $1 message, $2 customer, $3 channel, $4 now, $5 preview, $6 conversation,
# $7 its resolved_at as read, $8 the rules' priority, $9 the channel kind written on now
_REOPEN = """
    WITH reopened AS (
        UPDATE conversations SET status = 'queued', preferred_agent_id = coalesce(agent_id, preferred_agent_id),
            agent_id = NULL, channel_kind = $9,
            assigned_at = NULL, opened_at = NULL, resolved_at = NULL, snoozed_until = NULL, reopened_at = $4,
            reopens = reopens + 1, priority = GREATEST(priority, $8), channel = $3, updated_at = $4,
            last_message_at = $4, last_message_text = $5
        WHERE id = $6 AND customer_id = $2 AND status = 'resolved' AND resolved_at = $7 RETURNING id),
    filed AS (UPDATE messages m SET conversation_id = reopened.id, customer_id = $2 FROM reopened WHERE m.id = $1)
    SELECT id FROM reopened
"""


async def _reopen_with(
    conn: PgConn, message_id: str, customer_id: str, channel: str, reopening: Reopening, now: datetime,
    only_unrouted: bool,
) -> tuple[ConversationView, bool] | None:
    """``_attach`` to the open conversation if there is one (the customer's row locked
    ``FOR NO KEY UPDATE`` first, to the commit: a second message at once waits, then
    joins what this one reopened), else reopen the one read; None when it changed since."""
    view, _ = await _attach(conn, message_id, customer_id, channel, None, now, None, only_unrouted, opening=True)
    if view is not None:
        return view, False
    msg = await conn.fetchrow("SELECT text, extras->>'description' AS description FROM messages WHERE id = $1",
                              message_id)
    assert msg is not None  # _attach found it, and holds its row
    reopened = await conn.fetchval(_REOPEN, message_id, customer_id, channel, now,
                                   _preview(msg["text"], msg["description"]), reopening.conversation_id,
                                   reopening.resolved_at, reopening.priority, reopening.channel_kind)
    if reopened is None:
        return None
    return await _conv_view(conn, reopened), True


async def _last_resolved(conn: PgConn, customer_id: str) -> ConversationView | None:
    row = await conn.fetchrow(_CONV_SELECT + " WHERE c.customer_id = $1 AND c.status = 'resolved'"
                              " ORDER BY c.resolved_at DESC NULLS LAST LIMIT 1", customer_id)  # as on SQLite
    return _conversation(row) if row is not None else None


async def _contact_history(conn: PgConn, customer_id: str, since: datetime, before: datetime | None
                           ) -> CustomerHistory:
    # no upper bound without ``before``
    until = "COALESCE($2::timestamptz, 'infinity')"
    total = await conn.fetchval(
        f"SELECT COUNT(*) FROM conversations WHERE customer_id = $1 AND created_at < {until}", customer_id, before)
    recent = await conn.fetch(
        "SELECT created_at FROM conversations WHERE customer_id = $1 AND created_at >= $3"
        f" AND created_at < {until} ORDER BY created_at",
        customer_id, before, since,
    )
    last = await conn.fetchval(
        "SELECT agent_id FROM conversations WHERE customer_id = $1 AND agent_id IS NOT NULL"
        f" AND created_at < {until} ORDER BY created_at DESC LIMIT 1",
        customer_id, before,
    )
    return CustomerHistory(total=total or 0, recent=[r[0] for r in recent], last_agent_id=last)


async def _openings(
    conn: PgConn, since: datetime | None, after_id: str | None, limit: int
) -> list[tuple[ConversationView, Message | None]]:
    start: tuple[datetime | None, str] = (None, "")
    if after_id is not None:
        row = await conn.fetchrow("SELECT created_at, id FROM conversations WHERE id = $1", after_id)
        start = (row[0], row[1]) if row is not None else start
    rows = await conn.fetch(
        _CONV_SELECT + " WHERE c.created_at >= COALESCE($1::timestamptz, '-infinity')"
        # ids in byte order, as SQLite compares them, whatever the database's collation
        " AND (c.created_at, c.id COLLATE \"C\") > (COALESCE($2::timestamptz, '-infinity'), $3)"
        " ORDER BY c.created_at, c.id COLLATE \"C\" LIMIT $4",
        since, start[0], start[1], limit,
    )
    out: list[tuple[ConversationView, Message | None]] = []
    for row in rows:
        first = await conn.fetchrow(
            "SELECT * FROM messages WHERE conversation_id = $1 AND direction = 'in' ORDER BY created_at, seq LIMIT 1",
            row["id"],
        )
        out.append((_conversation(row), _message(first) if first is not None else None))
    return out


async def _thread(conn: PgConn, channel: str, replies_to: list[str]) -> tuple[str | None, str | None]:
    """The conversation of the first earlier message ``replies_to`` names that
    is known: ``(open one, None)``, or ``(None, resolved one)``."""
    for external_id in replies_to:
        for direction in ("out", "in"):  # one query per direction: each is served by its own partial index
            row = await conn.fetchrow(
                "SELECT c.id, c.status FROM messages m JOIN conversations c ON c.id = m.conversation_id"
                " WHERE m.channel = $1 AND m.external_id = $2 AND m.direction = $3 ORDER BY m.seq DESC LIMIT 1",
                channel, external_id, direction,
            )
            if row is not None:
                return (row["id"], None) if is_open(ConversationStatus(row["status"])) else (None, row["id"])
    return None, None


def _following(stored: Message, closed: str) -> Message:
    return stored.model_copy(update={"core": stored.core.model_copy(update={"follows_conversation": closed})})


async def _ingest(conn: PgConn, stored: Message, name: str | None, now: datetime, plan: IdentityPlan | None,
                  replies_to: list[str]) -> Ingested:
    thread, closed = await _thread(conn, stored.channel, replies_to)
    if closed is not None:
        # an answer in a thread already resolved starts a new conversation, which keeps the link
        stored = _following(stored, closed)
    assert stored.sender is not None
    sender = plan.identity if plan is not None else stored.sender
    first = await _stored_inbound(conn, stored.channel, stored.external_id)
    if first is not None:
        # a redelivery's claims were recorded the first time
        customer = await _settled(conn, await _resolve_identity(conn, _plain(sender), name, now, first.id))
        return await _redelivered(conn, first, customer, now, thread)
    customer = await _settled(conn, await _resolve_identity(conn, plan or _plain(stored.sender), name, now,
                                                            stored.id))
    stored, duplicate = await _insert_inbound(conn, stored)
    if duplicate:  # another node stored this delivery since the look above: theirs stands
        return await _redelivered(conn, stored, customer, now, thread)
    joined, resolved, switched = await _join_open(conn, stored.id, customer.id, thread, stored.channel, now,
                                                  _preview(stored.text, stored.extras.get(DESCRIPTION)))
    if resolved is not None:  # the thread was resolved before its lock was granted: follow it, as above
        stored = _following(stored, resolved)
        await conn.execute("UPDATE messages SET core = $1 WHERE id = $2",
                           stored.core.model_dump_json(exclude_defaults=True), stored.id)
    if joined is None:  # routing opens one; the message waits unattached (and is resumed if we crash)
        return Ingested(stored, False, customer, None)
    filed = stored.model_copy(update={"conversation_id": joined.id, "customer_id": customer.id})
    return Ingested(filed, False, customer, joined, switched)


async def _stored_inbound(conn: PgConn, channel: str, external_id: str | None) -> Message | None:
    if external_id is None:
        return None
    row = await conn.fetchrow(_FIRST_COPY, channel, external_id)
    return _message(row) if row is not None else None


async def _redelivered(conn: PgConn, first: Message, customer: Customer, now: datetime, thread: str | None
                       ) -> Ingested:
    """A platform's retry: the first copy stands; if a crash left it
    unattached it joins the open conversation now (its row locked while it is)."""
    view, _ = await _attach(conn, first.id, customer.id, first.channel, None, now, thread)
    if view is not None:
        first = first.model_copy(update={"conversation_id": view.id, "customer_id": customer.id})
    return Ingested(first, True, customer, view)


# the thread's row locked, still open and still its customer's (a merge moves it), and touched, in
# the statement that files the message: $1 message, $2 now, $3 conversation, $4 its customer
_FILE_IN_THREAD = """
    WITH c AS (UPDATE conversations SET updated_at = $2 WHERE id = $3 AND status <> 'resolved' AND customer_id = $4
               RETURNING id, customer_id)
    UPDATE messages m SET conversation_id = c.id, customer_id = c.customer_id FROM c WHERE m.id = $1 RETURNING m.*
"""


async def _ingest_automated(conn: PgConn, stored: Message, now: datetime, replies_to: list[str]
                            ) -> tuple[Message, bool, ConversationView | None]:
    """Store a machine's message; put it in the open conversation it answers,
    if any, as that conversation's customer's. No identity is resolved (a
    mailer daemon is nobody's profile) and nothing is opened."""
    thread, _ = await _thread(conn, stored.channel, replies_to)
    stored, duplicate = await _insert_inbound(conn, stored)
    if duplicate or thread is None:
        view = await _conv_view(conn, stored.conversation_id) if stored.conversation_id else None
        return stored, duplicate, view
    customer_id = await conn.fetchval("SELECT customer_id FROM conversations WHERE id = $1", thread)
    for _ in range(MERGE_CHAIN_LIMIT):
        # the customer first (router.store.base: customers, then conversations; the message's
        # foreign key takes it anyway, after the conversation's lock, so a merge deadlocked with it)
        await _lock_customer(conn, customer_id, opening=False)
        row = await conn.fetchrow(_FILE_IN_THREAD, stored.id, now, thread, customer_id)
        if row is not None:
            return _message(row), False, await _conv_view(conn, thread)
        now_ = await conn.fetchrow("SELECT customer_id, status FROM conversations WHERE id = $1", thread)
        if now_ is None or now_["status"] == "resolved" or now_["customer_id"] == customer_id:
            # resolved since it was looked up: the message stays outside any conversation
            return stored, False, None
        customer_id = now_["customer_id"]  # a merge committed meanwhile moved it to its survivor
    raise chain_unended(str(customer_id))


async def _unrouted(conn: PgConn, limit: int) -> list[Message]:
    # a machine's message outside any thread stays unattached on purpose
    rows = await conn.fetch(
        "SELECT * FROM messages WHERE conversation_id IS NULL AND direction = 'in' AND core->>'automated' IS NULL"
        " ORDER BY created_at, seq LIMIT $1",
        limit,
    )
    return [_message(r) for r in rows]


class PostgresIngest(IngestStore, PgConnections):
    """The ingest over the pool of the store it is mixed into."""

    _known_ingests: KnownIngests  # the store's (router.ingest.postgres_batch)

    async def insert_inbound(self, message: InboundMessage, received_at: datetime) -> tuple[Message, bool]:
        return await self._pg.write(_insert_inbound, stored_form(message, received_at))

    async def attach_to_conversation(
        self, message_id: str, customer_id: str, channel: str, route: RouteDecision, now: datetime,
        *, only_unrouted: bool = False,
    ) -> tuple[ConversationView, bool]:
        view, created = await self._pg.write(_attach, message_id, customer_id, channel, route, now, None,
                                             only_unrouted)
        assert view is not None  # with a route, a conversation is always found or opened
        return view, created

    async def ingest(
        self, message: InboundMessage, received_at: datetime, plan: IdentityPlan | None = None
    ) -> Ingested:
        stored = stored_form(message, received_at, plan)
        if known_path(plan, message.replies_to):
            sender = plan.identity if plan is not None else message.sender
            known = await self._known_ingests.ingest(self._pg, stored, sender, message.sender_name, received_at,
                                                     plan.claims if plan is not None else ())
            if known is not None:
                return known
        return await self._pg.write(_ingest, stored, message.sender_name, received_at, plan, message.replies_to)

    async def ingest_automated(
        self, message: InboundMessage, received_at: datetime
    ) -> tuple[Message, bool, ConversationView | None]:
        return await self._pg.write(_ingest_automated, stored_form(message, received_at), received_at,
                                    message.replies_to)

    async def last_resolved(self, customer_id: str) -> ConversationView | None:
        return await self._pg.read(_last_resolved, customer_id)

    async def reopen_with(
        self, message_id: str, customer_id: str, channel: str, reopening: Reopening, now: datetime,
        *, only_unrouted: bool = False,
    ) -> tuple[ConversationView, bool] | None:
        return await self._pg.write(_reopen_with, message_id, customer_id, channel, reopening, now, only_unrouted)

    async def unrouted_messages(self, limit: int) -> list[Message]:
        return await self._pg.read(_unrouted, limit)

    async def contact_history(
        self, customer_id: str, since: datetime, before: datetime | None = None
    ) -> CustomerHistory:
        return await self._pg.read(_contact_history, customer_id, since, before)

    async def conversation_openings(
        self, since: datetime | None, after_id: str | None, limit: int
    ) -> list[tuple[ConversationView, Message | None]]:
        return await self._pg.read(_openings, since, after_id, limit)
