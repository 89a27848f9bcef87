"""Console API of routing: why a conversation is where it is, presence,
offers and transfers."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol

from aiohttp import web
from pydantic import BaseModel, ConfigDict, model_validator

from agents_ui.api import AT_CAPACITY, THEIRS, YOURS, at_capacity
from agents_ui.endpoints import ApiError, current_agent, endpoint
from router.accounts.store import AccountStore
from router.agents.service import Permission, may
from router.appkeys import ASSIGNER, BOT_RELOADER, ROUTER, RULES_RELOADER, STORE
from router.conversations.store import ConversationStore
from router.models import AgentPresence, ConversationStatus, ConversationView, Presence, RouteTrace
from router.routing.assignment import TransferRefused
from router.routing.service import AgentAtCapacity
from router.routing.store import AssignmentStore
from router.store.errors import StoreError

log = logging.getLogger(__name__)


class RoutingApiStore(AssignmentStore, ConversationStore, AccountStore, Protocol):
    """What these handlers read and write of the store themselves (presence
    and transfers go through the assigner): routing's presence and offers, a
    conversation and its route, an agent named by id."""


def _store(app: web.Application) -> RoutingApiStore:
    return app[STORE]


class RouteOut(BaseModel):
    conversation_id: str
    rules_version: str | None
    reason: str | None
    # None: routed without a rules file (the default team)
    trace: RouteTrace | None


@endpoint("GET", "/api/conversations/{id}/route", "Why the conversation is here: the rule that matched, "
          "the value of every condition, the step chosen", response=RouteOut)
async def conversation_route(request: web.Request, _: None) -> RouteOut:
    store = _store(request.app)
    conv = await store.get_conversation(request.match_info["id"])
    trace = await store.conversation_route(conv.id)
    return RouteOut(conversation_id=conv.id, rules_version=conv.rules_version, reason=conv.route_reason, trace=trace)


# -- presence ------------------------------------------------------------------------


class PresenceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    presence: Presence
    # roles granted manage_presence (admins, supervisors) may switch someone else's
    agent_id: str | None = None


class PresenceOut(BaseModel):
    presence: AgentPresence


class PresenceList(BaseModel):
    presence: list[AgentPresence]


@endpoint("GET", "/api/presence", "Every agent's presence (agents never switched are offline)",
          response=PresenceList)
async def list_presence(request: web.Request, _: None) -> PresenceList:
    store = _store(request.app)
    return PresenceList(presence=await store.list_presence())


@endpoint("POST", "/api/presence", "Switch presence: online, away or offline (offline gives back unopened offers)",
          body=PresenceBody, response=PresenceOut, errors=((403, "someone else's presence needs manage_presence"),
                                                           (404, "no such agent (agent_id)"),
                                                           (409, "a colleague set online: only away or offline")))
async def set_presence(request: web.Request, body: PresenceBody) -> PresenceOut:
    me = current_agent(request)
    target = me
    if body.agent_id not in (None, me.id):
        if not may(me.role, Permission.MANAGE_PRESENCE):
            raise ApiError(403, "forbidden", "your role may not switch someone else's presence (manage_presence)")
        if body.presence is Presence.ONLINE:
            # online is "offer me conversations": a colleague set so would be offered them while away
            raise ApiError(409, "conflict", "only an agent puts themselves online; a colleague may be set "
                           "away or offline")
        target = await _store(request.app).get_agent(str(body.agent_id))
    return PresenceOut(presence=await request.app[ASSIGNER].set_presence(target, body.presence))


# -- offers and transfers -------------------------------------------------------------------


@endpoint("POST", "/api/conversations/{id}/open", "The assignee opened the conversation: the offer is taken",
          status=204, response_description="taken")
async def open_conversation(request: web.Request, _: None) -> None:
    store = _store(request.app)
    conv = await store.get_conversation(request.match_info["id"])
    await store.mark_opened(conv.id, current_agent(request).id, request.app[ASSIGNER].clock())


class TransferBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    team: str | None = None
    agent_id: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> TransferBody:
        if (self.team is None) == (self.agent_id is None):
            raise ValueError("give exactly one of team or agent_id")
        return self


class TransferOut(BaseModel):
    conversation: ConversationView


@endpoint("POST", "/api/conversations/{id}/transfer", "Transfer to a team's queue or to an agent (within capacity)",
          body=TransferBody, response=TransferOut,
          errors=((403, "a conversation not your own given to a colleague, without reassign"),
                  (409, f"resolved, or another agent's; or, given to an agent, {AT_CAPACITY}"),
                  (422, "unknown team or agent")))
async def transfer(request: web.Request, body: TransferBody) -> TransferOut:
    me = current_agent(request)
    store, assigner = _store(request.app), request.app[ASSIGNER]
    conv = await store.get_conversation(request.match_info["id"])
    if conv.status is ConversationStatus.ASSIGNED and conv.agent_id != me.id and not may(me.role, Permission.REASSIGN):
        raise ApiError(409, "conflict", "the conversation is assigned to another agent")
    mine = conv.status is ConversationStatus.ASSIGNED and conv.agent_id == me.id
    if body.agent_id not in (None, me.id) and not mine and not may(me.role, Permission.REASSIGN):
        # giving a queued or the bot's conversation to a colleague is assigning it to them
        raise ApiError(403, "forbidden", "your role may give a colleague only a conversation of your own (reassign)")
    try:
        if body.team is not None:
            moved = await assigner.transfer_to_team(conv.id, body.team, me)
            try:
                await request.app[ROUTER].transferred(moved)  # a team closed now: the customer hears when it opens
            except StoreError as exc:  # the transfer is made: the agent is not told it failed
                log.warning("conversation %s transferred, but its after-hours notice was not sent: %s", conv.id, exc)
            return TransferOut(conversation=moved)
        target = await store.get_agent(str(body.agent_id))
        try:
            return TransferOut(conversation=await assigner.transfer_to_agent(conv.id, target))
        except AgentAtCapacity as exc:  # the console names who is full and what to do, in its language
            raise at_capacity(exc, target, YOURS if target.id == me.id else THEIRS) from None
    except TransferRefused as exc:
        raise ApiError(422, "invalid", str(exc)) from None


# -- rules status (hot reload) ------------------------------------------------------------


class BotStatusOut(BaseModel):
    path: str
    loaded_at: datetime
    # the last bot.yaml edit that was refused (the running bot stayed): file:line lines
    problems: list[str] = []
    refused_at: datetime | None = None


class RulesStatusOut(BaseModel):
    # False: no rules.yaml, every conversation goes to the default team
    active: bool
    path: str | None = None
    version: str | None = None
    loaded_at: datetime | None = None
    # the last edit that was refused (the running rules stayed): file:line lines
    problems: list[str] = []
    refused_at: datetime | None = None
    # the running rules' likely mistakes (always-true conditions...): file:line: warning: lines
    warnings: list[str] = []
    # bot.yaml's reload, as the rules' (None: no bot.yaml at start)
    bot: BotStatusOut | None = None


@endpoint("GET", "/api/rules/status", "The running rules version and bot.yaml's, and why the last edit of either "
          "was refused if it was", response=RulesStatusOut, permission=Permission.MANAGE_RULES)
async def rules_status(request: web.Request, _: None) -> RulesStatusOut:
    bot_reloader = request.app.get(BOT_RELOADER)
    bot = None
    if bot_reloader is not None:
        b = bot_reloader.status
        bot = BotStatusOut(path=b.path, loaded_at=b.loaded_at, problems=b.problems, refused_at=b.refused_at)
    reloader = request.app.get(RULES_RELOADER)
    if reloader is None:
        return RulesStatusOut(active=False, bot=bot)
    status = reloader.status
    return RulesStatusOut(active=True, path=status.path, version=status.version, loaded_at=status.loaded_at,
                          problems=status.problems, refused_at=status.refused_at, warnings=status.warnings, bot=bot)


# -- SLA --------------------------------------------------------------------------------


class SlaItem(BaseModel):
    conversation_id: str
    team: str | None
    target_seconds: float
    waiting_seconds: float


class SlaList(BaseModel):
    breached: list[SlaItem]


@endpoint("GET", "/api/sla", "Unanswered conversations past their queue's first-response target", response=SlaList)
async def sla(request: web.Request, _: None) -> SlaList:
    breaches = await request.app[ASSIGNER].sla_breaches()
    return SlaList(breached=[
        SlaItem(conversation_id=b.conversation.id, team=b.conversation.team, target_seconds=b.target,
                waiting_seconds=b.waited)
        for b in breaches
    ])


# -- teams (for the transfer control) ------------------------------------------------------


class TeamOut(BaseModel):
    name: str  # the id rules, files and the API use
    title: dict[str, str]  # what people read, per language (ru, en): teams.yaml's ``title``, else the id
    description: str
    members: list[str]  # usernames


class TeamList(BaseModel):
    teams: list[TeamOut]


@endpoint("GET", "/api/teams", "The teams of teams.yaml and their members", response=TeamList)
async def teams(request: web.Request, _: None) -> TeamList:
    assigner = request.app[ASSIGNER]
    config, agents = assigner.teams, await assigner.agent_configs()  # with the console's profiles
    return TeamList(teams=[
        TeamOut(name=name, title=dict(team.titles(name)), description=team.description,
                members=[a.username for a in agents if name in a.teams])
        for name, team in config.teams.items()
    ])
