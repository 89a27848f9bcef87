"""Console API of the live signals: an agent typing, read marks and unread
counts (router.signals). Typing of customers and "conversation.read" reach
the consoles over ``WS /api/ws``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, Field

from agents_ui.endpoints import ApiError, current_agent, endpoint
from agents_ui.schemas import Body, Query
from router.appkeys import SIGNALS
from router.signals.service import UNREAD_CAP
from router.store.errors import NotFound

MAX_IDS = 500  # conversations one unread request may ask about (the console lists 200)


class TypingOut(BaseModel):
    # False: the customer's channel cannot show it (SMS, email), or the conversation is resolved
    shown: bool


@endpoint("POST", "/api/conversations/{id}/typing", "The agent is typing a reply: shown to the customer where "
          "their channel can (the site chat, Telegram, VK), best-effort and never stored; send it at most every "
          "few seconds while typing", response=TypingOut, errors=((404, "no such conversation"),))
async def typing(request: web.Request, _: None) -> TypingOut:
    shown = await request.app[SIGNALS].agent_typing(request.match_info["id"], current_agent(request))
    return TypingOut(shown=shown)


class ReadBody(Body):
    message_id: Annotated[str | None, Field(
        min_length=1, max_length=64,
        description="the last message the agent has seen; default: the conversation's latest")] = None


class ReadOut(BaseModel):
    conversation_id: str
    message_id: str  # the agent's mark: never moves back
    read_at: datetime
    unread: int  # the customer's messages after it (at most the cap)


@endpoint("POST", "/api/conversations/{id}/read", "Mark the conversation read up to a message, for this agent on "
          "every device (never moves back); the customer's widget shows \"Seen\" once their last message is read",
          body=ReadBody, response=ReadOut,
          errors=((404, "code read_unknown: no such conversation, or the message is not in it"),))
async def mark_read(request: web.Request, body: ReadBody) -> ReadOut:
    try:
        read = await request.app[SIGNALS].mark_read(request.match_info["id"], current_agent(request),
                                                    body.message_id)
    except NotFound as exc:
        raise ApiError(404, "read_unknown", f"no such {exc}") from None
    return ReadOut(conversation_id=read.mark.conversation_id, message_id=read.mark.message_id,
                   read_at=read.mark.read_at, unread=read.unread)


class UnreadQuery(Query):
    # ASCII, as every id is: the longest list this allows, percent-encoded, fits the server's request line
    # (agents_ui.endpoints.REQUEST_LINE_BYTES); other characters would have tripled it and more
    ids: Annotated[str, Field(max_length=MAX_IDS * 65, pattern=r"^[A-Za-z0-9_, -]*$",
                              description=f"conversation ids, comma-separated (at most {MAX_IDS})")] = ""


class UnreadOut(BaseModel):
    unread: dict[str, int]  # per conversation: those asked about and the agent's own open ones
    mine: list[str]  # the agent's open conversations
    total: int  # unread over those: the tab title's count
    cap: int = UNREAD_CAP  # a count is cut here ("99+")


@endpoint("GET", "/api/unread", "This agent's unread counts: the customer's messages after their read mark, per "
          "conversation asked about and in each of their own open conversations, and the total of the latter",
          query=UnreadQuery, response=UnreadOut, errors=((422, f"code unread_over_limit: over {MAX_IDS} ids"),))
async def unread(request: web.Request, query: UnreadQuery) -> UnreadOut:
    ids = [i for i in (part.strip() for part in query.ids.split(",")) if i]
    if len(ids) > MAX_IDS:
        raise ApiError(422, "unread_over_limit", f"ask about at most {MAX_IDS} conversations at once",
                       details={"max": MAX_IDS})
    found = await request.app[SIGNALS].unread(current_agent(request), ids)
    return UnreadOut(unread=found.counts, mine=found.mine, total=found.total)
