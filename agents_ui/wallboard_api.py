"""The live wallboard in the console API: ``GET /api/wallboard`` (the figures
now) and, on the console's websocket, ``{"type":"wallboard.subscribe"}`` /
``{"type":"wallboard.unsubscribe"}``, after which ``wallboard.updated``
frames arrive while the screen is open. Both for those who hold
``Permission.SUPERVISE`` (supervisors and admins) only."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agents_ui.endpoints import endpoint
from router.agents.service import Permission, may
from router.appkeys import WALLBOARD
from router.models import Agent
from router.wallboard.live import Watcher
from router.wallboard.service import Snapshot

SUBSCRIBE = "wallboard.subscribe"
UNSUBSCRIBE = "wallboard.unsubscribe"
FRAMES = frozenset({SUBSCRIBE, UNSUBSCRIBE})


@endpoint("GET", "/api/wallboard", "The live wallboard now: per team and channel the queue, the longest wait, "
          "SLA breaches, the bot's and valuable customers waiting; agents online, away and busy and their load "
          "(supervisors and admins; live: the websocket's wallboard.subscribe)",
          response=Snapshot, permission=Permission.SUPERVISE)
async def wallboard(request: web.Request, _: None) -> Snapshot:
    return await request.app[WALLBOARD].board.snapshot()


async def answer_frame(app: web.Application, ws: Watcher, agent: Agent, frame: dict[str, Any]) -> bool:
    """A wallboard frame of the console's websocket, answered; False: not one
    of ours. ``agent``: the account as it is now (re-read for this frame, not
    the one the socket opened with: a demotion takes effect at once)."""
    kind = frame.get("type")
    if kind == SUBSCRIBE:
        if not may(agent.role, Permission.SUPERVISE):
            await ws.send_str('{"type":"error","code":"forbidden","message":"your role may not watch the wallboard"}')
        else:
            app[WALLBOARD].watch(ws, agent.id)
        return True
    if kind == UNSUBSCRIBE:
        app[WALLBOARD].unwatch(ws)
        return True
    return False


def forget(app: web.Application, ws: Watcher) -> None:
    """The socket ended: no more pushes to it."""
    app[WALLBOARD].unwatch(ws)
