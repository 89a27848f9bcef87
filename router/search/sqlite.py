"""Search, labels and snooze on SQLite. Mixed into ``SQLiteStore``, which gives
it the writer and reader connections; storage only, the rules are in
``router.search.service``.

The terms live in two FTS5 tables: ``search_messages``, keyed by the message's
rowid and without content of its own (the messages table holds the text), in a
file of its own (``router.search.sqlite_index``), and ``search_customers``
(migration 14), keyed by the customer's rowid. The catch-up indexer
(``index_for_search``) fills them off the ingest's transaction, messages from
the position it reached: SQLite's one writer inserts messages in rowid order,
so a position once passed never gains a message."""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import replace
from datetime import datetime
from typing import Any, cast

from router.models import ConversationView, IdentityRef
from router.search.service import Filters, Search
from router.search.sqlite_index import MessageIndex, attach
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
from router.search.terms import MIN_PREFIX, TERMS_KEY, TERMS_VERSION, customer_terms
from router.store.engine import Connections
from router.store.errors import ConflictError, NotFound
from router.store.rows import CONVERSATION_COLUMNS, CONVERSATION_SELECT, conversation_row, from_ts, message_row, ts
from router.store.rows import fetch_all as _all
from router.store.rows import fetch_one as _one
from router.store.secrets import SecretStore
from router.store.sqlite_db import Synchronous

log = logging.getLogger(__name__)

# -- the terms of a query --------------------------------------------------------


def match_expression(terms: tuple[str, ...], prefix: bool) -> str:
    """FTS5's query of terms that must all be there; each quoted (terms are
    letters and digits only, but a query never becomes FTS5 syntax)."""
    return " ".join('"' + t.replace('"', '""') + '"' + ("*" if prefix and len(t) >= MIN_PREFIX else "") for t in terms)


