"""The accounts slice's SQL on PostgreSQL: agents and console sessions. Mixed into
``PostgresStore``, which gives it the pool (``router.store.pg_engine``); storage and
atomicity only, the rules are in ``router.accounts.service``. Every write is a single
statement (but ``replace_password`` and ``end_session``: a few, in one transaction), as its method's
docstring says (``router.accounts.store``): the schema's keys are the checks,
and a broken one is the store's ``IntegrityViolation``, a ``ConflictError``."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from router.accounts.sqlite import agent_row
from router.accounts.store import AccountStore, SessionEnd
from router.models import Agent, Role, new_id
from router.store.errors import ConflictError, IntegrityViolation, NotFound
from router.store.pg_engine import PgConn, PgConnections, rows_changed


async def _execute(conn: PgConn, sql: str, *args: object) -> int:
    """One statement; the number of rows it changed."""
    return rows_changed(await conn.execute(sql, *args))


async def _credentials(conn: PgConn, username: str) -> tuple[Agent, str] | None:
    row = await conn.fetchrow("SELECT * FROM agents WHERE username = $1", username)
    return None if row is None else (agent_row(row), row["password_hash"])


async def _agent(conn: PgConn, agent_id: str) -> Agent:
    row = await conn.fetchrow("SELECT * FROM agents WHERE id = $1", agent_id)
    if row is None:
        raise NotFound(f"agent {agent_id}")
    return agent_row(row)


async def _agents(conn: PgConn) -> list[Agent]:
    return [agent_row(r) for r in await conn.fetch("SELECT * FROM agents ORDER BY username")]


async def _session_agent(conn: PgConn, token_hash: str, now: datetime) -> Agent | None:
    row = await conn.fetchrow(
        "SELECT a.* FROM sessions s JOIN agents a ON a.id = s.agent_id WHERE s.token_hash = $1 AND s.expires_at > $2"
        " AND a.active",
        token_hash, now,
    )
    return None if row is None else agent_row(row)


async def _replace_password(conn: PgConn, agent_id: str, password_hash: str, keep: str | None) -> int:
    if not rows_changed(await conn.execute("UPDATE agents SET password_hash = $1 WHERE id = $2",
                                           password_hash, agent_id)):
        raise NotFound(f"agent {agent_id}")
    return rows_changed(await conn.execute(
        "DELETE FROM sessions WHERE agent_id = $1 AND token_hash IS DISTINCT FROM $2", agent_id, keep))


async def _end_session(conn: PgConn, token_hash: str, now: datetime) -> SessionEnd | None:
    agent_id = await conn.fetchval("SELECT agent_id FROM sessions WHERE token_hash = $1", token_hash)
    if agent_id is None:
        return None
    # the agent's row, so another end of one of their sessions counts after this one commits
    await conn.execute("SELECT 1 FROM agents WHERE id = $1 FOR UPDATE", agent_id)
    if not rows_changed(await conn.execute("DELETE FROM sessions WHERE token_hash = $1", token_hash)):
        return None  # ended by another call while this one waited: that one tells
    # a statement after the lock was granted: it sees the sessions ended or opened before it
    left = await conn.fetchval("SELECT COUNT(*) FROM sessions WHERE agent_id = $1 AND expires_at > $2",
                               agent_id, now)
    return SessionEnd(agent_id, int(left))


class PostgresAccounts(AccountStore, PgConnections):
    """Agents and sessions over the pool of the store it is mixed into."""

    async def create_agent(self, username: str, display_name: str, role: Role, password_hash: str) -> Agent:
        agent = Agent(
            id=new_id("agt"), username=username, display_name=display_name, role=role, created_at=datetime.now(UTC)
        )
        try:
            await self._pg.write(
                _execute,
                "INSERT INTO agents (id, username, display_name, role, password_hash, created_at)"
                " VALUES ($1, $2, $3, $4, $5, $6)",
                agent.id, username, display_name, role.value, password_hash, agent.created_at,
            )
        except IntegrityViolation as exc:
            raise ConflictError(f"username {username!r} is taken") from exc
        return agent

    async def agent_credentials(self, username: str) -> tuple[Agent, str] | None:
        return await self._pg.read(_credentials, username)

    async def set_password_hash(self, agent_id: str, password_hash: str) -> None:
        await self._pg.write(_execute, "UPDATE agents SET password_hash = $1 WHERE id = $2", password_hash, agent_id)

    async def set_agent_language(self, agent_id: str, language: str | None) -> None:
        changed = await self._pg.write(_execute, "UPDATE agents SET language = $1 WHERE id = $2", language, agent_id)
        if not changed:
            raise NotFound(f"agent {agent_id}")

    async def get_agent(self, agent_id: str) -> Agent:
        return await self._pg.read(_agent, agent_id)

    async def list_agents(self) -> list[Agent]:
        return await self._pg.read(_agents)

    async def create_session(self, token_hash: str, agent_id: str, expires_at: datetime,
                             seen_at: datetime | None = None) -> None:
        await self._pg.write(
            _execute, "INSERT INTO sessions (token_hash, agent_id, expires_at, seen_at) VALUES ($1, $2, $3, $4)",
            token_hash, agent_id, expires_at, seen_at or datetime.now(UTC),
        )

    async def seen_sessions(self, token_hashes: Collection[str], now: datetime) -> None:
        if token_hashes:
            await self._pg.write(
                _execute, "UPDATE sessions SET seen_at = $2 WHERE token_hash = ANY($1::text[]) AND seen_at < $2",
                sorted(token_hashes), now,
            )

    async def session_agent(self, token_hash: str, now: datetime) -> Agent | None:
        return await self._pg.read(_session_agent, token_hash, now)

    async def end_session(self, token_hash: str, now: datetime) -> SessionEnd | None:
        return await self._pg.write(_end_session, token_hash, now)

    async def delete_agent_sessions(self, agent_id: str) -> int:
        return await self._pg.write(_execute, "DELETE FROM sessions WHERE agent_id = $1", agent_id)

    async def replace_password(self, agent_id: str, password_hash: str, keep_session: str | None = None) -> int:
        return await self._pg.write(_replace_password, agent_id, password_hash, keep_session)
