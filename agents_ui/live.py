"""``WS /api/ws``: every state change, pushed to the consoles as it happens."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMessage, WSMsgType, web

from agents_ui import wallboard_api
from agents_ui.endpoints import ApiError, current_agent, endpoint
from agents_ui.sessions import request_token_hash, session_agent
from router import events
from router.aio import cancel_and_wait
from router.appkeys import BUS, SETTINGS
from router.bus import Event, EventBus, Subscription
from router.models import Agent
from router.store.errors import StoreError

log = logging.getLogger(__name__)

# weak: a socket that ended is gone from the set without anyone removing it
SOCKETS = web.AppKey("console_sockets", weakref.WeakSet[web.WebSocketResponse])
# the session a socket was opened with, so logging out closes it too
SESSION = web.ResponseKey("console_session", str)
HEARTBEAT = 30.0
# a socket that reads an event this many times server.lag_bound after it was published
# here, and at least BEHIND_FLOOR seconds, is too slow to keep (counted from the publish on
# this node: the pipeline's own lag before it is no fault of the socket's); the floor keeps
# a small bound from dropping every console at once when the event loop is briefly behind
BEHIND_FACTOR = 5.0
BEHIND_FLOOR = 15.0
_CLOSE_TIMEOUT = 2.0


def _same_origin(request: web.Request) -> bool:
    """Browsers send Origin on websocket upgrades; a page of another site must
    not ride on an agent's cookie (cross-site websocket hijacking). Clients
    that are no browser send none, and still need the cookie. Behind a proxy
    that rewrites Host, the configured public address is ours too."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    ours = {request.host.lower()}
    if public_url := request.app[SETTINGS].server.public_url:
        ours.add(urlsplit(public_url).netloc.lower())
    return urlsplit(origin).netloc.lower() in ours


def _late(bus: EventBus, event: Event, behind: float) -> bool:
    """This socket got the event more than ``behind`` seconds after it was published on this
    node: what it took to read it, not the pipeline's time before (nor another node's clock)."""
    return bus.clock() - event.published_at > behind


async def _push(ws: web.WebSocketResponse, bus: EventBus, sub: Subscription, agent_id: str, behind: float) -> None:
    try:
        async for event in sub:
            to = events.addressed_to(event)
            if to is None or to == agent_id:  # one agent's (a mention): only their sockets
                # the frame's UTF-8 as it is: send_str would encode the same text again for every socket
                await ws.send_frame(event.frame_bytes, WSMsgType.TEXT)
                if _late(bus, event, behind):
                    # a console that reads slower than messages come: dropped rather than buffered
                    # for, and it catches up by reloading, as from a cut-off
                    log.warning("console socket more than %g s behind, closed to reconnect", behind)
                    break
    except ConnectionResetError:
        return  # the console went away; the reader side notices and ends
    # the bus cut us off (too slow) or is closing: the console reconnects and reloads
    await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"reconnect")


async def _answer(request: web.Request, ws: web.WebSocketResponse, msg: WSMessage) -> None:
    frame = None
    if msg.type is WSMsgType.TEXT:
        # not JSON, or a nesting bomb the parser stops at the recursion limit: answered as unknown
        with contextlib.suppress(ValueError, RecursionError):
            frame = json.loads(msg.data)
    if isinstance(frame, dict) and frame.get("type") == "ping":
        await ws.send_json({"type": "pong"})
    elif isinstance(frame, dict) and frame.get("type") in wallboard_api.FRAMES:
        if (agent := await _account_now(request, ws)) is not None:
            await wallboard_api.answer_frame(request.app, ws, agent, frame)
    else:
        await ws.send_json({"type": "error", "code": "unknown_type", "message":
                           'only ping, wallboard.subscribe and wallboard.unsubscribe are accepted'})


