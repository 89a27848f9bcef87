"""The surveys' SQL on SQLite, mixed into ``SQLiteStore`` (router.csat.store)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from router.csat.schema import AWAITING, COLUMNS, FROM
from router.csat.store import SurveyStore
from router.csat.types import Survey
from router.store.engine import Connections
from router.store.rows import RowLike, parse_ts, ts
from router.store.rows import fetch_all as _all
from router.store.rows import fetch_one as _one
from router.store.rows import from_ts as _ts


def survey_row(row: RowLike) -> Survey:
    """A survey from its row, a ``sqlite3.Row`` or an asyncpg ``Record`` (``router.csat.postgres``)."""
    return Survey(
        id=row["id"], conversation_id=row["conversation_id"], customer_id=row["customer_id"],
        agent_id=row["agent_id"], team=row["team"], channel=row["channel"], language=row["language"],
        asked_at=_ts(row["asked_at"]), question_message_id=row["question_message_id"], rating=row["rating"],
        answered_at=parse_ts(row["answered_at"]), comment=row["comment"], commented_at=parse_ts(row["commented_at"]),
        reasked=bool(row["reasked"]), closed_at=parse_ts(row["closed_at"]),
    )


def _read(conn: sqlite3.Connection, survey_id: str) -> Survey | None:
    row = _one(conn, f"SELECT {COLUMNS} FROM {FROM} WHERE s.id = ?", (survey_id,))
    return None if row is None else survey_row(row)


def _claim(conn: sqlite3.Connection, s: Survey) -> bool:
    return conn.execute(
        "INSERT INTO csat_surveys (id, conversation_id, customer_id, agent_id, team, channel, language, asked_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (conversation_id) DO NOTHING",
        (s.id, s.conversation_id, s.customer_id, s.agent_id, s.team, s.channel, s.language, ts(s.asked_at)),
    ).rowcount == 1


# the answering message joins the survey's conversation (it stays resolved), as its customer's, as
# attaching a message does, so the widget's history shows the customer their own rating and comment
PLACE = ("UPDATE messages SET (conversation_id, customer_id) = (SELECT c.id, c.customer_id FROM csat_surveys s"
         " JOIN conversations c ON c.id = s.conversation_id WHERE s.id = {survey})"
         " WHERE id = {message} AND (conversation_id IS NULL OR {move})")


def _place(conn: sqlite3.Connection, survey_id: str, message_id: str, move: bool = False) -> None:
    """The answering message joins the survey's conversation, if it is in none; a
    button's (``move``) even out of a newer one it was filed into as it was stored."""
    conn.execute(PLACE.format(survey="?", message="?", move="?"), (survey_id, message_id, move))


def _answer(conn: sqlite3.Connection, sql: str, params: tuple[object, ...], survey_id: str, message_id: str,
            place_always: bool = False) -> Survey | None:
    """``sql`` (a conditional UPDATE); the message placed when it won (or
    always: a rating button pressed twice is kept beside the first)."""
    won = conn.execute(sql, params).rowcount == 1
    if won or place_always:
        _place(conn, survey_id, message_id, move=place_always)
    return _read(conn, survey_id) if won else None


def _rate(conn: sqlite3.Connection, survey_id: str, rating: int, message_id: str, now: str) -> Survey | None:
    return _answer(conn, "UPDATE csat_surveys SET rating = ?, answered_at = ? WHERE id = ? AND rating IS NULL",
                   (rating, now, survey_id), survey_id, message_id, place_always=True)


def _comment(conn: sqlite3.Connection, survey_id: str, comment: str, message_id: str, now: str) -> Survey | None:
    return _answer(conn, "UPDATE csat_surveys SET comment = ?, commented_at = ? WHERE id = ?"
                         " AND rating IS NOT NULL AND comment IS NULL AND closed_at IS NULL",
                   (comment, now, survey_id), survey_id, message_id)


def _reask(conn: sqlite3.Connection, survey_id: str, message_id: str) -> Survey | None:
    return _answer(conn, "UPDATE csat_surveys SET reasked = 1 WHERE id = ? AND reasked = 0 AND rating IS NULL"
                         " AND closed_at IS NULL", (survey_id,), survey_id, message_id)


