"""The accounts' SQL on SQLite: agents and console sessions. Mixed into
``SQLiteStore``, which gives it the writer and reader connections; storage and
atomicity only, the rules are in ``router.accounts.service``."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from datetime import UTC, datetime

from router.accounts.store import AccountStore, SessionEnd
from router.models import Agent, Role, new_id
from router.store.engine import Connections
from router.store.errors import ConflictError, IntegrityViolation, NotFound
from router.store.rows import RowLike, ts
from router.store.rows import execute as _execute
from router.store.rows import fetch_all as _all
from router.store.rows import fetch_one as _one
from router.store.rows import from_ts as _ts


def agent_row(row: RowLike) -> Agent:
    """An agent from its row, a ``sqlite3.Row`` or an asyncpg ``Record`` (``router.accounts.postgres``)."""
    return Agent(
        id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        role=Role(row["role"]),
        created_at=_ts(row["created_at"]),
        language=row["language"],
        active=bool(row["active"]),
    )


def _replace_password(conn: sqlite3.Connection, agent_id: str, password_hash: str, keep: str | None) -> int:
    if not conn.execute("UPDATE agents SET password_hash = ? WHERE id = ?", (password_hash, agent_id)).rowcount:
        raise NotFound(f"agent {agent_id}")
    return int(conn.execute("DELETE FROM sessions WHERE agent_id = ? AND token_hash IS NOT ?",
                            (agent_id, keep)).rowcount)


def _end_session(conn: sqlite3.Connection, token_hash: str, now: str) -> SessionEnd | None:
    # one writer call: no other session of the agent is created or ended between the DELETE and the count
    row = _one(conn, "SELECT agent_id FROM sessions WHERE token_hash = ?", (token_hash,))
    if row is None:
        return None
    conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
    left = _one(conn, "SELECT COUNT(*) FROM sessions WHERE agent_id = ? AND expires_at > ?", (row["agent_id"], now))
    return SessionEnd(row["agent_id"], int(left[0]) if left is not None else 0)


class SQLiteAccounts(AccountStore, Connections):
    """Agents and sessions over the connections of the store it is mixed into."""

    async def create_agent(self, username: str, display_name: str, role: Role, password_hash: str) -> Agent:
        agent = Agent(
            id=new_id("agt"), username=username, display_name=display_name, role=role, created_at=datetime.now(UTC)
        )
        try:
            await self._w.call(
                _execute,
                "INSERT INTO agents (id, username, display_name, role, password_hash, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (agent.id, username, display_name, role.value, password_hash, ts(agent.created_at)),
            )
        except IntegrityViolation as exc:
            raise ConflictError(f"username {username!r} is taken") from exc
        return agent

    async def agent_credentials(self, username: str) -> tuple[Agent, str] | None:
        row = await self._r.call(_one, "SELECT * FROM agents WHERE username = ?", (username,))
        return None if row is None else (agent_row(row), row["password_hash"])

    async def set_password_hash(self, agent_id: str, password_hash: str) -> None:
        await self._w.call(_execute, "UPDATE agents SET password_hash = ? WHERE id = ?", (password_hash, agent_id))

    async def set_agent_language(self, agent_id: str, language: str | None) -> None:
        changed = await self._w.call(_execute, "UPDATE agents SET language = ? WHERE id = ?", (language, agent_id))
        if not changed:
            raise NotFound(f"agent {agent_id}")

    async def get_agent(self, agent_id: str) -> Agent:
        row = await self._r.call(_one, "SELECT * FROM agents WHERE id = ?", (agent_id,))
        if row is None:
            raise NotFound(f"agent {agent_id}")
        return agent_row(row)

    async def list_agents(self) -> list[Agent]:
        return [agent_row(r) for r in await self._r.call(_all, "SELECT * FROM agents ORDER BY username")]

    async def create_session(self, token_hash: str, agent_id: str, expires_at: datetime,
                             seen_at: datetime | None = None) -> None:
        await self._w.call(
            _execute,
            "INSERT INTO sessions (token_hash, agent_id, expires_at, seen_at) VALUES (?, ?, ?, ?)",
            (token_hash, agent_id, ts(expires_at), ts(seen_at or datetime.now(UTC))),
        )

    async def seen_sessions(self, token_hashes: Collection[str], now: datetime) -> None:
        if token_hashes:
            hashes = sorted(token_hashes)
            await self._w.call(
                _execute,
                f"UPDATE sessions SET seen_at = ? WHERE token_hash IN ({', '.join('?' * len(hashes))})"
                " AND (seen_at IS NULL OR seen_at < ?)",
                (ts(now), *hashes, ts(now)),
            )

    async def session_agent(self, token_hash: str, now: datetime) -> Agent | None:
        row = await self._r.call(
            _one,
            "SELECT a.* FROM sessions s JOIN agents a ON a.id = s.agent_id"
            " WHERE s.token_hash = ? AND s.expires_at > ? AND a.active",
            (token_hash, ts(now)),
        )
        return None if row is None else agent_row(row)

    async def end_session(self, token_hash: str, now: datetime) -> SessionEnd | None:
        return await self._w.call(_end_session, token_hash, ts(now))

    async def delete_agent_sessions(self, agent_id: str) -> int:
        return int(await self._w.call(_execute, "DELETE FROM sessions WHERE agent_id = ?", (agent_id,)))

    async def replace_password(self, agent_id: str, password_hash: str, keep_session: str | None = None) -> int:
        return await self._w.call(_replace_password, agent_id, password_hash, keep_session)
