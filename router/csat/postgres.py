"""The surveys' SQL on PostgreSQL, mixed into ``PostgresStore`` (router.csat.store).
Each answer is one transaction: the conditional UPDATE (PostgreSQL checks its
WHERE again on a row another transaction changed meanwhile, so two answers at
once record one) and the answering message's place."""

from __future__ import annotations

from datetime import datetime

from router.csat.schema import AWAITING, COLUMNS, FROM
from router.csat.sqlite import AGENT_ANSWERED, PLACE, survey_row
from router.csat.store import SurveyStore
from router.csat.types import Survey
from router.store.pg_engine import PgConn, PgConnections, rows_changed


async def _read(conn: PgConn, survey_id: str) -> Survey | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM {FROM} WHERE s.id = $1", survey_id)
    return None if row is None else survey_row(row)


async def _one(conn: PgConn, where: str, *args: object) -> Survey | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM {FROM} WHERE {where}", *args)
    return None if row is None else survey_row(row)


async def _many(conn: PgConn, where: str, *args: object) -> list[Survey]:
    return [survey_row(r) for r in await conn.fetch(f"SELECT {COLUMNS} FROM {FROM} WHERE {where}", *args)]


async def _claim(conn: PgConn, s: Survey) -> bool:
    status = await conn.execute(
        "INSERT INTO csat_surveys (id, conversation_id, customer_id, agent_id, team, channel, language, asked_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (conversation_id) DO NOTHING",
        s.id, s.conversation_id, s.customer_id, s.agent_id, s.team, s.channel, s.language, s.asked_at,
    )
    return rows_changed(status) == 1


async def _agent_answered(conn: PgConn, conversation_id: str) -> bool:
    return bool(await conn.fetchval(AGENT_ANSWERED.format(conversation="$1"), conversation_id))


async def _execute(conn: PgConn, sql: str, *args: object) -> None:
    await conn.execute(sql, *args)


async def _answer(conn: PgConn, sql: str, args: tuple[object, ...], survey_id: str, message_id: str,
                  place_always: bool = False) -> Survey | None:
    won = rows_changed(await conn.execute(sql, *args)) == 1
    if not (won or place_always):
        return None
    await conn.execute(PLACE.format(survey="$1", message="$2", move="$3"), survey_id, message_id, place_always)
    return await _read(conn, survey_id) if won else None


class PostgresSurveys(SurveyStore, PgConnections):
    """Surveys over the pool of the store it is mixed into."""

    async def claim_survey(self, survey: Survey) -> bool:
        return await self._pg.write_statement(_claim, survey)

    async def agent_answered(self, conversation_id: str) -> bool:
        return await self._pg.read(_agent_answered, conversation_id)

    async def survey_asked(self, survey_id: str, message_id: str) -> None:
        await self._pg.write_statement(_execute, "UPDATE csat_surveys SET question_message_id = $1 WHERE id = $2",
                             message_id, survey_id)

    async def get_survey(self, survey_id: str) -> Survey | None:
        return await self._pg.read(_read, survey_id)

    async def conversation_survey(self, conversation_id: str) -> Survey | None:
        return await self._pg.read(_one, "s.conversation_id = $1", conversation_id)

    async def awaiting_survey(self, customer_id: str) -> Survey | None:
        return await self._pg.read(_one, f"c.customer_id = $1 AND {AWAITING} ORDER BY s.asked_at DESC, s.id DESC"
                                         " LIMIT 1", customer_id)

    async def rate_survey(self, survey_id: str, rating: int, message_id: str, now: datetime) -> Survey | None:
        return await self._pg.write(
            _answer, "UPDATE csat_surveys SET rating = $1, answered_at = $2 WHERE id = $3 AND rating IS NULL",
            (rating, now, survey_id), survey_id, message_id, place_always=True)

    async def comment_survey(self, survey_id: str, comment: str, message_id: str, now: datetime) -> Survey | None:
        return await self._pg.write(
            _answer, "UPDATE csat_surveys SET comment = $1, commented_at = $2 WHERE id = $3"
                     " AND rating IS NOT NULL AND comment IS NULL AND closed_at IS NULL",
            (comment, now, survey_id), survey_id, message_id)

    async def reask_survey(self, survey_id: str, message_id: str) -> Survey | None:
        return await self._pg.write(
            _answer, "UPDATE csat_surveys SET reasked = true WHERE id = $1 AND NOT reasked AND rating IS NULL"
                     " AND closed_at IS NULL", (survey_id,), survey_id, message_id)

    async def close_survey(self, survey_id: str, now: datetime) -> None:
        await self._pg.write_statement(
            _execute, "UPDATE csat_surveys SET closed_at = $1 WHERE id = $2 AND closed_at IS NULL", now, survey_id)

    async def customer_surveys(self, customer_id: str, limit: int) -> list[Survey]:
        return await self._pg.read(_many, "c.customer_id = $1 ORDER BY s.asked_at DESC, s.id DESC LIMIT $2",
                                   customer_id, limit)

    async def list_surveys(self, since: datetime, until: datetime, after_id: str | None, limit: int
                           ) -> list[Survey]:
        if after_id is None:
            return await self._pg.read(_many, "s.asked_at >= $1 AND s.asked_at < $2 ORDER BY s.asked_at, s.id"
                                              " LIMIT $3", since, until, limit)
        return await self._pg.read(
            _many, "s.asked_at >= $1 AND s.asked_at < $2 AND (s.asked_at, s.id) >"
                   " (SELECT asked_at, id FROM csat_surveys WHERE id = $3) ORDER BY s.asked_at, s.id LIMIT $4",
            since, until, after_id, limit)