# an agent's reply to the customer since the cycle began (its reopening, if any): the bot's and the
# automatic messages (author 'bot') are not one, nor a note (not a message)
AGENT_ANSWERED = ("SELECT EXISTS (SELECT 1 FROM conversations c JOIN messages m ON m.conversation_id = c.id"
                  " WHERE c.id = {conversation} AND m.direction = 'out' AND m.author = 'agent'"
                  " AND (c.reopened_at IS NULL OR m.created_at >= c.reopened_at)) AS answered")


def _agent_answered(conn: sqlite3.Connection, conversation_id: str) -> bool:
    row = _one(conn, AGENT_ANSWERED.format(conversation="?"), (conversation_id,))
    return row is not None and bool(row["answered"])


def _update(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> None:
    conn.execute(sql, params)


class SQLiteSurveys(SurveyStore, Connections):
    """Surveys over the connections of the store it is mixed into."""

    async def claim_survey(self, survey: Survey) -> bool:
        return await self._w.call(_claim, survey)

    async def agent_answered(self, conversation_id: str) -> bool:
        return await self._r.call(_agent_answered, conversation_id)

    async def survey_asked(self, survey_id: str, message_id: str) -> None:
        await self._w.call(_update, "UPDATE csat_surveys SET question_message_id = ? WHERE id = ?",
                           (message_id, survey_id))

    async def get_survey(self, survey_id: str) -> Survey | None:
        return await self._r.call(_read, survey_id)

    async def conversation_survey(self, conversation_id: str) -> Survey | None:
        row = await self._r.call(_one, f"SELECT {COLUMNS} FROM {FROM} WHERE s.conversation_id = ?",
                                 (conversation_id,))
        return None if row is None else survey_row(row)

    async def awaiting_survey(self, customer_id: str) -> Survey | None:
        row = await self._r.call(
            _one, f"SELECT {COLUMNS} FROM {FROM} WHERE c.customer_id = ? AND {AWAITING}"
                  " ORDER BY s.asked_at DESC, s.id DESC LIMIT 1", (customer_id,))
        return None if row is None else survey_row(row)

    async def rate_survey(self, survey_id: str, rating: int, message_id: str, now: datetime) -> Survey | None:
        return await self._w.call(_rate, survey_id, rating, message_id, ts(now))

    async def comment_survey(self, survey_id: str, comment: str, message_id: str, now: datetime) -> Survey | None:
        return await self._w.call(_comment, survey_id, comment, message_id, ts(now))

    async def reask_survey(self, survey_id: str, message_id: str) -> Survey | None:
        return await self._w.call(_reask, survey_id, message_id)

    async def close_survey(self, survey_id: str, now: datetime) -> None:
        await self._w.call(_update, "UPDATE csat_surveys SET closed_at = ? WHERE id = ? AND closed_at IS NULL",
                           (ts(now), survey_id))

    async def customer_surveys(self, customer_id: str, limit: int) -> list[Survey]:
        rows = await self._r.call(_all, f"SELECT {COLUMNS} FROM {FROM} WHERE c.customer_id = ?"
                                        " ORDER BY s.asked_at DESC, s.id DESC LIMIT ?", (customer_id, limit))
        return [survey_row(r) for r in rows]

    async def list_surveys(self, since: datetime, until: datetime, after_id: str | None, limit: int
                           ) -> list[Survey]:
        after = ""
        params: tuple[object, ...] = (ts(since), ts(until))
        if after_id is not None:
            after = (" AND (s.asked_at, s.id) > (SELECT asked_at, id FROM csat_surveys WHERE id = ?)")
            params += (after_id,)
        rows = await self._r.call(_all, f"SELECT {COLUMNS} FROM {FROM} WHERE s.asked_at >= ? AND s.asked_at < ?"
                                        f"{after} ORDER BY s.asked_at, s.id LIMIT ?", (*params, limit))
        return [survey_row(r) for r in rows]
