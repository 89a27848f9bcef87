"""The canned replies' SQL on PostgreSQL. Mixed into ``PostgresStore``, which
gives it the pool; every write is a single statement, as its method's
docstring says (``router.canned.store``): the schema's keys are the checks."""

from __future__ import annotations

from collections.abc import Sequence

from router.canned.sqlite import canned_row, in_order, owner_columns, taken
from router.canned.store import CannedStore
from router.canned.types import CannedReply
from router.store.errors import ConflictError, IntegrityViolation, NotFound
from router.store.pg_engine import PgConn, PgConnections, rows_changed


async def _execute(conn: PgConn, sql: str, *args: object) -> int:
    return rows_changed(await conn.execute(sql, *args))


async def _get(conn: PgConn, reply_id: str) -> CannedReply:
    row = await conn.fetchrow("SELECT * FROM canned_replies WHERE id = $1", reply_id)
    if row is None:
        raise NotFound(f"canned reply {reply_id}")
    return canned_row(row)


async def _update(conn: PgConn, reply: CannedReply) -> CannedReply:
    row = await conn.fetchrow(
        "UPDATE canned_replies SET shortcut = $1, title = $2, text_ru = $3, text_en = $4, updated_at = $5"
        " WHERE id = $6 RETURNING *",
        reply.shortcut, reply.title, reply.texts.get("ru"), reply.texts.get("en"), reply.updated_at, reply.id,
    )
    if row is None:
        raise NotFound(f"canned reply {reply.id}")
    return canned_row(row)


async def _list(conn: PgConn, agent_id: str | None, teams: Sequence[str] | None) -> list[CannedReply]:
    if teams is None:
        rows = await conn.fetch("SELECT * FROM canned_replies WHERE agent_id = $1 OR team IS NOT NULL", agent_id)
    else:
        rows = await conn.fetch("SELECT * FROM canned_replies WHERE agent_id = $1 OR team = ANY($2::text[])",
                                agent_id, list(teams))
    return in_order([canned_row(r) for r in rows])


class PostgresCanned(CannedStore, PgConnections):
    async def create_canned(self, reply: CannedReply) -> CannedReply:
        team, agent_id = owner_columns(reply)
        try:
            await self._pg.write_statement(
                _execute,
                "INSERT INTO canned_replies (id, team, agent_id, shortcut, title, text_ru, text_en, created_by,"
                " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                reply.id, team, agent_id, reply.shortcut, reply.title, reply.texts.get("ru"), reply.texts.get("en"),
                reply.created_by, reply.created_at, reply.updated_at,
            )
        except IntegrityViolation as exc:
            raise ConflictError(taken(reply)) from exc
        return reply

    async def update_canned(self, reply: CannedReply) -> CannedReply:
        try:
            return await self._pg.write_statement(_update, reply)
        except IntegrityViolation as exc:
            raise ConflictError(taken(reply)) from exc

    async def delete_canned(self, reply_id: str) -> None:
        if not await self._pg.write_statement(_execute, "DELETE FROM canned_replies WHERE id = $1", reply_id):
            raise NotFound(f"canned reply {reply_id}")

    async def get_canned(self, reply_id: str) -> CannedReply:
        return await self._pg.read(_get, reply_id)

    async def list_canned(self, agent_id: str | None, teams: Sequence[str] | None) -> list[CannedReply]:
        return await self._pg.read(_list, agent_id, teams)
