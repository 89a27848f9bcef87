"""The site chat: an embeddable widget and the websocket it talks to.

HTTP surface (mounted by ``setup_routes``):

- ``GET /chat/widget.js`` — the widget, plain JS, embedded with a script tag;
- ``GET /chat/`` — a demo shop page with the widget (``/chat`` redirects there);
- ``WS /chat/ws`` — JSON text frames (README.md, "Embedding the site chat").

A visitor is identified by a token we issue and sign, so nobody can read
another visitor's history by guessing or editing an id. The widget keeps the
token in localStorage; a reload continues the same conversation. The token is
a credential and stays between the widget and this module: past the hello the
visitor is their token's public part (``webchat_tokens.public_part``), their
identity's value, which agents and integrators see.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

import limits
from aiohttp import WSCloseCode, WSMessage, WSMsgType, hdrs, web

from connectors.chat_limits import MovingWindow, OpenCount, SocketRate, address_key
from connectors.webchat_files import VisitorUploads, frame_files, history_files
from connectors.webchat_frames import (
    ChatFrame,
    FrameError,
    HelloFrame,
    PingFrame,
    RatingFrame,
    TypingFrame,
    encode_frame,
    history_frames,
    message_frame,
    parse_frame,
    refused_client_id,
    survey_frame,
    unavailable_frame,
)
from connectors.webchat_options import WebChatOptions
from connectors.webchat_signals import WebChatSignals
from connectors.webchat_socket import HEARTBEAT_SECONDS, MAX_FRAME_BYTES, ChatSocket
from connectors.webchat_tokens import VisitorTokens, public_part, visitor_tag
from connectors.webchat_widget import availability_frame, bundle, serve_demo, serve_demo_css
from router.connector import (
    ChannelLabel,
    Connector,
    ConnectorHost,
    HostBusy,
    HostError,
    HostFailed,
    HostUnavailable,
    RecipientAway,
    SendProgress,
    SendResult,
)
from router.models import (
    Author,
    Delivery,
    IdentityRef,
    InboundMessage,
    OutboundMessage,
)

log = logging.getLogger(__name__)

IDENTITY_KIND = "webchat"
# the frames whose "availability" the widget's status line shows
_STATUS_FRAMES = frozenset({"welcome", "availability"})
SECRET_NAME = "webchat-visitor"
HISTORY_LIMIT = 200
# seconds a message's ack may wait for room while the pipeline is over its lag bound: the
# tab's other frames (its pings) wait behind it, and the widget gives a silent socket 60 s
ACK_PATIENCE = 30.0


# -- the connector -------------------------------------------------------------


@dataclass(eq=False)
class _Session:
    """One open websocket: one browser tab."""

    ws: ChatSocket
    # whose limits it counts against: the client's address (an IPv6 /64)
    address: str
    # its frames of any kind (WebChatOptions.frames_per_socket)
    frames: SocketRate
    visitor_id: str | None = None
    sender_name: str | None = None
    # InboundMessage's keywords every message of the tab carries (its sender; the name, phone and email of
    # its hello, when given), made once at the hello: a keyword given costs validating it, most are None
    given: dict[str, Any] = field(default_factory=dict)
    # frames that arrive for this tab while its welcome is being prepared;
    # None once the welcome is out and frames go straight to the socket
    backlog: list[dict[str, Any]] | None = None
    # the message refused as busy (client_id, retry_after), until it comes again: the tab's
    # later messages are refused meanwhile, or they would be stored before it
    refused: tuple[str, int] | None = None
    # the language its hello named: what the service's own refusals are worded in
    lang: str | None = None
    # the conversation whose team its status line speaks for, and what that line shows (WebChatSignals._routed)
    conversation_id: str | None = None
    told: dict[str, Any] | None = None


class WebChatConnector(WebChatSignals, Connector[WebChatOptions]):
    type_name: ClassVar[str] = "webchat"
    identity_kind: ClassVar[str] = IDENTITY_KIND
    rates_with_buttons: ClassVar[bool] = True  # a "survey" frame; the widget answers with a "rating" frame
    # how customers and agents see the channel named; the section's ``label`` overrides it
    LABEL: ClassVar[ChannelLabel] = ChannelLabel(name={"ru": "чат на сайте", "en": "site chat"},
                                           where={"ru": "в чате на сайте", "en": "in the site chat"})

    def default_label(self) -> ChannelLabel:
        return self.LABEL


    def __init__(self, name: str, options: WebChatOptions, host: ConnectorHost) -> None:
        super().__init__(name, options, host)
        self._sessions: set[_Session] = set()
        self._visitors: dict[str, set[_Session]] = {}
        self._tokens: VisitorTokens | None = None
        self._widget = b""
        self._limiter = MovingWindow(limits.parse(self.options.rate_limit))
        self._address_limiter = MovingWindow(limits.parse(self.options.rate_limit_per_address))
        self._new_visitors = MovingWindow(limits.parse(self.options.new_visitors_per_address))
        self._open = OpenCount(self.options.sockets_per_address)
        self._frame_rate = limits.parse(self.options.frames_per_socket)
        # one warning per flooding key a minute: a flood must not flood the log too
        self._warned = MovingWindow(limits.parse("1/minute"))

    # -- HTTP ------------------------------------------------------------------
    def setup_routes(self, app: web.Application) -> None:
        # rendered once: the parts, the strings and this installation's settings
        self._widget = bundle(self.options.title, self.options.greeting, self.options.prechat)
        app.router.add_get("/chat/widget.js", self._serve_widget)
        app.router.add_get("/chat/ws", self._serve_ws)
        app.router.add_get("/chat/", serve_demo)
        app.router.add_get("/chat/demo.css", serve_demo_css)
        app.router.add_get("/chat", self._redirect_demo)
        VisitorUploads(self).mount(app)  # POST /chat/files: a visitor's file
        # a reply another node sent, for a visitor whose tab may be open here
        self.peers.on(f"webchat:{self.name}", self._relayed)
        self._setup_signals()  # typing and "seen" (connectors.webchat_signals)

    async def _serve_widget(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self._widget,
            content_type="application/javascript",
            charset="utf-8",
            headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
        )

    async def _redirect_demo(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPPermanentRedirect("/chat/")

    def _origin_allowed(self, request: web.Request) -> bool:
        allowed = self.options.allowed_origins
        if not allowed:
            return True
        origin = request.headers.get(hdrs.ORIGIN)
        # a browser always sends Origin on a websocket upgrade; without one
        # the caller is not a page of an allowed site
        if origin is None:
            return False
        origin = origin.rstrip("/").lower()
        # our own pages (the demo at /chat/) are always allowed; the scheme is
        # not compared because a TLS-terminating proxy hides it from us
        return origin in allowed or urlsplit(origin).netloc == request.host.lower()

    # -- the websocket -----------------------------------------------------------
    async def _serve_ws(self, request: web.Request) -> web.StreamResponse:
        if not self._origin_allowed(request):
            origin = request.headers.get(hdrs.ORIGIN)
            log.warning("webchat: refused a websocket from origin %r (code forbidden_origin)", origin)
            raise web.HTTPForbidden(text="origin not allowed")
        address = address_key(request.remote)
        if not self._open.take(address):  # counted from before the upgrade: a socket that never says hello too
            raise self._too_many_sockets(address)
        try:
            return await self._run_socket(request, address)
        finally:
            self._open.release(address)

    def _too_many_sockets(self, address: str) -> web.HTTPTooManyRequests:
        """Refused before the upgrade, so it costs no socket; the widget reconnects with its backoff."""
        limit = self._open.limit
        if self._warned.hit(f"sockets:{address}"):
            log.warning("webchat: %s has %d chat sockets open, refusing more (code too_many_sockets; logged once a "
                        "minute)", address, limit)
        return web.HTTPTooManyRequests(text=f"too_many_sockets: {limit} chat sockets are open from this address")

    async def _run_socket(self, request: web.Request, address: str) -> web.StreamResponse:
        # no permessage-deflate: two zlib states, ~100 kB each open visitor, for tiny frames (bench.memory)
        ws = ChatSocket(max_msg_size=MAX_FRAME_BYTES, heartbeat=HEARTBEAT_SECONDS, compress=False)
        try:
            await ws.prepare(request)
        except ConnectionResetError:
            # the visitor left during the handshake (a tab closed, a phone out of signal): nothing to
            # serve, and no fault of ours (it was an ERROR with a traceback for each)
            log.debug("webchat: a socket gone before its handshake ended")
            return web.Response()  # never sent: the socket's own answer could not be
        session = _Session(ws, address, SocketRate(self._frame_rate))
        self._sessions.add(session)
        watchdog = asyncio.create_task(self._close_if_silent(session))
        try:
            async for msg in ws:
                await self._on_ws_message(session, msg)
            if ws.too_big:
                await ws.linger(request)
        finally:
            watchdog.cancel()
            self._forget(session)
        return ws

    async def _close_if_silent(self, session: _Session) -> None:
        await asyncio.sleep(self.options.hello_timeout)
        if session.visitor_id is not None or session.ws.closed:
            return
        wait = f"{self.options.hello_timeout:g} s"
        log.info("webchat: a socket sent no hello in %s, closed (code hello_timeout)", wait)
        with contextlib.suppress(ConnectionResetError):
            await self._push_now(session, {"type": "error", "code": "hello_timeout",
                                           "message": f'send {{"type": "hello"}} within {wait} of connecting'})
            await session.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"hello_timeout")

    async def _on_ws_message(self, session: _Session, msg: WSMessage) -> None:
        if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY) and not session.frames.hit():
            await self._close_flooding(session)
        elif msg.type is WSMsgType.TEXT:
            try:
                await self._on_frame(session, parse_frame(msg.data))
            except FrameError as exc:
                await self._send_error(session, exc.code, exc.message, refused_client_id(msg.data))
            except HostError:  # a hello's history or secret the router could not read (it logged why)
                await self._fail(session)
        elif msg.type is WSMsgType.BINARY:
            await self._send_error(session, "binary_not_supported", "send JSON text frames")
        elif msg.type is WSMsgType.ERROR:
            # aiohttp has already closed the socket (1009 for an oversized frame)
            code = "too_large" if session.ws.too_big else "socket_error"
            log.warning("webchat: visitor %s socket closed (code %s): %s", visitor_tag(session.visitor_id), code,
                        msg.data)

    async def _close_flooding(self, session: _Session) -> None:
        """More frames than any widget sends: told and closed, rather than each frame answered
        (and each bad one logged) for as long as the client keeps sending them."""
        rate = self.options.frames_per_socket
        if self._warned.hit(f"frames:{session.address}"):
            log.warning("webchat: a socket from %s sent over %s frames, closed (code too_many_frames; logged once "
                        "a minute)", session.address, rate)
        await self._push_now(session, {"type": "error", "code": "too_many_frames",
                                       "message": f"more than {rate} frames on one socket"})
        await session.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"too_many_frames")

    async def _on_frame(self, session: _Session,
                        frame: HelloFrame | ChatFrame | PingFrame | TypingFrame | RatingFrame) -> None:
        if isinstance(frame, PingFrame):
            await self._push_now(session, {"type": "pong"})
        elif isinstance(frame, TypingFrame):
            if session.visitor_id is None:
                raise FrameError("hello_required", 'send {"type": "hello"} first')
            await self._visitor_typing(session.visitor_id)
        elif isinstance(frame, HelloFrame):
            await self._on_hello(session, frame)
        else:
            await self._on_chat(session, frame)

    async def _on_hello(self, session: _Session, frame: HelloFrame) -> None:
        if session.visitor_id is not None:
            raise FrameError("invalid_frame", "hello was already sent on this connection")
        session.lang = frame.lang
        visitor_id, new = await self._visitor_id(frame.visitor_id)
        if new and not self._new_visitors.hit(session.address):
            await self._refuse_visitor(session)
            return
        # checked and registered below with no await between: two hellos at once cannot both pass
        if len(self._visitors.get(visitor_id, ())) >= self.options.sockets_per_visitor:
            await self._refuse_tab(session, visitor_id)
            return
        session.visitor_id = visitor_id
        session.sender_name = frame.name
        session.given = {"sender": IdentityRef(kind=IDENTITY_KIND, value=visitor_id), **{k: v for k, v in (
            ("sender_name", frame.name), ("claimed_email", frame.email), ("claimed_phone", frame.phone),
            ("language", frame.lang)) if v}}
        # registered before reading history, so a reply sent meanwhile is
        # held in the backlog instead of being missed
        session.backlog = []
        self._visitors.setdefault(visitor_id, set()).add(session)
        log.debug("webchat: visitor %s connected (%d tab(s))", visitor_tag(visitor_id), len(self._visitors[visitor_id]))
        unsent: list[str] = []
        welcome = await self._welcome(visitor_id, unsent)
        await self._push_now(session, welcome)
        await self._flush_backlog(session, {f["id"] for f in welcome["history"]})
        if unsent and not session.ws.closed:  # replies no tab could take before: the history showed them
            await self._reached(visitor_id, unsent)

    async def _flush_backlog(self, session: _Session, seen: set[str]) -> None:
        # loop until nothing new arrived during the sends, then switch to
        # direct delivery with no await in between, so order is kept
        while session.backlog:
            batch, session.backlog = session.backlog, []
            for frame in batch:
                # a message the history shows is not drawn twice; an ack always goes (it ends a pending
                # message), and so does a welcome pushed meanwhile
                if frame.get("type") != "message" or frame.get("id") not in seen:
                    await self._push_now(session, frame)
        session.backlog = None

    async def _refuse_flood(self, session: _Session, limiter: MovingWindow, key: str, client_id: str) -> None:
        """Not stored and not acknowledged: the widget keeps the message and
        sends it again after ``retry_after`` seconds, so nothing is lost."""
        retry_after = max(1, math.ceil(limiter.retry_after(key)))
        whose = "this visitor" if limiter is self._limiter else "this address"
        if self._warned.hit(f"{whose}:{key}"):
            log.warning("webchat: %s over %s messages, refusing (code rate_limited; logged once a minute)",
                        whose, limiter.rate)
        await self._push_now(session, {
            "type": "error", "code": "rate_limited", "client_id": client_id, "retry_after": retry_after,
            "message": f"too many messages from {whose} ({limiter.rate}); send it again in {retry_after} s",
        })

    async def _refuse_busy(self, session: _Session, client_id: str, retry_after: int) -> None:
        await self._push_now(session, {"type": "error", "code": "busy", "client_id": client_id, "retry_after":
                                       retry_after, "message": f"busy: send it again in {retry_after} s"})

    async def _refuse_visitor(self, session: _Session) -> None:
        """Too many new visitors from one address: told when to come back and
        closed (try again later); the widget reconnects with its backoff and
        keeps the customer's unsent messages meanwhile."""
        retry_after = max(1, math.ceil(self._new_visitors.retry_after(session.address)))
        rate = self._new_visitors.rate
        if self._warned.hit(f"hello:{session.address}"):
            log.warning("webchat: over %s new visitors from one address, refusing (code rate_limited; "
                        "logged once a minute)", rate)
        await self._push_now(session, {
            "type": "error", "code": "rate_limited", "retry_after": retry_after,
            "message": f"too many new visitors from this address ({rate}); try again in {retry_after} s",
        })
        await session.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"rate_limited")

    async def _refuse_tab(self, session: _Session, visitor_id: str) -> None:
        """One visitor token on more sockets than a person has tabs (a script may send it from many
        addresses): closed, try again later; the widget reconnects with its backoff, and gets in
        once another tab of theirs has closed."""
        limit = self.options.sockets_per_visitor
        if self._warned.hit(f"tabs:{visitor_id}"):
            log.warning("webchat: visitor %s has %d sockets open, refusing more (code too_many_sockets; logged "
                        "once a minute)", visitor_tag(visitor_id), limit)
        await self._push_now(session, {"type": "error", "code": "too_many_sockets",
                                       "message": f"this visitor has {limit} chats open already; close one"})
        await session.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too_many_sockets")

    async def _visitor_id(self, claimed: str | None) -> tuple[str, bool]:
        """The visitor's id (their token's public part), and whether it is a new one."""
        tokens = await self._visitor_tokens()
        if claimed is not None and tokens.verify(claimed):
            return public_part(claimed), False
        if claimed is not None:
            log.debug("webchat: unknown or forged visitor id, issuing a new one")
        return public_part(tokens.issue()), True

    def _over_limit(self, session: _Session, visitor_id: str) -> tuple[MovingWindow, str] | None:
        """The limit a message now would break, or None (and it is counted in each)."""
        checks = ((self._limiter, visitor_id), (self._address_limiter, session.address))
        for limiter, key in checks:
            if limiter.full(key):
                return limiter, key
        for limiter, key in checks:
            limiter.hit(key)
        return None

    def _give_back(self, session: _Session, visitor_id: str) -> None:
        """A message the service refused (not stored, the widget sends it again) counts against no limit."""
        self._limiter.give_back(visitor_id)
        self._address_limiter.give_back(session.address)

    async def _visitor_tokens(self) -> VisitorTokens:
        if self._tokens is None:
            self._tokens = VisitorTokens(await self.host.secret(SECRET_NAME))
        return self._tokens

    async def _on_chat(self, session: _Session, frame: ChatFrame | RatingFrame) -> None:
        visitor_id = session.visitor_id
        if visitor_id is None:
            raise FrameError("hello_required", 'send {"type": "hello"} first')
        if session.refused is not None and session.refused[0] != frame.client_id:
            await self._refuse_busy(session, frame.client_id, session.refused[1])  # behind the refused one
            return
        if (over := self._over_limit(session, visitor_id)) is not None:
            await self._refuse_flood(session, *over, frame.client_id)
            return
        try:  # over the lag bound: the ack waits for room (the widget keeps the message pending meanwhile)
            await self.host.admission(self.name, ACK_PATIENCE)
        except HostBusy as exc:  # still none: the widget sends it again when told, as after a rate limit
            self._give_back(session, visitor_id)
            session.refused = (frame.client_id, exc.retry_after)
            await self._refuse_busy(session, frame.client_id, exc.retry_after)
            return
        session.refused = None
        inbound = InboundMessage(
            channel=self.name,
            # the router dedupes on it: a re-sent client_id is stored once
            external_id=f"{visitor_id}:{frame.client_id}",
            text=frame.text,
            rating=frame.rating,  # a rating button pressed: its score is the text
            **session.given,
        )
        try:
            accepted = await self.host.on_message(inbound)
        except HostUnavailable:  # an outage, logged once by the router's store: not acknowledged
            self._give_back(session, visitor_id)
            await self._fail(session, frame.client_id)
            return
        except HostFailed as exc:  # logged by the router with its traceback: not acknowledged
            log.warning("webchat: storing a message of visitor %s failed (code unavailable): %s",
                        visitor_tag(visitor_id), exc.reason)
            self._give_back(session, visitor_id)
            await self._fail(session, frame.client_id)
            return
        # held with other frames while a fresh welcome is prepared: an ack before it would be wiped by it
        await self._push(session, {"type": "ack", "client_id": frame.client_id, "id": accepted.message_id})
        await self._routed(visitor_id, accepted.conversation_id, self._visitors.get(visitor_id, ()))
        # the visitor's other tabs, here and on other nodes, show it too; the frame is made only when
        # there is one to show it (most visitors have one tab: ~4 % of the event loop's time per message)
        others = any(s is not session for s in self._visitors.get(visitor_id, ()))
        if not accepted.duplicate and (others or self.peers.clustered):
            echo = message_frame(accepted.message_id, Author.CUSTOMER.value, frame.text, accepted.created_at)
            await self._deliver(visitor_id, echo, skip=session)
            self.peers.broadcast(f"webchat:{self.name}", {"visitor": visitor_id, "frame": echo})

    async def _fail(self, session: _Session, client_id: str | None = None) -> None:
        """The message (``client_id``; None: the hello) could not be stored: say so, when to try again
        and in the visitor's words, and drop the socket, so the widget reconnects and re-sends it (the
        message stays pending there) when told, waiting longer each time in a row."""
        await self._push_now(session, unavailable_frame(session.lang, client_id))
        await session.ws.close(code=WSCloseCode.INTERNAL_ERROR)

    async def _send_error(self, session: _Session, code: str, message: str, client_id: str | None = None) -> None:
        # one line a minute per address: a script's flood of bad frames must not flood the log too
        if self._warned.hit(f"bad:{session.address}"):
            log.warning("webchat: bad frame from visitor %s (code %s; logged once a minute per address)",
                        visitor_tag(session.visitor_id), code)
        frame = {"type": "error", "code": code, "message": message}
        if client_id is not None:  # the widget drops what it kept to re-send: it is refused for good
            frame["client_id"] = client_id
        await self._push_now(session, frame)

    # -- delivery --------------------------------------------------------------
    async def send(self, message: OutboundMessage, progress: SendProgress | None = None) -> SendResult:
        """Sent when a tab of this node's took it. Tabs on other nodes get it
        there (``Peers``), and that node says so (``ConnectorHost.reached``);
        with no tab anywhere it waits (``RecipientAway``) and the visitor's
        next welcome shows it, and says so."""
        # the widget knows customer, bot and agent; an automatic notice reads as the bot
        author = Author.BOT if message.author is Author.SYSTEM else message.author
        # the widget shows text only: files go as their links
        links = [a.url for a in message.attachments if a.url and a.url.startswith(("http://", "https://"))]
        text = "\n".join([message.text, *links]) if message.text else "\n".join(links)
        frame = message_frame(message.message_id, author.value, text, message.created_at,
                              await frame_files(self.files, message.attachments))
        # the visitor's identity value; an entry written before it was the token's public part has the token
        visitor_id = public_part(message.recipient)
        if message.history_changed:  # the visitor proved more of their history: the tabs show it whole
            await self._welcome_again(visitor_id)
        here = await self._deliver(visitor_id, frame)
        if (survey := survey_frame(message)) is not None:  # the rating's buttons, under the question just shown
            await self._deliver(visitor_id, survey)
        self.peers.broadcast(f"webchat:{self.name}", {"visitor": visitor_id, "frame": frame,
                                                       "history_changed": message.history_changed,
                                                       "survey": survey})
        if not here:
            raise RecipientAway("the visitor has no chat open on this node")
        return SendResult(external_id=None)

    async def _relayed(self, data: dict[str, Any]) -> None:
        """Another node's reply: to this node's tabs of the visitor, if any, and said to have reached them."""
        visitor_id, frame = public_part(data["visitor"]), data["frame"]  # a node not yet upgraded names the token
        if visitor_id not in self._visitors:
            return
        try:
            if data.get("history_changed"):
                await self._welcome_again(visitor_id)
        except HostError as exc:  # the frame still goes; the tab's next welcome shows the whole history
            log.warning("webchat: a fresh welcome for visitor %s failed: %s", visitor_tag(visitor_id), exc.reason)
        if await self._deliver(visitor_id, frame) and frame["author"] != Author.CUSTOMER.value:
            await self._reached(visitor_id, [frame["id"]])
        if data.get("survey"):  # a rating's buttons, under the question
            await self._deliver(visitor_id, data["survey"])

    async def _reached(self, visitor_id: str, message_ids: list[str]) -> None:
        try:
            await self.host.reached(self.name, visitor_id, message_ids)
        except HostError as exc:  # it stays unsent (not lost): the visitor's next welcome says so again
            log.warning("webchat: recording %d repl(ies) as reaching visitor %s failed: %s", len(message_ids),
                        visitor_tag(visitor_id), exc.reason)

    async def _welcome_again(self, visitor_id: str) -> None:
        """A fresh welcome to each open tab, as the first one goes: frames for
        a tab while its history is read are held and follow the welcome (the
        widget redraws from it: one pushed before would be wiped)."""
        tabs = list(self._visitors.get(visitor_id, ()))
        mine = [s for s in tabs if s.backlog is None]  # a tab with a backlog is being welcomed: it gets this one in it
        for session in mine:
            session.backlog = []
        welcome: dict[str, Any] | None = None
        try:
            welcome = await self._welcome(visitor_id)
        finally:  # even without a welcome (an outage) what was held goes out
            seen = {f["id"] for f in welcome["history"]} if welcome is not None else set()
            for session in tabs:
                if session not in mine:
                    if welcome is not None and session.backlog is not None:
                        session.backlog.append(welcome)
                    continue
                if welcome is not None:
                    await self._push_now(session, welcome)
                await self._flush_backlog(session, seen)

    async def _welcome(self, visitor_id: str, unsent: list[str] | None = None) -> dict[str, Any]:
        """The welcome frame; ``unsent`` gets the ids of the replies in it that were not sent yet."""
        stored = await self.host.history(IdentityRef(kind=IDENTITY_KIND, value=visitor_id), HISTORY_LIMIT)
        if unsent is not None:
            unsent.extend(m.id for m in stored if m.delivery is Delivery.PENDING)
        # the widget's credential, given back to the tab that proved it (all the visitor's tabs did)
        token = (await self._visitor_tokens()).token_of(visitor_id)
        welcome: dict[str, Any] = {"type": "welcome", "visitor_id": token, "history": history_frames(
            stored, await history_files(self.files, stored))}
        try:
            # the hours of the team that will answer them: their conversation's once it is routed
            welcome["availability"] = availability_frame(await self.host.availability(
                IdentityRef(kind=IDENTITY_KIND, value=visitor_id)))
        except HostError:  # logged by the host: the widget says only whether it is connected
            log.debug("webchat: a welcome without who answers now")
        if (seen := await self._visitor_seen(visitor_id)) is not None:  # an agent has read their last message
            welcome["seen"] = seen
        return welcome

    async def _deliver(self, visitor_id: str, frame: dict[str, Any], skip: _Session | None = None) -> int:
        """To each of the visitor's tabs on this node; how many there were."""
        targets = [s for s in self._visitors.get(visitor_id, ()) if s is not skip]
        await asyncio.gather(*(self._push(s, frame) for s in targets))
        return len(targets)

    async def _push(self, session: _Session, frame: dict[str, Any]) -> None:
        if session.backlog is not None:
            session.backlog.append(frame)
        else:
            await self._push_now(session, frame)

    async def _push_now(self, session: _Session, frame: dict[str, Any]) -> None:
        if session.ws.closed:
            return
        if frame["type"] in _STATUS_FRAMES:  # what its status line shows now
            session.told = frame.get("availability")
        try:
            await session.ws.send_frame(encode_frame(frame), WSMsgType.TEXT)
        except ConnectionError:
            # the tab went away mid-send; its handler cleans up
            log.debug("webchat: visitor %s tab closed while sending", visitor_tag(session.visitor_id))

    def _forget(self, session: _Session) -> None:
        self._sessions.discard(session)
        if session.visitor_id is None:
            return
        tabs = self._visitors.get(session.visitor_id)
        if tabs is not None:
            tabs.discard(session)
            if not tabs:
                del self._visitors[session.visitor_id]
        log.debug("webchat: visitor %s disconnected (close code %s)", visitor_tag(session.visitor_id),
                  session.ws.close_code)

    async def close_clients(self) -> None:
        sessions = list(self._sessions)
        await asyncio.gather(
            *(s.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down") for s in sessions),
            return_exceptions=True,
        )
