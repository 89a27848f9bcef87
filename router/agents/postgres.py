"""Managing agents' SQL on PostgreSQL. Mixed into ``PostgresStore``, which
gives it the pool (``router.store.pg_engine``); storage and atomicity only,
each write holding the lock its method's docstring names
(``router.agents.store``) in the order of ``router.store.base``: an agent's
conversations, then agents' rows in id order. The rules are
``router.agents.service``'s; the units keep the names of ``router.agents.sqlite``'s."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg

from router.accounts.sqlite import agent_row
from router.agents.service import (
    MANAGING_ROLE,
    AgentsSettings,
    LastAdmin,
    RoutingProfile,
    StoredProfile,
    last_admin_refusal,
)
from router.agents.sqlite import settings_from, settings_rows
from router.agents.store import AgentAdminStore, Deactivation
from router.models import Agent, AgentPresence, Presence, Role, new_id
from router.store.errors import ConflictError, IntegrityViolation, NotFound
from router.store.pg_engine import PgConn, PgConnections, as_json, rows_changed
from router.store.pg_rows import conversation_view as _conv_view


async def _lock_agent_and_admins(conn: PgConn, agent_id: str) -> tuple[Agent, int]:
    """Every active admin's row and the agent's, ``FOR UPDATE`` in id order
    (so two such steps never wait for each other); the agent, and how many
    other active admins there are, counted under the lock."""
    rows = await conn.fetch(
        "SELECT * FROM agents WHERE (role = $1 AND active) OR id = $2 ORDER BY id FOR UPDATE",
        MANAGING_ROLE.value, agent_id,
    )
    agent = next((agent_row(r) for r in rows if r["id"] == agent_id), None)
    if agent is None:
        raise NotFound(f"agent {agent_id}")
    # a row locked after another step deactivated or demoted it is read again by FOR UPDATE, but
    # an admin whose row no longer matches is still returned when it is the agent: count by value
    others = sum(1 for r in rows if r["id"] != agent_id and r["role"] == MANAGING_ROLE.value and r["active"])
    return agent, others


async def _update(conn: PgConn, agent_id: str, display_name: str | None, role: Role | None) -> Agent:
    agent, others = await _lock_agent_and_admins(conn, agent_id)
    refusal = last_admin_refusal(agent.role, agent.active, others, new_role=role)
    if refusal is not None:
        raise LastAdmin(refusal)
    row = await conn.fetchrow(
        "UPDATE agents SET display_name = COALESCE($1, display_name), role = COALESCE($2, role) WHERE id = $3"
        " RETURNING *",
        display_name, role.value if role is not None else None, agent_id,
    )
    assert row is not None
    return agent_row(row)


def _presence(row: asyncpg.Record) -> AgentPresence:
    return AgentPresence(agent_id=row["agent_id"], presence=Presence(row["presence"]), changed_at=row["changed_at"],
                         idle_since=row["idle_since"])


async def _deactivate(conn: PgConn, agent_id: str, now: datetime) -> Deactivation:
    # the conversations first (the store's order: an offer locks its conversation, then its agent)
    await conn.execute(
        "SELECT id FROM conversations WHERE status = 'assigned' AND agent_id = $1 ORDER BY id FOR UPDATE", agent_id)
    agent, others = await _lock_agent_and_admins(conn, agent_id)
    row = None
    if agent.active:
        refusal = last_admin_refusal(agent.role, agent.active, others, deactivating=True)
        if refusal is not None:
            raise LastAdmin(refusal)
        row = await conn.fetchrow("UPDATE agents SET active = false, deactivated_at = $1 WHERE id = $2 RETURNING *",
                                  now, agent_id)
    # again for an inactive agent: what was given to them in flight still ends (idempotent)
    ended = rows_changed(await conn.execute("DELETE FROM sessions WHERE agent_id = $1", agent_id))
    presence = await conn.fetchrow(
        "UPDATE agent_presence SET presence = 'offline', changed_at = $1 WHERE agent_id = $2"
        " AND (presence <> 'offline' OR $3) RETURNING *", now, agent_id, agent.active)
    # read again under the agent's lock: one assigned to them since the first read (committed before
    # the lock was granted) goes back too; an offer waiting for the lock finds them inactive
    ids = sorted(r["id"] for r in await conn.fetch(
        "UPDATE conversations SET status = 'queued', agent_id = NULL, assigned_at = NULL, opened_at = NULL,"
        " updated_at = $1 WHERE status = 'assigned' AND agent_id = $2 RETURNING id",
        now, agent_id,
    ))
    return Deactivation(agent_row(row) if row is not None else agent, ended, [await _conv_view(conn, i) for i in ids],
                        _presence(presence) if presence is not None else None)


async def _create(conn: PgConn, agent: Agent, password_hash: str, profile: RoutingProfile | None, now: datetime,
                  by: str | None) -> None:
    await conn.execute(
        "INSERT INTO agents (id, username, display_name, role, password_hash, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        agent.id, agent.username, agent.display_name, agent.role.value, password_hash, agent.created_at,
    )
    if profile is not None:
        await _set_profile(conn, agent.id, profile, now, by)


async def _reactivate(conn: PgConn, agent_id: str) -> Agent:
    row = await conn.fetchrow("UPDATE agents SET active = true, deactivated_at = NULL WHERE id = $1 RETURNING *",
                              agent_id)
    if row is None:
        raise NotFound(f"agent {agent_id}")
    return agent_row(row)


def _profile(row: asyncpg.Record) -> StoredProfile:
    profile = RoutingProfile(teams=json.loads(row["teams"]), skills=json.loads(row["skills"]),
                             capacity=json.loads(row["capacity"]))
    return StoredProfile(agent_id=row["agent_id"], profile=profile, updated_at=row["updated_at"],
                         updated_by=row["updated_by"])


async def _profiles(conn: PgConn) -> dict[str, StoredProfile]:
    return {r["agent_id"]: _profile(r) for r in await conn.fetch("SELECT * FROM agent_routing")}


async def _set_profile(conn: PgConn, agent_id: str, profile: RoutingProfile, now: datetime, by: str | None) -> None:
    await conn.execute(
        "INSERT INTO agent_routing (agent_id, teams, skills, capacity, updated_at, updated_by)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (agent_id) DO UPDATE SET teams = excluded.teams,"
        " skills = excluded.skills, capacity = excluded.capacity, updated_at = excluded.updated_at,"
        " updated_by = excluded.updated_by",
        agent_id, as_json(profile.teams), as_json(profile.skills), as_json(profile.capacity), now, by,
    )


async def _execute(conn: PgConn, sql: str, *args: object) -> int:
    return rows_changed(await conn.execute(sql, *args))


async def _settings(conn: PgConn) -> AgentsSettings:
    return settings_from(list(await conn.fetch("SELECT key, value FROM agents_settings")))


async def _set_settings(conn: PgConn, keys: list[str], values: list[str], now: datetime, by: str | None) -> None:
    await conn.execute(
        "INSERT INTO agents_settings (key, value, updated_at, updated_by)"
        " SELECT k, v, $3, $4 FROM unnest($1::text[], $2::text[]) AS s(k, v)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,"
        " updated_by = excluded.updated_by",
        keys, values, now, by,
    )


class PostgresAgentAdmin(AgentAdminStore, PgConnections):
    """Managing agents over the pool of the store it is mixed into."""

    async def update_agent(self, agent_id: str, *, display_name: str | None = None, role: Role | None = None
                           ) -> Agent:
        return await self._pg.write(_update, agent_id, display_name, role)

    async def create_managed_agent(self, username: str, display_name: str, role: Role, password_hash: str,
                                   profile: RoutingProfile | None, now: datetime, by: str | None) -> Agent:
        agent = Agent(id=new_id("agt"), username=username, display_name=display_name, role=role, created_at=now)
        try:
            await self._pg.write(_create, agent, password_hash, profile, now, by)
        except IntegrityViolation as exc:
            raise ConflictError(f"username {username!r} is taken") from exc
        return agent

    async def deactivate_agent(self, agent_id: str, now: datetime) -> Deactivation:
        return await self._pg.write(_deactivate, agent_id, now)

    async def reactivate_agent(self, agent_id: str) -> Agent:
        return await self._pg.write(_reactivate, agent_id)

    async def agent_profiles(self) -> dict[str, StoredProfile]:
        return await self._pg.read(_profiles)

    async def set_agent_profile(self, agent_id: str, profile: RoutingProfile, now: datetime, by: str | None
                                ) -> StoredProfile:
        try:
            await self._pg.write(_set_profile, agent_id, profile, now, by)
        except IntegrityViolation as exc:
            raise NotFound(f"agent {agent_id}") from exc
        return StoredProfile(agent_id=agent_id, profile=profile, updated_at=now, updated_by=by)

    async def clear_agent_profile(self, agent_id: str) -> bool:
        return bool(await self._pg.write(_execute, "DELETE FROM agent_routing WHERE agent_id = $1", agent_id))

    async def agents_settings(self) -> AgentsSettings:
        return await self._pg.read(_settings)

    async def set_agents_settings(self, settings: AgentsSettings, now: datetime, by: str | None) -> AgentsSettings:
        rows = settings_rows(settings)
        await self._pg.write(_set_settings, [k for k, _ in rows], [v for _, v in rows], now, by)
        return settings
