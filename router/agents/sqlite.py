"""Managing agents' SQL on SQLite. Mixed into ``SQLiteStore``, which gives it
the writer and reader connections; storage and atomicity only (SQLite's one
writer runs each step alone), the rules are ``router.agents.service``'s."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from router.accounts.sqlite import agent_row
from router.agents.service import (
    MANAGING_ROLE,
    AgentsSettings,
    LastAdmin,
    RoutingProfile,
    StoredProfile,
    last_admin_refusal,
)
from router.agents.store import AgentAdminStore, Deactivation
from router.models import Agent, AgentPresence, Presence, Role, new_id
from router.store.engine import Connections
from router.store.errors import ConflictError, IntegrityViolation, NotFound
from router.store.rows import RowLike, ts
from router.store.rows import conversation_view as _conv_view
from router.store.rows import execute as _execute
from router.store.rows import fetch_all as _all
from router.store.rows import fetch_one as _one
from router.store.rows import from_ts as _ts


def _agent(conn: sqlite3.Connection, agent_id: str) -> Agent:
    row = _one(conn, "SELECT * FROM agents WHERE id = ?", (agent_id,))
    if row is None:
        raise NotFound(f"agent {agent_id}")
    return agent_row(row)


def _other_admins(conn: sqlite3.Connection, agent_id: str) -> int:
    row = _one(conn, "SELECT COUNT(*) FROM agents WHERE role = ? AND active AND id != ?",
               (MANAGING_ROLE.value, agent_id))
    return int(row[0]) if row is not None else 0


def _update(conn: sqlite3.Connection, agent_id: str, display_name: str | None, role: Role | None) -> Agent:
    agent = _agent(conn, agent_id)
    refusal = last_admin_refusal(agent.role, agent.active, _other_admins(conn, agent_id), new_role=role)
    if refusal is not None:
        raise LastAdmin(refusal)
    conn.execute(
        "UPDATE agents SET display_name = COALESCE(?, display_name), role = COALESCE(?, role) WHERE id = ?",
        (display_name, role.value if role is not None else None, agent_id),
    )
    return _agent(conn, agent_id)


def _presence(row: RowLike) -> AgentPresence:
    return AgentPresence(agent_id=row["agent_id"], presence=Presence(row["presence"]),
                         changed_at=_ts(row["changed_at"]), idle_since=_ts(row["idle_since"]))


def _deactivate(conn: sqlite3.Connection, agent_id: str, now: str) -> Deactivation:
    agent = _agent(conn, agent_id)
    if agent.active:
        refusal = last_admin_refusal(agent.role, agent.active, _other_admins(conn, agent_id), deactivating=True)
        if refusal is not None:
            raise LastAdmin(refusal)
        conn.execute("UPDATE agents SET active = 0, deactivated_at = ? WHERE id = ?", (now, agent_id))
    # again for an inactive agent: what was given to them in flight still ends (idempotent)
    ended = conn.execute("DELETE FROM sessions WHERE agent_id = ?", (agent_id,)).rowcount
    changed = conn.execute("UPDATE agent_presence SET presence = 'offline', changed_at = ? WHERE agent_id = ?"
                           " AND (presence != 'offline' OR ?)", (now, agent_id, agent.active)).rowcount
    presence = _one(conn, "SELECT * FROM agent_presence WHERE agent_id = ?", (agent_id,)) if changed else None
    ids = [r["id"] for r in _all(conn, "SELECT id FROM conversations WHERE status = 'assigned' AND agent_id = ?"
                                       " ORDER BY id", (agent_id,))]
    conn.execute(
        "UPDATE conversations SET status = 'queued', agent_id = NULL, assigned_at = NULL, opened_at = NULL,"
        " updated_at = ? WHERE status = 'assigned' AND agent_id = ?",
        (now, agent_id),
    )
    return Deactivation(_agent(conn, agent_id), int(ended), [_conv_view(conn, i) for i in ids],
                        _presence(presence) if presence is not None else None)


def _create(conn: sqlite3.Connection, agent: Agent, password_hash: str, profile: RoutingProfile | None, now: str,
            by: str | None) -> None:
    conn.execute(
        "INSERT INTO agents (id, username, display_name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (agent.id, agent.username, agent.display_name, agent.role.value, password_hash, ts(agent.created_at)),
    )
    if profile is not None:
        _set_profile(conn, agent.id, profile, now, by)


def _set_profile(conn: sqlite3.Connection, agent_id: str, profile: RoutingProfile, now: str, by: str | None) -> None:
    conn.execute(
        "INSERT INTO agent_routing (agent_id, teams, skills, capacity, updated_at, updated_by)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (agent_id) DO UPDATE SET teams = excluded.teams,"
        " skills = excluded.skills, capacity = excluded.capacity, updated_at = excluded.updated_at,"
        " updated_by = excluded.updated_by",
        (agent_id, json.dumps(profile.teams), json.dumps(profile.skills), json.dumps(profile.capacity), now, by),
    )


def _profile(row: RowLike) -> StoredProfile:
    profile = RoutingProfile(teams=json.loads(row["teams"]), skills=json.loads(row["skills"]),
                             capacity=json.loads(row["capacity"]))
    return StoredProfile(agent_id=row["agent_id"], profile=profile, updated_at=_ts(row["updated_at"]),
                         updated_by=row["updated_by"])


def _set_settings(conn: sqlite3.Connection, values: list[tuple[str, str, str, str | None]]) -> None:
    conn.executemany(
        "INSERT INTO agents_settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,"
        " updated_by = excluded.updated_by",
        values,
    )


def settings_from(rows: list[Any]) -> AgentsSettings:
    """The settings from their ``(key, value)`` rows; a key this version does not know is left out."""
    known = AgentsSettings.model_fields
    return AgentsSettings.model_validate({r["key"]: json.loads(r["value"]) for r in rows if r["key"] in known})


def settings_rows(settings: AgentsSettings) -> list[tuple[str, str]]:
    return [(key, json.dumps(value)) for key, value in settings.model_dump(mode="json").items()]


class SQLiteAgentAdmin(AgentAdminStore, Connections):
    """Managing agents over the connections of the store it is mixed into."""

    async def update_agent(self, agent_id: str, *, display_name: str | None = None, role: Role | None = None
                           ) -> Agent:
        return await self._w.call(_update, agent_id, display_name, role)

    async def create_managed_agent(self, username: str, display_name: str, role: Role, password_hash: str,
                                   profile: RoutingProfile | None, now: datetime, by: str | None) -> Agent:
        agent = Agent(id=new_id("agt"), username=username, display_name=display_name, role=role, created_at=now)
        try:
            await self._w.call(_create, agent, password_hash, profile, ts(now), by)
        except IntegrityViolation as exc:
            raise ConflictError(f"username {username!r} is taken") from exc
        return agent

    async def deactivate_agent(self, agent_id: str, now: datetime) -> Deactivation:
        return await self._w.call(_deactivate, agent_id, ts(now))

    async def reactivate_agent(self, agent_id: str) -> Agent:
        changed = await self._w.call(_execute, "UPDATE agents SET active = 1, deactivated_at = NULL WHERE id = ?",
                                     (agent_id,))
        if not changed:
            raise NotFound(f"agent {agent_id}")
        return await self._r.call(_agent, agent_id)

    async def agent_profiles(self) -> dict[str, StoredProfile]:
        rows = await self._r.call(_all, "SELECT * FROM agent_routing")
        return {r["agent_id"]: _profile(r) for r in rows}

    async def set_agent_profile(self, agent_id: str, profile: RoutingProfile, now: datetime, by: str | None
                                ) -> StoredProfile:
        stored = StoredProfile(agent_id=agent_id, profile=profile, updated_at=now, updated_by=by)
        try:
            await self._w.call(_set_profile, agent_id, profile, ts(now), by)
        except IntegrityViolation as exc:
            raise NotFound(f"agent {agent_id}") from exc
        return stored

    async def clear_agent_profile(self, agent_id: str) -> bool:
        return bool(await self._w.call(_execute, "DELETE FROM agent_routing WHERE agent_id = ?", (agent_id,)))

    async def agents_settings(self) -> AgentsSettings:
        return settings_from(await self._r.call(_all, "SELECT key, value FROM agents_settings"))

    async def set_agents_settings(self, settings: AgentsSettings, now: datetime, by: str | None) -> AgentsSettings:
        await self._w.call(_set_settings, [(k, v, ts(now), by) for k, v in settings_rows(settings)])
        return settings

