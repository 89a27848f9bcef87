"""Console API of routing: why a conversation is where it is."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from agents_ui.endpoints import endpoint
from router.appkeys import STORE
from router.models import RouteTrace


class RouteOut(BaseModel):
    conversation_id: str
    rules_version: str | None
    reason: str | None
    # None: routed without a rules file (the default team)
    trace: RouteTrace | None


@endpoint("GET", "/api/conversations/{id}/route", "Why the conversation is here: the rule that matched, "
          "the value of every condition, the step chosen", response=RouteOut)
async def conversation_route(request: web.Request, _: None) -> RouteOut:
    store = request.app[STORE]
    conv = await store.get_conversation(request.match_info["id"])
    trace = await store.conversation_route(conv.id)
    return RouteOut(conversation_id=conv.id, rules_version=conv.rules_version, reason=conv.route_reason, trace=trace)