def _filters(f: Filters, args: list[Any]) -> str:
    """The WHERE conditions of the filters over conversation ``c`` (and the
    time column ``{at}``, formatted by the caller), their values appended to ``args``."""
    where: list[str] = []
    if f.statuses:
        where.append(f"c.status IN ({', '.join('?' * len(f.statuses))})")
        args += [s.value for s in f.statuses]
    for column, value in (("c.team", f.team), ("c.channel", f.channel)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if f.assignee is not None:
        where.append("c.agent_id = ?" if f.assignee else "c.agent_id IS NULL")
        if f.assignee:
            args.append(f.assignee)
    if f.label is not None:
        where.append("EXISTS (SELECT 1 FROM conversation_labels l WHERE l.conversation_id = c.id AND l.label = ?)")
        args.append(f.label)
    if f.since is not None:
        where.append("{at} >= ?")
        args.append(ts(f.since))
    if f.until is not None:
        where.append("{at} < ?")
        args.append(ts(f.until))
    if f.snoozed is not None:
        where.append("c.snoozed_until IS NOT NULL" if f.snoozed else "c.snoozed_until IS NULL")
    return "".join(f" AND {w}" for w in where)


def _views(conn: sqlite3.Connection, ids: set[str]) -> dict[str, ConversationView]:
    if not ids:
        return {}
    marks = ", ".join("?" * len(ids))
    rows = _all(conn, f"{CONVERSATION_SELECT} WHERE c.id IN ({marks})", tuple(ids))
    return {r["id"]: conversation_row(r) for r in rows}


# -- the units of work -----------------------------------------------------------


def _search_messages(conn: sqlite3.Connection, search: Search, index: str | None) -> MessagePage:
    if index is None:
        return MessagePage([], None)
    attach(conn, index)
    # the newest matches of the words, a budget of them, from the index alone; then the filters over them
    budget = CANDIDATES if search.filters.any else search.limit
    args: list[Any] = [match_expression(search.terms, prefix=False)]
    before = ""
    if search.after is not None:
        before = " AND s.rowid < ?"
        args.append(search.after)
    candidates = [r[0] for r in _all(conn, "SELECT s.rowid FROM search.search_messages s WHERE s.search_messages"
                                           f" MATCH ?{before} ORDER BY s.rowid DESC LIMIT ?", (*args, budget))]
    if not candidates:
        return MessagePage([], None)
    args = [json.dumps(candidates)]
    where = _filters(search.filters, args).replace("{at}", "m.created_at")
    args.append(search.limit)
    rows = _all(conn, "SELECT m.*, m.rowid AS position FROM messages m JOIN conversations c ON c.id = m.conversation_id"
                      f" WHERE m.rowid IN (SELECT value FROM json_each(?)){where} ORDER BY m.rowid DESC LIMIT ?", args)
    views = _views(conn, {r["conversation_id"] for r in rows})
    hits = [(r["position"], MessageHit(message=message_row(r), conversation=views[r["conversation_id"]]))
            for r in rows]
    return MessagePage(hits, resume_after(hits, search.limit, candidates, budget))


def _search_conversations(conn: sqlite3.Connection, search: Search) -> list[tuple[int, ConversationView]]:
    if search.filters.statuses and not search.terms:
        return _view_by_status(conn, search)
    args: list[Any] = []
    where = ""
    if search.terms:
        where += (" AND cu.rowid IN (SELECT rowid FROM search_customers WHERE search_customers MATCH ?)")
        args.append(match_expression(search.terms, prefix=True))
    if search.after is not None:
        where += " AND c.rowid < ?"
        args.append(search.after)
    where += _filters(search.filters, args).replace("{at}", "c.created_at")
    args.append(search.limit)
    sql = CONVERSATION_SELECT.replace("SELECT c.*", "SELECT c.rowid AS position, c.*", 1)
    rows = _all(conn, f"{sql} WHERE 1 = 1{where} ORDER BY c.rowid DESC LIMIT ?", args)
    return [(r["position"], conversation_row(r)) for r in rows]


def _view_by_status(conn: sqlite3.Connection, search: Search) -> list[tuple[int, ConversationView]]:
    """A view of conversations of some statuses (no words): each status's newest first, by the
    (status) index, whose order within a status is the rowid's, the views' own (migration 30);
    then the newest of those. One IN over the statuses read every conversation of them and
    sorted them all per page (0.6 s at 25,000 queued); now a page reads the rows it returns and
    those the other filters pass over."""
    others = replace(search.filters, statuses=())
    # with an assignee (nobody's too: IS NULL seeks as = does), the index by status and agent walks
    # only theirs, still in rowid order: the assigned ones of nobody are none, not 12,500 read
    index = "conversations_status_position" if others.assignee is None else "conversations_status_agent_position"
    arms: list[str] = []
    args: list[Any] = []
    for status in dict.fromkeys(search.filters.statuses):
        args.append(status.value)
        where = ""
        if search.after is not None:
            where += " AND c.rowid < ?"
            args.append(search.after)
        where += _filters(others, args).replace("{at}", "c.created_at")
        args.append(search.limit)
        arms.append("SELECT * FROM (SELECT c.rowid AS position FROM conversations c"
                    f" INDEXED BY {index} WHERE c.status = ?{where}"
                    " ORDER BY c.rowid DESC LIMIT ?)")
    args.append(search.limit)
    rows = _all(conn, f"SELECT p.position, {CONVERSATION_COLUMNS} FROM ({' UNION ALL '.join(arms)}"
                      " ORDER BY position DESC LIMIT ?) p JOIN conversations c ON c.rowid = p.position"
                      " JOIN customers cu ON cu.id = c.customer_id ORDER BY p.position DESC", args)
    return [(r["position"], conversation_row(r)) for r in rows]


def _search_customers(conn: sqlite3.Connection, search: Search) -> list[tuple[int, CustomerHit]]:
    args: list[Any] = [match_expression(search.terms, prefix=True)]
    before = ""
    if search.after is not None:
        before = " AND s.rowid < ?"
        args.append(search.after)
    args.append(search.limit)
    rows = _all(conn, "SELECT s.rowid AS position, cu.id, cu.display_name,"
                      " (SELECT id FROM conversations WHERE customer_id = cu.id"
                      "  ORDER BY created_at DESC, rowid DESC LIMIT 1) AS conversation_id"
                      " FROM search_customers s JOIN customers cu ON cu.rowid = s.rowid"
                      f" WHERE search_customers MATCH ?{before} AND cu.merged_into IS NULL"
                      " ORDER BY s.rowid DESC LIMIT ?", args)
    hits = []
    for r in rows:
        keys = _all(conn, "SELECT kind, value FROM identities WHERE customer_id = ? ORDER BY created_at, kind",
                    (r["id"],))
        hits.append((r["position"], CustomerHit(
            id=r["id"], display_name=r["display_name"], conversation_id=r["conversation_id"],
            identities=[IdentityRef(kind=k["kind"], value=k["value"]) for k in keys])))
    return hits


def _requeue_customers_for_terms(conn: sqlite3.Connection, version: str) -> None:
    """Every customer queued again when their terms were made by other rules
    (``TERMS_VERSION``; the index of messages rebuilds itself): once, the
    version kept in ``meta`` after. A store whose customers were never
    indexed has nothing to do again."""
    row = _one(conn, "SELECT value FROM meta WHERE key = ?", (TERMS_KEY,))
    if row is not None and bytes(row[0]) == version.encode():
        return
    if row is not None or _one(conn, "SELECT 1 FROM search_customers LIMIT 1") is not None:
        log.warning("search: customers' terms were made by other rules; indexing every customer again")
        conn.execute("INSERT OR IGNORE INTO search_dirty_customers SELECT id FROM customers")
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                 (TERMS_KEY, version.encode()))


