"""Search, labels and snooze on PostgreSQL. Mixed into ``PostgresStore``, which
gives it the pool (``router.store.pg_engine``); storage only, the rules are in
``router.search.service``.

Both messages and customers are searched by the terms ``router.search.terms``
makes in Python, the very terms SQLite's index holds, so both backends find
the same: each kept as a ``tsvector`` built from the terms as they are
(``array_to_tsvector``: no parser, no dictionary of PostgreSQL's between),
in ``search_messages`` (keyed by the message's seq; migration 19) and
``search_customers``, each with a GIN index. Triggers queue each new message
and each changed customer; the catch-up indexer (``index_for_search``) writes
their terms off the ingest's transaction, as SQLite's does.

A page of messages takes the newest matches of the words first, the way
chosen here by the statistics ANALYZE keeps of the terms column (the share of
rows each of its most common terms is in; ``TermStats``): a common word's
matches are read backwards by seq, the stored vector checked row by row until
the budget is met (no text parsed: the reason this table exists); a rare
word's gathered from the GIN index and the newest sorted out. PostgreSQL's
planner, left to itself, walks for a term it has no count of (an order
number) and reads the whole table to find none."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import asyncpg

from router.models import ConversationView, IdentityRef
from router.search.service import Filters, Search
from router.search.store import (
    CANDIDATES,
    LABEL_IN_USE,
    CustomerHit,
    Label,
    MessageHit,
    MessagePage,
    SearchStore,
    resume_after,
)
from router.search.terms import MIN_PREFIX, TERMS_KEY, TERMS_VERSION, customer_terms, text_terms
from router.store.errors import ConflictError, NotFound
from router.store.pg_engine import PgConn, PgConnections, rows_changed
from router.store.pg_rows import CONVERSATION_COLUMNS, CONVERSATION_SELECT
from router.store.rows import conversation_row, message_row

log = logging.getLogger(__name__)

# what the database says of one row's data (a value out of its type's range, a limit of its
# own): the rest of the batch is written without it
ROW_REFUSED = (asyncpg.DataError, asyncpg.ProgramLimitExceededError)
WALK_MS = 150  # a walk by seq that takes longer (stale statistics) gives way to the GIN index
STATS_FOR = 300.0  # seconds the terms' statistics are kept before they are read again


class _Args:
    """Positional parameters ($1, $2...) as a query is built."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def terms_query(terms: tuple[str, ...], prefix: bool) -> str:
    """A ``tsquery``'s text of terms that must all be there, each as a prefix
    when ``prefix`` (terms are letters and digits only: quoted and escaped all
    the same, so a term is never the query's syntax)."""
    quoted = ("'" + t.replace("\\", "\\\\").replace("'", "''") + "'" for t in terms)
    return " & ".join(q + (":*" if prefix and len(t) >= MIN_PREFIX else "") for q, t in zip(quoted, terms, strict=True))


def _filters(f: Filters, arg: Callable[[Any], str], at: str) -> str:
    where: list[str] = []
    if f.statuses:
        where.append(f"c.status = ANY({arg([s.value for s in f.statuses])}::text[])")
    if f.team is not None:
        where.append(f"c.team = {arg(f.team)}")
    if f.channel is not None:
        where.append(f"c.channel = {arg(f.channel)}")
    if f.assignee is not None:
        where.append(f"c.agent_id = {arg(f.assignee)}" if f.assignee else "c.agent_id IS NULL")
    if f.label is not None:
        where.append("EXISTS (SELECT 1 FROM conversation_labels l WHERE l.conversation_id = c.id"
                     f" AND l.label = {arg(f.label)})")
    if f.since is not None:
        where.append(f"{at} >= {arg(f.since)}")
    if f.until is not None:
        where.append(f"{at} < {arg(f.until)}")
    if f.snoozed is not None:
        where.append("c.snoozed_until IS NOT NULL" if f.snoozed else "c.snoozed_until IS NULL")
    return "".join(f" AND {w}" for w in where)


