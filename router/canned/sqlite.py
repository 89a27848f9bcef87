"""The canned replies' SQL on SQLite. Mixed into ``SQLiteStore``, which gives
it the writer and reader connections; storage only, the rules are in
``router.canned.service``."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from router.canned.store import CannedStore
from router.canned.types import CannedReply, Scope
from router.store.engine import Connections
from router.store.errors import ConflictError, IntegrityViolation, NotFound
from router.store.rows import RowLike, ts
from router.store.rows import execute as _execute
from router.store.rows import fetch_all as _all
from router.store.rows import fetch_one as _one
from router.store.rows import from_ts as _ts


def in_order(replies: list[CannedReply]) -> list[CannedReply]:
    """By shortcut, then personal before team, then team name, compared by code point on
    every backend: SQL's ORDER BY would follow PostgreSQL's collation there ("a-c" after
    "ab" in en_US) and SQLite's bytes here."""
    return sorted(replies, key=lambda r: (r.shortcut, r.scope is Scope.TEAM, r.owner if r.scope is Scope.TEAM else ""))


def canned_row(row: RowLike) -> CannedReply:
    """A reply from its row, a ``sqlite3.Row`` or an asyncpg ``Record`` (``router.canned.postgres``)."""
    texts = {lang: row[f"text_{lang}"] for lang in ("ru", "en") if row[f"text_{lang}"] is not None}
    personal = row["agent_id"] is not None
    return CannedReply(
        id=row["id"], scope=Scope.PERSONAL if personal else Scope.TEAM,
        owner=row["agent_id"] if personal else row["team"], shortcut=row["shortcut"], title=row["title"],
        texts=texts, created_by=row["created_by"], created_at=_ts(row["created_at"]),
        updated_at=_ts(row["updated_at"]),
    )


def owner_columns(reply: CannedReply) -> tuple[str | None, str | None]:
    """(team, agent_id): exactly one is set."""
    return (None, reply.owner) if reply.scope is Scope.PERSONAL else (reply.owner, None)


def taken(reply: CannedReply) -> str:
    whose = "you have" if reply.scope is Scope.PERSONAL else f"team {reply.owner!r} has"
    return f"{whose} a reply /{reply.shortcut} already"


def _update(conn: sqlite3.Connection, reply: CannedReply) -> CannedReply | None:
    """The words of a reply replaced, and the row as it is now (None: no such reply)."""
    conn.execute(
        "UPDATE canned_replies SET shortcut = ?, title = ?, text_ru = ?, text_en = ?, updated_at = ? WHERE id = ?",
        (reply.shortcut, reply.title, reply.texts.get("ru"), reply.texts.get("en"), ts(reply.updated_at), reply.id),
    )
    row = _one(conn, "SELECT * FROM canned_replies WHERE id = ?", (reply.id,))
    return None if row is None else canned_row(row)


class SQLiteCanned(CannedStore, Connections):
    async def create_canned(self, reply: CannedReply) -> CannedReply:
        team, agent_id = owner_columns(reply)
        try:
            await self._w.call(
                _execute,
                "INSERT INTO canned_replies (id, team, agent_id, shortcut, title, text_ru, text_en, created_by,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (reply.id, team, agent_id, reply.shortcut, reply.title, reply.texts.get("ru"),
                 reply.texts.get("en"), reply.created_by, ts(reply.created_at), ts(reply.updated_at)),
            )
        except IntegrityViolation as exc:
            raise ConflictError(taken(reply)) from exc
        return reply

    async def update_canned(self, reply: CannedReply) -> CannedReply:
        try:
            updated = await self._w.call(_update, reply)
        except IntegrityViolation as exc:
            raise ConflictError(taken(reply)) from exc
        if updated is None:
            raise NotFound(f"canned reply {reply.id}")
        return updated

    async def delete_canned(self, reply_id: str) -> None:
        if not await self._w.call(_execute, "DELETE FROM canned_replies WHERE id = ?", (reply_id,)):
            raise NotFound(f"canned reply {reply_id}")

    async def get_canned(self, reply_id: str) -> CannedReply:
        row = await self._r.call(_one, "SELECT * FROM canned_replies WHERE id = ?", (reply_id,))
        if row is None:
            raise NotFound(f"canned reply {reply_id}")
        return canned_row(row)

    async def list_canned(self, agent_id: str | None, teams: Sequence[str] | None) -> list[CannedReply]:
        params: list[Any] = [agent_id]
        if teams is None:
            where = "agent_id = ? OR team IS NOT NULL"
        elif not teams:
            where = "agent_id = ?"
        else:
            where = f"agent_id = ? OR team IN ({', '.join('?' * len(teams))})"
            params += list(teams)
        rows = await self._r.call(_all, f"SELECT * FROM canned_replies WHERE {where}", tuple(params))
        return in_order([canned_row(r) for r in rows])
