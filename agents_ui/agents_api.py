"""Console API of managing agents (admins; supervisors see the roster): the
roster, adding an agent, renaming, roles, deactivating and reactivating, new passwords, the teams,
skills and capacity set in the console, and how agents come online at
sign-in. The rules are ``router.agents``'; every check is made here on the
server, whatever the console shows."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Protocol

from aiohttp import web
from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from agents_ui import live
from agents_ui.attendance import SEEN_EVERY, mark_seen
from agents_ui.endpoints import ApiError, current_agent, endpoint
from agents_ui.schemas import Body
from agents_ui.sessions import request_token_hash
from router import events
from router.accounts.store import AccountStore
from router.agents.admin import AgentAdmin, UnknownKinds, UnknownNames
from router.agents.profiles import Source, routing_of
from router.agents.service import (
    AgentChangeRefused,
    AgentsSettings,
    Permission,
    RoutingProfile,
    WeakPassword,
)
from router.agents.store import AgentAdminStore
from router.aio import cancel_and_wait
from router.appkeys import ASSIGNER, BUS, STORE
from router.controls import no_control_characters
from router.models import Agent, Presence, Role, utcnow
from router.routing.store import AssignmentStore
from router.store.errors import ConflictError, StoreError

log = logging.getLogger(__name__)

CLOSE_REASON = b"session ended"


class AgentsApiStore(AccountStore, AgentAdminStore, AssignmentStore, Protocol):
    """What these handlers use of the store: accounts, their management, and
    presence and loads for the roster."""


def _store(app: web.Application) -> AgentsApiStore:
    return app[STORE]


def _admin(app: web.Application) -> AgentAdmin:
    return AgentAdmin(_store(app), app[BUS], app[ASSIGNER].clock)


def _refused(exc: AgentChangeRefused) -> ApiError:
    return ApiError(409, exc.code, str(exc))


# -- the roster -------------------------------------------------------------------------

Username = Annotated[str, Field(pattern=r"^[a-z0-9._-]{1,64}$", description="1-64 of a-z 0-9 . _ -")]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128),
                        AfterValidator(no_control_characters)]
Password = Annotated[str, Field(min_length=8, max_length=1024)]


class RoutingOut(BaseModel):
    """An agent's teams, skills and capacity as assignment uses them, and their source:
    ``console`` (set by an admin, over teams.yaml), ``file`` (teams.yaml) or ``none``
    (in no team: offered nothing)."""

    source: Source
    teams: list[str]
    skills: dict[str, int]
    capacity: dict[str, int]
    # what the console profile names that teams.yaml no longer has (ignored meanwhile)
    stale_teams: list[str] = []
    stale_skills: list[str] = []
    # the teams.yaml entry a console profile stands in for, if the file has one
    file_teams: list[str] | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None


class RosterRow(BaseModel):
    agent: Agent
    presence: Presence
    routing: RoutingOut
    # conversations assigned now, per channel kind
    load: dict[str, int]


class RosterOut(BaseModel):
    agents: list[RosterRow]
    # what a profile may name: teams.yaml's teams, skills and channel kinds
    teams: list[str]
    skills: list[str]
    channel_kinds: list[str]
    # the roles an account may be given
    roles: list[Role]
    settings: AgentsSettings


@endpoint("GET", "/api/agents/roster", "Every account with its presence, teams, skills, capacity and load (the "
          "roles granted view_roster: admins, supervisors)", response=RosterOut, permission=Permission.VIEW_ROSTER)
async def roster(request: web.Request, _: None) -> RosterOut:
    store = _store(request.app)
    teams = request.app[ASSIGNER].teams
    agents, presence, loads, profiles = await asyncio.gather(
        store.list_agents(), store.list_presence(), store.agent_loads(), store.agent_profiles())
    states = {p.agent_id: p.presence for p in presence}
    rows = []
    for agent in agents:
        stored = profiles.get(agent.id)
        effective = routing_of(agent, teams, stored)
        config = effective.config
        entry = next((a for a in teams.agents if a.username.lower() == agent.username.lower()), None)
        routing = RoutingOut(
            source=effective.source, teams=config.teams if config else [], skills=config.skills if config else {},
            capacity=config.capacity if config else {}, stale_teams=list(effective.stale_teams),
            stale_skills=list(effective.stale_skills),
            file_teams=entry.teams if entry is not None and stored is not None else None,
            updated_at=stored.updated_at if stored else None, updated_by=stored.updated_by if stored else None,
        )
        rows.append(RosterRow(agent=agent, presence=states.get(agent.id, Presence.OFFLINE), routing=routing,
                              load=loads.get(agent.id, {})))
    return RosterOut(agents=rows, teams=list(teams.teams), skills=list(teams.skills), channel_kinds=teams.kinds(),
                     roles=list(Role), settings=await store.agents_settings())


# -- adding and changing an account --------------------------------------------------------


class NewAgentBody(Body):
    username: Username
    display_name: DisplayName
    # none: a password is generated and shown once in the answer
    password: Password | None = None
    role: Role = Role.AGENT
    # the agent's teams, skills and capacity (as PUT /api/agents/{id}/routing); none: teams.yaml's entry, if any
    routing: RoutingProfile | None = None


class CreatedOut(BaseModel):
    agent: Agent
    # the generated password, shown this once (null when the admin gave one)
    password: str | None = None


def _weak(exc: WeakPassword) -> ApiError:
    return ApiError(422, "weak_password", str(exc), details={"reason": str(exc)})


def _unknown(exc: UnknownNames | UnknownKinds) -> ApiError:
    if isinstance(exc, UnknownKinds):
        return ApiError(422, "unknown_channel_kinds", str(exc),
                        details={"kinds": ", ".join(exc.kinds), "known": ", ".join(exc.known)})
    return ApiError(422, "unknown_names", str(exc), details={"teams": exc.teams, "skills": exc.skills})


@endpoint("POST", "/api/agents", "Create an agent account (admins); without a password one is generated and "
          "returned once", body=NewAgentBody, response=CreatedOut, status=201, permission=Permission.MANAGE_AGENTS,
          errors=((409, "code username_taken: the username is taken"),
                  (422, "code weak_password, unknown_names (teams or skills teams.yaml lacks), "
                        "unknown_channel_kinds (a capacity no channel uses), or invalid")))
async def create_agent(request: web.Request, body: NewAgentBody) -> CreatedOut:
    me = current_agent(request)
    try:
        agent, made = await _admin(request.app).create(
            me, body.username, body.display_name, body.role, body.password, body.routing,
            request.app[ASSIGNER].teams)
    except WeakPassword as exc:
        raise _weak(exc) from None
    except (UnknownNames, UnknownKinds) as exc:
        raise _unknown(exc) from None
    except ConflictError:
        raise ApiError(409, "username_taken", f"the username {body.username!r} is taken",
                       details={"username": body.username}) from None
    return CreatedOut(agent=agent, password=made)


class AgentChangeBody(Body):
    display_name: DisplayName | None = None
    role: Role | None = None


class AgentOut(BaseModel):
    agent: Agent


@endpoint("PATCH", "/api/agents/{id}", "Rename an agent or change their role (admins)", body=AgentChangeBody,
          response=AgentOut, permission=Permission.MANAGE_AGENTS,
          errors=((409, "code last_admin: the last active admin must stay an admin"),))
async def change_agent(request: web.Request, body: AgentChangeBody) -> AgentOut:
    me = current_agent(request)
    try:
        agent = await _admin(request.app).update(me, request.match_info["id"], body.display_name, body.role)
    except AgentChangeRefused as exc:
        raise _refused(exc) from None
    return AgentOut(agent=agent)


class DeactivatedOut(BaseModel):
    agent: Agent
    sessions_ended: int
    # the agent's conversations now back in their queues
    requeued: list[str]


@endpoint("POST", "/api/agents/{id}/deactivate", "Deactivate an agent (admins): they cannot log in, their sessions "
          "and live sockets end, their conversations go back to the queue; their history stays",
          response=DeactivatedOut, permission=Permission.MANAGE_AGENTS,
          errors=((409, "code self_deactivation: your own account; code last_admin: the last active admin"),))
async def deactivate_agent(request: web.Request, _: None) -> DeactivatedOut:
    me = current_agent(request)
    try:
        done = await _admin(request.app).deactivate(me, request.match_info["id"])
    except AgentChangeRefused as exc:
        raise _refused(exc) from None
    await close_ended_sockets(request.app)  # this node's at once; the others' on the event
    return DeactivatedOut(agent=done.agent, sessions_ended=done.sessions_ended,
                          requeued=[c.id for c in done.requeued])


@endpoint("POST", "/api/agents/{id}/reactivate", "Reactivate an agent (admins): they may log in again (offline)",
          response=AgentOut, permission=Permission.MANAGE_AGENTS)
async def reactivate_agent(request: web.Request, _: None) -> AgentOut:
    me = current_agent(request)
    return AgentOut(agent=await _admin(request.app).reactivate(me, request.match_info["id"]))


class PasswordBody(Body):
    # none: one is generated and returned once
    password: Password | None = None


class PasswordOut(BaseModel):
    password: str | None = None
    sessions_ended: int


@endpoint("POST", "/api/agents/{id}/password", "Set a new password for an agent (admins): every session of theirs "
          "ends (an admin's own: all but the one they act from); without a password one is generated and "
          "returned once", body=PasswordBody, response=PasswordOut,
          permission=Permission.MANAGE_AGENTS, errors=((422, "code weak_password"),))
async def reset_password(request: web.Request, body: PasswordBody) -> PasswordOut:
    me = current_agent(request)
    try:
        done = await _admin(request.app).reset_password(me, request.match_info["id"], body.password,
                                                        request_token_hash(request))
    except WeakPassword as exc:
        raise _weak(exc) from None
    await close_ended_sockets(request.app)
    return PasswordOut(password=done.generated, sessions_ended=done.sessions_ended)


# -- teams, skills and capacity set in the console ----------------------------------------


class ProfileOut(BaseModel):
    agent_id: str
    routing: RoutingProfile | None


@endpoint("PUT", "/api/agents/{id}/routing", "Set an agent's teams, skills and capacity in the console (admins); "
          "they replace the agent's teams.yaml entry until removed", body=RoutingProfile, response=ProfileOut,
          permission=Permission.MANAGE_AGENTS,
          errors=((422, "code unknown_names: a team or skill teams.yaml does not have; "
                   "unknown_channel_kinds: a capacity of a kind no channel has"),))
async def set_routing(request: web.Request, body: RoutingProfile) -> ProfileOut:
    me = current_agent(request)
    try:
        stored = await _admin(request.app).set_profile(me, request.match_info["id"], body,
                                                       request.app[ASSIGNER].teams)
    except (UnknownNames, UnknownKinds) as exc:
        raise _unknown(exc) from None
    return ProfileOut(agent_id=stored.agent_id, routing=stored.profile)


@endpoint("DELETE", "/api/agents/{id}/routing", "Remove an agent's console profile: teams.yaml's entry applies "
          "again (admins)", response=ProfileOut, permission=Permission.MANAGE_AGENTS)
async def clear_routing(request: web.Request, _: None) -> ProfileOut:
    me = current_agent(request)
    await _admin(request.app).clear_profile(me, request.match_info["id"])
    return ProfileOut(agent_id=request.match_info["id"], routing=None)


# -- presence at sign-in ---------------------------------------------------------------


@endpoint("GET", "/api/agents/settings", "The console's settings of agents (presence at sign-in)",
          response=AgentsSettings)
async def agents_settings(request: web.Request, _: None) -> AgentsSettings:
    return await _store(request.app).agents_settings()


@endpoint("PUT", "/api/agents/settings", "Change the console's settings of agents (admins): presence_at_login "
          "'ask' (an agent signing in offline is asked to go online) or 'online' (put online)",
          body=AgentsSettings, response=AgentsSettings, permission=Permission.MANAGE_SETTINGS)
async def change_agents_settings(request: web.Request, body: AgentsSettings) -> AgentsSettings:
    me = current_agent(request)
    saved = await _store(request.app).set_agents_settings(body, request.app[ASSIGNER].clock(), me.id)
    log.info("presence at sign-in set to %s by %s", saved.presence_at_login, me.username)
    return saved


async def admit(app: web.Application, agent: Agent) -> None:
    """At sign-in, after the password was right: a deactivated account is
    refused (only now, so the answer tells nothing to a guesser); with
    ``presence_at_login: online`` an offline agent is put online."""
    if not agent.active:
        raise ApiError(403, "account_deactivated", "This account is deactivated: ask an admin.")
    store = _store(app)
    if (await store.agents_settings()).presence_at_login != "online":
        return  # "ask": the console offers it
    current = next((p.presence for p in await store.list_presence() if p.agent_id == agent.id), Presence.OFFLINE)
    if current is Presence.OFFLINE:
        await app[ASSIGNER].set_presence(agent, Presence.ONLINE)


async def signed_out(app: web.Application, agent: Agent) -> None:
    """The agent's last live session ended by a logout: they go offline as if
    they had chosen it (unopened offers back to the queue, the presence event
    every node's consoles and wallboards hear). Offline already: nothing, so
    their "offline since" stays when they went."""
    current = next((p.presence for p in await _store(app).list_presence() if p.agent_id == agent.id),
                   Presence.OFFLINE)
    if current is not Presence.OFFLINE:
        await app[ASSIGNER].set_presence(agent, Presence.OFFLINE)


# -- live sockets of ended sessions ------------------------------------------------------------


async def close_ended_sockets(app: web.Application) -> int:
    """Close this node's console sockets whose session has ended (a
    deactivation, a new password): they would go on receiving every event.
    How many were closed."""
    store, now = _store(app), utcnow()
    alive: weakref.WeakSet[web.WebSocketResponse] = app[live.SOCKETS]
    sockets = list(alive)
    sessions = {ws.get(live.SESSION, "") for ws in sockets}
    ended = [s for s in sessions if not s or await store.session_agent(s, now) is None]
    await asyncio.gather(*(live.close_session_sockets(app, s) for s in ended))
    return len(ended)


async def _close_on_events(app: web.Application, pause: float = 1.0) -> None:
    """Every node closes its sockets of sessions another node ended. Runs
    for the app's life: a subscription cut off (too slow) or a store that
    could not answer is taken up again."""
    while True:
        async with app[BUS].subscribe(frozenset({events.AGENT_UPDATED})) as sub:
            async for event in sub:
                if event.type != events.AGENT_UPDATED or not event.data.get("sessions_ended"):
                    continue
                try:
                    await close_ended_sockets(app)
                except StoreError as exc:  # the store logs its outage; the sockets are checked on the next event
                    log.warning("could not check the console sockets' sessions: %s", exc)
        await asyncio.sleep(pause)


# seconds between two looks at every socket's session: what no event announces (a
# password set from the terminal, a session that expired) closes within this; the
# sessions of the sockets left open are marked seen at a console (attendance)
SWEEP_EVERY = SEEN_EVERY


async def _sweep(app: web.Application) -> None:
    while True:
        await asyncio.sleep(SWEEP_EVERY)
        try:
            await close_ended_sockets(app)
        except StoreError as exc:
            log.debug("console sockets not swept: %s", exc)
        await mark_consoles_seen(app)


async def mark_consoles_seen(app: web.Application) -> None:
    """The sessions of this node's open console sockets are at work (``attendance``)."""
    sockets: weakref.WeakSet[web.WebSocketResponse] = app[live.SOCKETS]
    await mark_seen(app, {s for ws in list(sockets) if not ws.closed and (s := ws.get(live.SESSION, ""))})


async def socket_closer(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the listener and the sweep above, for the app's life."""
    tasks = [asyncio.create_task(_close_on_events(app), name="close-ended-sockets"),
             asyncio.create_task(_sweep(app), name="sweep-console-sockets")]
    yield
    await cancel_and_wait(*tasks)