async def _views(conn: PgConn, ids: set[str]) -> dict[str, ConversationView]:
    if not ids:
        return {}
    rows = await conn.fetch(f"{CONVERSATION_SELECT} WHERE c.id = ANY($1::text[])", list(ids))
    return {r["id"]: conversation_row(r) for r in rows}


@dataclass(frozen=True, slots=True)
class TermStats:
    """What ANALYZE counted of the messages' terms: the rows, and the share of
    rows each of the most common terms is in (``pg_stats.most_common_elems``:
    about the 1,000 most common; a term not among them is rarer than all)."""

    rows: float
    shares: dict[str, float]

    def walk_first(self, terms: tuple[str, ...], budget: int) -> bool:
        """Whether reading backwards by seq finds ``budget`` matches sooner than
        the GIN index gathers them all: the rows a walk reads (the budget over
        the share of rows with every term, as if independent) against the
        matches of the rarest term."""
        shares = [self.shares.get(t, 0.0) for t in terms]
        if not shares or min(shares) <= 0.0:
            return False
        return budget / math.prod(shares) < self.rows * min(shares)


async def _term_stats(conn: PgConn) -> TermStats | None:
    row = await conn.fetchrow(
        "SELECT c.reltuples, s.most_common_elems::text::text[] AS terms, s.most_common_elem_freqs AS shares"
        " FROM pg_class c LEFT JOIN pg_stats s ON s.schemaname = current_schema()"
        " AND s.tablename = 'search_messages' AND s.attname = 'terms'"
        " WHERE c.oid = 'search_messages'::regclass")
    if row is None or row["terms"] is None or row["reltuples"] <= 0:
        return None  # never analysed: the planner's way, under a bound of time
    return TermStats(float(row["reltuples"]), dict(zip(row["terms"], row["shares"], strict=False)))


async def _candidates(conn: PgConn, search: Search, budget: int, stats: TermStats | None) -> list[int]:
    """The newest matches of the words, ``budget`` of them at most: read
    backwards by seq for words common enough (``TermStats``), else gathered
    from the GIN index and the newest sorted out. A walk that still runs long
    (no statistics yet, or stale ones) gives way to the GIN index after
    ``WALK_MS``: a bound on the time, never a change of results."""
    arg = _Args()
    where = f"s.terms @@ {arg(terms_query(search.terms, prefix=False))}::tsquery"
    if search.after is not None:
        where += f" AND s.seq < {arg(search.after)}"
    sql = f"SELECT s.seq FROM search_messages s WHERE {where} ORDER BY s.seq DESC LIMIT {arg(budget)}"
    async with conn.transaction():
        if stats is None or stats.walk_first(search.terms, budget):
            try:
                async with conn.transaction():  # a savepoint: the settings end with it
                    await conn.execute(f"SET LOCAL statement_timeout = {WALK_MS}")
                    await conn.execute("SET LOCAL enable_bitmapscan = off")
                    return [r["seq"] for r in await conn.fetch(sql, *arg.values)]
            except asyncpg.QueryCanceledError:
                pass
        await conn.execute("SET LOCAL enable_indexscan = off")  # the GIN index's bitmap, then a sort
        return [r["seq"] for r in await conn.fetch(sql, *arg.values)]


async def _search_messages(conn: PgConn, search: Search, stats: TermStats | None) -> MessagePage:
    # the newest matches of the words, a budget of them; then the filters over them
    budget = CANDIDATES if search.filters.any else search.limit
    candidates = await _candidates(conn, search, budget, stats)
    if not candidates:
        return MessagePage([], None)
    arg = _Args()
    where = f"m.seq = ANY({arg(candidates)}::bigint[])" + _filters(search.filters, arg, "m.created_at")
    rows = await conn.fetch("SELECT m.*, m.seq AS position FROM messages m JOIN conversations c"
                            f" ON c.id = m.conversation_id WHERE {where} ORDER BY m.seq DESC"
                            f" LIMIT {arg(search.limit)}", *arg.values)
    views = await _views(conn, {r["conversation_id"] for r in rows})
    hits = [(r["position"], MessageHit(message=message_row(r), conversation=views[r["conversation_id"]]))
            for r in rows]
    return MessagePage(hits, resume_after(hits, search.limit, candidates, budget))


