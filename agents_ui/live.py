"""``WS /api/ws``: every state change, pushed to the consoles as it happens."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMsgType, web

from agents_ui.endpoints import ApiError, error_response
from agents_ui.sessions import session_agent
from router.appkeys import BUS
from router.bus import Subscription

log = logging.getLogger(__name__)

SOCKETS = web.AppKey("console_sockets", set[web.WebSocketResponse])


def _same_origin(request: web.Request) -> bool:
    """Browsers send Origin on websocket upgrades; a page of another site must
    not ride on an agent's cookie (cross-site websocket hijacking)."""
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host


async def _push(ws: web.WebSocketResponse, sub: Subscription) -> None:
    async for event in sub:
        await ws.send_str(event.json)
    # the bus cut us off (too slow) or is closing: let the console reconnect and reload
    await ws.close(code=WSCloseCode.TRY_AGAIN_LATER)


async def _answer(ws: web.WebSocketResponse, data: str) -> None:
    try:
        frame = json.loads(data)
    except json.JSONDecodeError:
        frame = None
    if isinstance(frame, dict) and frame.get("type") == "ping":
        await ws.send_json({"type": "pong"})
    else:
        await ws.send_json({"type": "error", "code": "unknown_type", "message": "only ping frames are accepted"})


async def console_ws(request: web.Request) -> web.StreamResponse:
    if not _same_origin(request):
        return error_response(ApiError(403, "forbidden", "cross-origin websocket refused"))
    agent = await session_agent(request)
    if agent is None:
        return error_response(ApiError(401, "unauthenticated", "log in first"))
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=4096)
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    log.debug("console socket opened for %s", agent.username)
    try:
        async with request.app[BUS].subscribe() as sub:
            pusher = asyncio.create_task(_push(ws, sub))
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await _answer(ws, msg.data)
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pusher
    finally:
        request.app[SOCKETS].discard(ws)
    return ws


async def close_sockets(app: web.Application) -> None:
    sockets: set[web.WebSocketResponse] = app[SOCKETS]
    for ws in tuple(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