async def _account_now(request: web.Request, ws: web.WebSocketResponse) -> Agent | None:
    """The socket's account as it is NOW, for a frame that checks a right: the
    agent read when the socket opened may have been demoted, promoted or
    deactivated since (``agent.updated`` without ``sessions_ended``). None
    (and an error frame) when the session ended or the store did not answer."""
    try:
        agent = await session_agent(request)
    except StoreError as exc:
        log.warning("console socket: the account could not be read (%s)", exc)
        await ws.send_json({"type": "error", "code": "unavailable", "message": "try again"})
        return None
    if agent is None:
        await ws.send_json({"type": "error", "code": "unauthenticated", "message": "log in first"})
    return agent


async def _serve(request: web.Request, ws: web.WebSocketResponse, sub: Subscription, agent_id: str) -> None:
    behind = max(BEHIND_FLOOR, request.app[SETTINGS].server.lag_bound * BEHIND_FACTOR)
    pusher = asyncio.create_task(_push(ws, request.app[BUS], sub, agent_id, behind))
    try:
        async for msg in ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                await _answer(request, ws, msg)
    except ConnectionResetError:
        pass  # went away while we answered
    finally:
        wallboard_api.forget(request.app, ws)
        await cancel_and_wait(pusher)


@endpoint("GET", "/api/ws", "Live events: a websocket of {type, data} frames (message.created, claim.dismissed, "
          "message.updated, conversation.created, conversation.updated, conversation.assigned, note.created; "
          "note.mentioned and mentions.read only to the agent they name); "
          'send {"type":"ping"} for {"type":"pong"}; supervisors and admins send {"type":"wallboard.subscribe"} '
          'for wallboard.updated frames (the GET /api/wallboard snapshot) until {"type":"wallboard.unsubscribe"}',
          status=101, response_description="switching to websocket",
          errors=((400, "code not_websocket: a plain request, not a websocket upgrade"),
                  (403, "the Origin is another site's (cross-origin websocket)")))
async def console_ws(request: web.Request, _: None) -> web.StreamResponse:
    if not _same_origin(request):
        raise ApiError(403, "forbidden", "cross-origin websocket refused")
    # no permessage-deflate (browsers offer it): two zlib states a tab, and every frame compressed per socket
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=4096, compress=False)
    if not ws.can_prepare(request).ok:  # aiohttp's own refusal said only "Bad Request"
        raise ApiError(400, "not_websocket", "this address is a websocket: open it with an Upgrade: websocket "
                       "request (new WebSocket(...) in a browser)")
    # subscribed before the upgrade completes, so no event after it is missed
    async with request.app[BUS].subscribe() as sub:
        try:
            await ws.prepare(request)
        except ConnectionResetError:
            # the console left during the handshake (a tab closed, a reconnect given up, a network gone):
            # nothing to serve, and no fault of ours (it was an ERROR with a traceback for each)
            log.debug("console socket gone before its handshake ended")
            return web.Response()  # never sent: the socket's own answer could not be
        ws[SESSION] = request_token_hash(request) or ""
        request.app[SOCKETS].add(ws)
        log.debug("console socket opened for %s", current_agent(request).username)
        await _serve(request, ws, sub, current_agent(request).id)
    return ws


async def _close_all(sockets: list[web.WebSocketResponse], message: bytes) -> None:
    async def close(ws: web.WebSocketResponse) -> None:
        # a console that does not answer the close frame must not hold up the caller
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await ws.close(code=WSCloseCode.GOING_AWAY, message=message)

    await asyncio.gather(*(close(ws) for ws in sockets))


async def close_sockets(app: web.Application) -> None:
    """on_shutdown: without this the server would wait for every console to leave."""
    sockets: weakref.WeakSet[web.WebSocketResponse] = app[SOCKETS]
    await _close_all(list(sockets), b"server shutdown")


async def close_session_sockets(app: web.Application, session: str) -> None:
    """Logging out ends the live feed of that session's tabs as well."""
    sockets: weakref.WeakSet[web.WebSocketResponse] = app[SOCKETS]
    await _close_all([ws for ws in sockets if ws.get(SESSION) == session], b"logged out")