def _index_customers(conn: sqlite3.Connection, limit: int) -> int:
    """Customers changed since they were indexed, in the writer's transaction."""
    dirty = [r[0] for r in _all(conn, "SELECT customer_id FROM search_dirty_customers LIMIT ?", (limit,))]
    for customer_id in dirty:
        _index_customer(conn, customer_id)
    return len(dirty)


def _index_customer(conn: sqlite3.Connection, customer_id: str) -> None:
    conn.execute("DELETE FROM search_dirty_customers WHERE customer_id = ?", (customer_id,))
    customer = _one(conn, "SELECT rowid, display_name FROM customers WHERE id = ?", (customer_id,))
    if customer is None:
        return
    conn.execute("DELETE FROM search_customers WHERE rowid = ?", (customer[0],))
    values = [r[0] for r in _all(conn, "SELECT value FROM identities WHERE customer_id = ?", (customer_id,))]
    terms = customer_terms(customer[1], values)
    if terms:
        conn.execute("INSERT INTO search_customers (rowid, terms) VALUES (?, ?)", (customer[0], " ".join(terms)))


def _add_label(conn: sqlite3.Connection, conversation_id: str, name: str, now: str, most: int) -> ConversationView:
    if _one(conn, "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)) is None:
        raise NotFound(f"conversation {conversation_id}")
    has = _all(conn, "SELECT label FROM conversation_labels WHERE conversation_id = ?", (conversation_id,))
    if name not in {r[0] for r in has}:
        if len(has) >= most:
            raise ConflictError(f"a conversation has at most {most} labels")
        conn.execute("INSERT INTO labels (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING", (name, now))
        conn.execute("INSERT INTO conversation_labels (conversation_id, label, created_at) VALUES (?, ?, ?)",
                     (conversation_id, name, now))
    return _view(conn, conversation_id)


def _view(conn: sqlite3.Connection, conversation_id: str) -> ConversationView:
    row = _one(conn, CONVERSATION_SELECT + " WHERE c.id = ?", (conversation_id,))
    if row is None:
        raise NotFound(f"conversation {conversation_id}")
    return conversation_row(row)


def _remove_label(conn: sqlite3.Connection, conversation_id: str, name: str) -> ConversationView:
    view = _view(conn, conversation_id)
    gone = conn.execute("DELETE FROM conversation_labels WHERE conversation_id = ? AND label = ?",
                        (conversation_id, name)).rowcount
    if not gone:
        raise NotFound(f"label {name!r} on conversation {conversation_id}")
    return _view(conn, view.id)


def _snooze(conn: sqlite3.Connection, conversation_id: str, until: str) -> ConversationView:
    changed = conn.execute("UPDATE conversations SET snoozed_until = ? WHERE id = ? AND status != 'resolved'",
                           (until, conversation_id)).rowcount
    view = _view(conn, conversation_id)
    if not changed:
        raise ConflictError(f"conversation {conversation_id} is resolved")
    return view


def _wake(conn: sqlite3.Connection, conversation_id: str) -> ConversationView | None:
    changed = conn.execute("UPDATE conversations SET snoozed_until = NULL WHERE id = ? AND snoozed_until IS NOT NULL",
                           (conversation_id,)).rowcount
    return _view(conn, conversation_id) if changed else None


def _wake_due(conn: sqlite3.Connection, now: str, limit: int) -> list[ConversationView]:
    ids = [r[0] for r in conn.execute(
        "UPDATE conversations SET snoozed_until = NULL WHERE id IN (SELECT id FROM conversations"
        " WHERE snoozed_until IS NOT NULL AND snoozed_until <= ? ORDER BY snoozed_until LIMIT ?) RETURNING id",
        (now, limit)).fetchall()]
    views = _views(conn, set(ids))
    return [views[i] for i in ids if views[i].status.value != "resolved"]


class SQLiteSearch(SearchStore, Connections):
    """Search, labels and snooze over the connections of the store it is mixed into,
    and the index of messages beside it (``open_search`` after the store's connections
    are open, ``close_search`` before they close)."""

    path: str
    synchronous: Synchronous
    cache_mb: int
    _messages_index: MessageIndex | None = None
    _terms_checked = False  # whether customers' terms were checked for the rules they were made by

    async def open_search(self) -> None:
        index = MessageIndex(self.path, self.synchronous, self.cache_mb)
        # which store the index was built from: another one's (a database restored or replaced) is rebuilt
        owner = await cast(SecretStore, self).secret("search-index")
        await index.open(owner=owner.hex())
        self._messages_index = index

    async def close_search(self) -> None:
        index, self._messages_index = self._messages_index, None
        if index is not None:
            await index.close()

    @property
    def _index(self) -> MessageIndex:
        if self._messages_index is None:
            raise RuntimeError("store is not open")
        return self._messages_index

    async def search_messages(self, search: Search) -> MessagePage:
        return await self._r.call(_search_messages, search, self._index.path)

    async def search_conversations(self, search: Search) -> list[tuple[int, ConversationView]]:
        return await self._r.call(_search_conversations, search)

    async def search_customers(self, search: Search) -> list[tuple[int, CustomerHit]]:
        return await self._r.call(_search_customers, search)

    async def index_for_search(self, limit: int) -> int:
        if not self._terms_checked:
            await self._w.call(_requeue_customers_for_terms, TERMS_VERSION)
            self._terms_checked = True
        done = await self._index.index(limit)
        # customers through the store's writer, only when one changed (the reader looks first)
        if await self._r.call(_one, "SELECT 1 FROM search_dirty_customers LIMIT 1") is not None:
            done += await self._w.call(_index_customers, max(limit - done, 1))
        return done

    async def list_labels(self) -> list[Label]:
        rows = await self._r.call(_all, f"SELECT name, created_at FROM labels WHERE {LABEL_IN_USE} ORDER BY name")
        return [Label(name=r["name"], created_at=from_ts(r["created_at"])) for r in rows]

    async def labels_exist(self, names: list[str]) -> list[str]:
        if not names:
            return []
        rows = await self._r.call(_all, f"SELECT name FROM labels WHERE name IN ({', '.join('?' * len(names))})",
                                  tuple(names))
        return [r["name"] for r in rows]

    async def add_label(self, conversation_id: str, name: str, now: datetime, most: int) -> ConversationView:
        return await self._w.call(_add_label, conversation_id, name, ts(now), most)

    async def remove_label(self, conversation_id: str, name: str) -> ConversationView:
        return await self._w.call(_remove_label, conversation_id, name)

    async def snooze(self, conversation_id: str, until: datetime) -> ConversationView:
        return await self._w.call(_snooze, conversation_id, ts(until))

    async def wake(self, conversation_id: str) -> ConversationView | None:
        return await self._w.call(_wake, conversation_id)

    async def wake_due(self, now: datetime, limit: int) -> list[ConversationView]:
        return await self._w.call(_wake_due, ts(now), limit)

    async def next_wake(self) -> datetime | None:
        row = await self._r.call(_one, "SELECT min(snoozed_until) FROM conversations WHERE snoozed_until IS NOT NULL")
        return None if row is None or row[0] is None else from_ts(row[0])