async def _search_conversations(conn: PgConn, search: Search) -> list[tuple[int, ConversationView]]:
    if search.filters.statuses and not search.terms:
        return await _view_by_status(conn, search)
    arg = _Args()
    where = ""
    if search.terms:
        where += (" AND c.customer_id IN (SELECT customer_id FROM search_customers"
                  f" WHERE terms @@ {arg(terms_query(search.terms, prefix=True))}::tsquery)")
    if search.after is not None:
        where += f" AND c.seq < {arg(search.after)}"
    where += _filters(search.filters, arg, "c.created_at")
    sql = CONVERSATION_SELECT.replace("SELECT c.*", "SELECT c.seq AS position, c.*", 1)
    rows = await conn.fetch(f"{sql} WHERE true{where} ORDER BY c.seq DESC LIMIT {arg(search.limit)}", *arg.values)
    return [(r["position"], conversation_row(r)) for r in rows]


async def _view_by_status(conn: PgConn, search: Search) -> list[tuple[int, ConversationView]]:
    """A view of conversations of some statuses (no words): each status's newest first through
    the (status, seq) index (migration 24), then the newest of those, as the conversation list
    picks them (router.store.pg_rows); one ``status = ANY`` gathered every conversation of them
    and sorted them all per page."""
    arg = _Args()
    where = ""
    if search.after is not None:
        where += f" AND c.seq < {arg(search.after)}"
    where += _filters(replace(search.filters, statuses=()), arg, "c.created_at")
    limit = arg(search.limit)
    statuses = arg([s.value for s in dict.fromkeys(search.filters.statuses)])
    # the same order, constant columns first: only the (status[, agent_id], seq) index gives it as it
    # is, so the planner walks that instead of the whole seq index hoping the filter passes soon
    # (Open of nobody: 0.76 s, every assigned one read, at 1M; with it 0.2 ms)
    order = "c.status DESC, c.seq DESC" if search.filters.assignee is None else \
        "c.status DESC, c.agent_id DESC, c.seq DESC"
    rows = await conn.fetch(
        f"SELECT p.position, {CONVERSATION_COLUMNS}"
        f" FROM (SELECT x.position FROM unnest({statuses}::text[]) AS s(status)"
        f" CROSS JOIN LATERAL (SELECT c.seq AS position FROM conversations c WHERE c.status = s.status{where}"
        f" ORDER BY {order} LIMIT {limit}) AS x ORDER BY x.position DESC LIMIT {limit}) AS p"
        " JOIN conversations c ON c.seq = p.position JOIN customers cu ON cu.id = c.customer_id"
        " ORDER BY p.position DESC", *arg.values)
    return [(r["position"], conversation_row(r)) for r in rows]


async def _search_customers(conn: PgConn, search: Search) -> list[tuple[int, CustomerHit]]:
    arg = _Args()
    where = f"s.terms @@ {arg(terms_query(search.terms, prefix=True))}::tsquery"
    if search.after is not None:
        where += f" AND s.seq < {arg(search.after)}"
    rows = await conn.fetch(
        "SELECT s.seq AS position, cu.id, cu.display_name,"
        " (SELECT id FROM conversations WHERE customer_id = cu.id ORDER BY created_at DESC, seq DESC LIMIT 1)"
        " AS conversation_id,"
        " ARRAY(SELECT ARRAY[kind, value] FROM identities WHERE customer_id = cu.id ORDER BY created_at, kind)"
        " AS keys FROM search_customers s JOIN customers cu ON cu.id = s.customer_id"
        f" WHERE {where} AND cu.merged_into IS NULL ORDER BY s.seq DESC LIMIT {arg(search.limit)}", *arg.values)
    return [(r["position"], CustomerHit(
        id=r["id"], display_name=r["display_name"], conversation_id=r["conversation_id"],
        identities=[IdentityRef(kind=k, value=v) for k, v in r["keys"]])) for r in rows]


