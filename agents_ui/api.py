"""The handlers of the console's API (declared through ``endpoint``)."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from agents_ui.endpoints import ApiError, current_agent, endpoint
from agents_ui.sessions import THROTTLE, end_session, hash_password, start_session, verify_password
from router.appkeys import ROUTER, STORE
from router.core import ReplyRefused
from router.models import (
    MAX_TEXT_LENGTH,
    Agent,
    ChannelIdentity,
    ConversationStatus,
    ConversationView,
    Customer,
    Message,
    Role,
)

log = logging.getLogger(__name__)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginBody(Body):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class ReplyBody(Body):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_LENGTH)]


class AssignBody(Body):
    agent_id: str | None = None


class NewAgentBody(Body):
    username: Annotated[str, Field(pattern=r"^[a-z0-9._-]{1,64}$")]
    display_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
    password: Annotated[str, Field(min_length=8, max_length=1024)]
    role: Role = Role.AGENT


class AgentOut(BaseModel):
    agent: Agent


class AgentList(BaseModel):
    agents: list[Agent]


class ConversationOut(BaseModel):
    conversation: ConversationView


class ConversationList(BaseModel):
    conversations: list[ConversationView]


class ConversationDetail(BaseModel):
    conversation: ConversationView
    customer: Customer


class MessageOut(BaseModel):
    message: Message


class MessageList(BaseModel):
    messages: list[Message]


class CustomerDetail(BaseModel):
    customer: Customer
    identities: list[ChannelIdentity]
    conversations: list[ConversationView]


@endpoint("POST", "/api/login", "Log in; sets the session cookie", body=LoginBody, response=AgentOut, public=True)
async def login(request: web.Request, body: LoginBody) -> web.StreamResponse:
    throttle = request.app[THROTTLE]
    key = (body.username.lower(), request.remote or "")
    wait = throttle.retry_after(key)
    if wait is not None:
        raise ApiError(429, "too_many_attempts", f"too many failed logins; try again in {wait:.0f} s",
                       {"Retry-After": str(max(1, round(wait)))})
    creds = await request.app[STORE].agent_credentials(body.username)
    if not await verify_password(creds[1] if creds else None, body.password) or creds is None:
        throttle.failed(key)
        log.warning("failed console login for %r from %s", body.username, request.remote)
        raise ApiError(401, "invalid_credentials", "wrong username or password")
    throttle.succeeded(key)
    response = web.Response(text=AgentOut(agent=creds[0]).model_dump_json(), content_type="application/json")
    await start_session(request, response, creds[0])
    log.info("agent %s logged in", creds[0].username)
    return response


@endpoint("POST", "/api/logout", "End the session", status=204)
async def logout(request: web.Request, _: None) -> web.StreamResponse:
    response = web.Response(status=204)
    await end_session(request, response)
    return response


@endpoint("GET", "/api/me", "The agent who is logged in", response=AgentOut)
async def me(request: web.Request, _: None) -> AgentOut:
    return AgentOut(agent=current_agent(request))


StatusFilter = Literal["open", "all", "bot", "queued", "assigned", "resolved"]
_OPEN = [ConversationStatus.BOT, ConversationStatus.QUEUED, ConversationStatus.ASSIGNED]


def _statuses(raw: str) -> list[ConversationStatus] | None:
    if raw == "open":
        return _OPEN
    if raw == "all":
        return None
    try:
        return [ConversationStatus(raw)]
    except ValueError:
        raise ApiError(422, "invalid", "status: one of open, all, bot, queued, assigned, resolved") from None


def _limit(raw: str | None) -> int:
    try:
        value = int(raw) if raw is not None else 200
    except ValueError:
        raise ApiError(422, "invalid", "limit: a whole number from 1 to 1000") from None
    if not 1 <= value <= 1000:
        raise ApiError(422, "invalid", "limit: a whole number from 1 to 1000")
    return value


@endpoint("GET", "/api/conversations", "Conversations, most recently active first (?status=open|all|…&limit=)",
          response=ConversationList)
async def conversations(request: web.Request, _: None) -> ConversationList:
    statuses = _statuses(request.query.get("status", "open"))
    found = await request.app[STORE].list_conversations(statuses, _limit(request.query.get("limit")))
    return ConversationList(conversations=found)


@endpoint("GET", "/api/conversations/{id}", "One conversation and its customer", response=ConversationDetail)
async def conversation(request: web.Request, _: None) -> ConversationDetail:
    store = request.app[STORE]
    conv = await store.get_conversation(request.match_info["id"])
    return ConversationDetail(conversation=conv, customer=await store.get_customer(conv.customer_id))


@endpoint("GET", "/api/conversations/{id}/messages", "A conversation's messages, oldest first",
          response=MessageList)
async def messages(request: web.Request, _: None) -> MessageList:
    store = request.app[STORE]
    conv = await store.get_conversation(request.match_info["id"])
    return MessageList(messages=await store.list_messages(conv.id, _limit(request.query.get("limit") or "1000")))


@endpoint("POST", "/api/conversations/{id}/messages", "Reply to the customer", body=ReplyBody,
          response=MessageOut, status=201)
async def reply(request: web.Request, body: ReplyBody) -> MessageOut:
    try:
        message = await request.app[ROUTER].reply(request.match_info["id"], current_agent(request), body.text)
    except ReplyRefused as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    return MessageOut(message=message)


@endpoint("POST", "/api/conversations/{id}/assign", "Take a conversation (admins may assign anyone)",
          body=AssignBody, response=ConversationOut)
async def assign(request: web.Request, body: AssignBody) -> ConversationOut:
    agent = current_agent(request)
    if body.agent_id not in (None, agent.id):
        if agent.role is not Role.ADMIN:
            raise ApiError(403, "forbidden", "only admins may assign a conversation to someone else")
        agent = await request.app[STORE].get_agent(body.agent_id)
    try:
        view = await request.app[ROUTER].assign(request.match_info["id"], agent)
    except ReplyRefused as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    return ConversationOut(conversation=view)


@endpoint("POST", "/api/conversations/{id}/resolve", "Mark a conversation resolved", response=ConversationOut)
async def resolve(request: web.Request, _: None) -> ConversationOut:
    view = await request.app[ROUTER].resolve(request.match_info["id"], current_agent(request))
    return ConversationOut(conversation=view)


@endpoint("GET", "/api/customers/{id}", "A customer: profile, channel identities, conversations",
          response=CustomerDetail)
async def customer(request: web.Request, _: None) -> CustomerDetail:
    store = request.app[STORE]
    found = await store.get_customer(request.match_info["id"])
    return CustomerDetail(
        customer=found,
        identities=await store.customer_identities(found.id),
        conversations=await store.customer_conversations(found.id),
    )


@endpoint("GET", "/api/agents", "Every agent account", response=AgentList)
async def agents(request: web.Request, _: None) -> AgentList:
    return AgentList(agents=await request.app[STORE].list_agents())


@endpoint("POST", "/api/agents", "Create an agent account (admins only)", body=NewAgentBody, response=AgentOut,
          status=201, admin=True)
async def create_agent(request: web.Request, body: NewAgentBody) -> AgentOut:
    created = await request.app[STORE].create_agent(
        body.username, body.display_name, body.role, await hash_password(body.password)
    )
    log.info("agent %s created by %s", created.username, current_agent(request).username)
    return AgentOut(agent=created)