async def _requeue_for_terms(conn: PgConn, version: str) -> None:
    """Every message and customer queued again when their terms were made by
    other rules (``TERMS_VERSION``): once, under a lock of the cluster's, the
    version kept in ``meta`` after. A store never indexed has nothing to do
    again (migration 19 queued what it held). Rows are queued, no table is
    locked: the service searches and ingests meanwhile."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('omnirouter:search-terms'))")
    made = await conn.fetchval("SELECT value FROM meta WHERE key = $1", TERMS_KEY)
    if made == version.encode():
        return
    if made is not None or await conn.fetchval("SELECT EXISTS (SELECT 1 FROM search_messages)"):
        log.warning("search: the index was made by other rules; indexing every message and customer again")
        await conn.execute("INSERT INTO search_dirty_messages (seq) SELECT seq FROM messages ON CONFLICT DO NOTHING")
        await conn.execute(
            "INSERT INTO search_dirty_customers (customer_id) SELECT id FROM customers ORDER BY created_at, id")
    await conn.execute(
        "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        TERMS_KEY, version.encode())


async def _queued_messages(conn: PgConn, limit: int) -> list[tuple[int, str]]:
    """The newest ``limit`` queued messages and their texts (after an upgrade,
    recent ones are found first). Messages are never changed once stored: the
    terms made of this read are still theirs when written."""
    rows = await conn.fetch(
        "SELECT d.seq, m.text FROM search_dirty_messages d LEFT JOIN messages m ON m.seq = d.seq"
        " ORDER BY d.seq DESC LIMIT $1", limit)
    return [(r["seq"], r["text"] or "") for r in rows]


def _terms_of(texts: list[tuple[int, str]]) -> list[tuple[int, list[str]]]:
    return [(seq, text_terms(text)) for seq, text in texts]


async def _insert_message_terms(conn: PgConn, docs: list[tuple[int, list[str]]]) -> None:
    # every array a parameter of its own (never a literal made here): a term is data, whatever it says
    seqs = [seq for seq, terms in docs for _ in terms]
    flat = [term for _, terms in docs for term in terms]
    await conn.execute(
        "INSERT INTO search_messages (seq, terms) SELECT d.seq, array_to_tsvector(array_agg(d.term))"
        " FROM unnest($1::bigint[], $2::text[]) AS d(seq, term) GROUP BY d.seq"
        " ON CONFLICT (seq) DO UPDATE SET terms = excluded.terms", seqs, flat)


async def _store_message_terms(conn: PgConn, docs: list[tuple[int, list[str]]]) -> int:
    """The terms of the messages still queued, in one statement; when the
    database refuses it, each message's in a savepoint of its own, and one it
    still refuses is left out of search (a WARNING names it), never retried
    for ever in front of all the others."""
    taken = {r["seq"] for r in await conn.fetch(
        "DELETE FROM search_dirty_messages WHERE seq = ANY($1::bigint[]) RETURNING seq", [seq for seq, _ in docs])}
    docs = [(seq, terms) for seq, terms in docs if seq in taken and terms]
    try:
        async with conn.transaction():  # a savepoint
            await _insert_message_terms(conn, docs)
    except ROW_REFUSED as exc:
        log.warning("search indexing: a batch of %d messages was refused (%s); indexing them one by one",
                    len(docs), type(exc).__name__)
        for seq, terms in docs:
            try:
                async with conn.transaction():
                    await _insert_message_terms(conn, [(seq, terms)])
            except ROW_REFUSED as one:
                log.warning("search indexing: message seq %d left out of search, the database refused its"
                            " terms (%s)", seq, type(one).__name__)
    return len(taken)


async def _queued_customers(conn: PgConn, limit: int) -> tuple[list[int], list[tuple[str, str | None, list[str]]]]:
    """The queue's first ``limit`` entries, and each customer's name and
    identities' values as they are now (a change after this read queues
    the customer again)."""
    queued = await conn.fetch("SELECT seq, customer_id FROM search_dirty_customers ORDER BY seq LIMIT $1", limit)
    ids = list(dict.fromkeys(r["customer_id"] for r in queued))
    rows = await conn.fetch(
        "SELECT cu.id, cu.display_name, ARRAY(SELECT value FROM identities WHERE customer_id = cu.id) AS vals"
        " FROM customers cu WHERE cu.id = ANY($1::text[]) ORDER BY cu.id", ids) if ids else []
    return [r["seq"] for r in queued], [(r["id"], r["display_name"], list(r["vals"])) for r in rows]


def _customers_terms(customers: list[tuple[str, str | None, list[str]]]) -> list[tuple[str, list[str]]]:
    return [(customer_id, customer_terms(name, values)) for customer_id, name, values in customers]


async def _insert_customer_terms(conn: PgConn, docs: list[tuple[str, list[str]]]) -> None:
    await conn.executemany(
        "INSERT INTO search_customers (customer_id, terms) VALUES ($1, array_to_tsvector($2::text[]))"
        " ON CONFLICT (customer_id) DO UPDATE SET terms = excluded.terms", docs)


async def _store_customer_terms(conn: PgConn, queued: list[int], docs: list[tuple[str, list[str]]]) -> int:
    """As ``_store_message_terms``, for customers: the entries read are taken
    off the queue (those another node took meanwhile are its own)."""
    taken = await conn.fetch(
        "DELETE FROM search_dirty_customers WHERE seq = ANY($1::bigint[]) RETURNING customer_id", queued)
    ids = {r["customer_id"] for r in taken}
    docs = [(customer_id, terms) for customer_id, terms in docs if customer_id in ids]
    try:
        async with conn.transaction():  # a savepoint
            await _insert_customer_terms(conn, docs)
    except ROW_REFUSED as exc:
        log.warning("search indexing: a batch of %d customers was refused (%s); indexing them one by one",
                    len(docs), type(exc).__name__)
        for doc in docs:
            try:
                async with conn.transaction():
                    await _insert_customer_terms(conn, [doc])
            except ROW_REFUSED as one:
                log.warning("search indexing: customer %s left out of search, the database refused its"
                            " terms (%s)", doc[0], type(one).__name__)
    return len(ids)


async def _view(conn: PgConn, conversation_id: str) -> ConversationView:
    row = await conn.fetchrow(CONVERSATION_SELECT + " WHERE c.id = $1", conversation_id)
    if row is None:
        raise NotFound(f"conversation {conversation_id}")
    return conversation_row(row)


async def _add_label(conn: PgConn, conversation_id: str, name: str, now: datetime, most: int) -> ConversationView:
    if await conn.fetchval("SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE", conversation_id) is None:
        raise NotFound(f"conversation {conversation_id}")
    has = {r["label"] for r in await conn.fetch(
        "SELECT label FROM conversation_labels WHERE conversation_id = $1", conversation_id)}
    if name not in has:
        if len(has) >= most:
            raise ConflictError(f"a conversation has at most {most} labels")
        await conn.execute("INSERT INTO labels (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING", name, now)
        await conn.execute("INSERT INTO conversation_labels (conversation_id, label, created_at) VALUES ($1, $2, $3)",
                           conversation_id, name, now)
    return await _view(conn, conversation_id)


async def _remove_label(conn: PgConn, conversation_id: str, name: str) -> ConversationView:
    await _view(conn, conversation_id)
    gone = rows_changed(await conn.execute(
        "DELETE FROM conversation_labels WHERE conversation_id = $1 AND label = $2", conversation_id, name))
    if not gone:
        raise NotFound(f"label {name!r} on conversation {conversation_id}")
    return await _view(conn, conversation_id)


async def _snooze(conn: PgConn, conversation_id: str, until: datetime) -> ConversationView:
    changed = rows_changed(await conn.execute(
        "UPDATE conversations SET snoozed_until = $2 WHERE id = $1 AND status <> 'resolved'", conversation_id, until))
    view = await _view(conn, conversation_id)
    if not changed:
        raise ConflictError(f"conversation {conversation_id} is resolved")
    return view


async def _wake(conn: PgConn, conversation_id: str) -> ConversationView | None:
    changed = rows_changed(await conn.execute(
        "UPDATE conversations SET snoozed_until = NULL WHERE id = $1 AND snoozed_until IS NOT NULL", conversation_id))
    return await _view(conn, conversation_id) if changed else None


async def _wake_due(conn: PgConn, now: datetime, limit: int) -> list[ConversationView]:
    ids = [r["id"] for r in await conn.fetch(
        "UPDATE conversations SET snoozed_until = NULL WHERE id IN (SELECT id FROM conversations"
        " WHERE snoozed_until IS NOT NULL AND snoozed_until <= $1 ORDER BY snoozed_until LIMIT $2"
        " FOR UPDATE SKIP LOCKED) AND snoozed_until IS NOT NULL RETURNING id", now, limit)]
    views = await _views(conn, set(ids))
    return [views[i] for i in ids if views[i].status.value != "resolved"]


async def _labels(conn: PgConn) -> list[Label]:
    return [Label(name=r["name"], created_at=r["created_at"])
            for r in await conn.fetch(f"SELECT name, created_at FROM labels WHERE {LABEL_IN_USE} ORDER BY name")]


async def _labels_exist(conn: PgConn, names: list[str]) -> list[str]:
    return [r["name"] for r in await conn.fetch("SELECT name FROM labels WHERE name = ANY($1::text[])", names)]


async def _next_wake(conn: PgConn) -> datetime | None:
    value: datetime | None = await conn.fetchval(
        "SELECT min(snoozed_until) FROM conversations WHERE snoozed_until IS NOT NULL")
    return value


class PostgresSearch(SearchStore, PgConnections):
    """Search, labels and snooze over the pool of the store it is mixed into."""

    _term_stats: TermStats | None = None
    _term_stats_at = -math.inf
    _terms_checked = False  # whether the index was checked for the rules its terms were made by

    async def search_messages(self, search: Search) -> MessagePage:
        if time.monotonic() - self._term_stats_at > STATS_FOR:
            self._term_stats = await self._pg.read(_term_stats)
            self._term_stats_at = time.monotonic()
        return await self._pg.read(_search_messages, search, self._term_stats)

    async def search_conversations(self, search: Search) -> list[tuple[int, ConversationView]]:
        return await self._pg.read(_search_conversations, search)

    async def search_customers(self, search: Search) -> list[tuple[int, CustomerHit]]:
        return await self._pg.read(_search_customers, search)

    async def index_for_search(self, limit: int) -> int:
        """Queued messages and changed customers, ``limit`` of each at most. The
        terms are made in a worker thread before the transaction
        that writes them opens: the event loop and the transaction are not
        held while texts are parsed and stemmed."""
        if not self._terms_checked:
            await self._pg.write(_requeue_for_terms, TERMS_VERSION)
            self._terms_checked = True
        texts = await self._pg.read(_queued_messages, limit)
        done = 0
        if texts:
            docs = await asyncio.to_thread(_terms_of, texts)
            done = await self._pg.write(_store_message_terms, docs)
        queued, customers = await self._pg.read(_queued_customers, limit)
        if queued:
            docs_of_customers = await asyncio.to_thread(_customers_terms, customers)
            done += await self._pg.write(_store_customer_terms, queued, docs_of_customers)
        return done

    async def list_labels(self) -> list[Label]:
        return await self._pg.read(_labels)

    async def labels_exist(self, names: list[str]) -> list[str]:
        return await self._pg.read(_labels_exist, names) if names else []

    async def add_label(self, conversation_id: str, name: str, now: datetime, most: int) -> ConversationView:
        return await self._pg.write(_add_label, conversation_id, name, now, most)

    async def remove_label(self, conversation_id: str, name: str) -> ConversationView:
        return await self._pg.write(_remove_label, conversation_id, name)

    async def snooze(self, conversation_id: str, until: datetime) -> ConversationView:
        return await self._pg.write(_snooze, conversation_id, until)

    async def wake(self, conversation_id: str) -> ConversationView | None:
        return await self._pg.write(_wake, conversation_id)

    async def wake_due(self, now: datetime, limit: int) -> list[ConversationView]:
        return await self._pg.write(_wake_due, now, limit)

    async def next_wake(self) -> datetime | None:
        return await self._pg.read(_next_wake)
