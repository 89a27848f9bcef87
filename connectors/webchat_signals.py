"""The site chat's live signals (router.signals): the visitor typing, told to
the core; an agent typing and an agent having seen the visitor's last
message, pushed to the visitor's tabs, on whichever node holds them; and
whether people answer now once the visitor's conversation is routed.

Frames (DESIGN.md, ``WS /chat/ws``): client ``{"type": "typing"}``; server
``{"type": "typing", "author": "agent"}``, ``{"type": "seen", "id": ...}``
and ``{"type": "availability", "availability": {...}}`` (as the welcome's).
Nothing of it is stored; between nodes it goes as a signal (``Peers.signal``),
never through the event log."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any, ClassVar, Protocol

import limits

from connectors.chat_limits import MovingWindow
from connectors.webchat_tokens import public_part
from connectors.webchat_widget import availability_frame
from router.connector import ConnectorHost, CustomerSignals, HostError, Peers
from router.models import IdentityRef

log = logging.getLogger(__name__)

# a visitor's typing frames taken from one socket, whatever a script sends: the widget sends one
# every 2.5 s while they type, and one at once after each message; the core passes on at most one a
# conversation every 2 s (router.signals)
TYPING_RATE = "5 per 10 seconds"


class _Tab(Protocol):
    # the conversation whose team its status line speaks for (None: as its welcome found it)
    conversation_id: str | None
    # the availability its status line shows (its welcome's, or the last "availability" frame's)
    told: dict[str, Any] | None


class WebChatSignals:
    """Mixed into ``WebChatConnector``, which gives it its name, its visitors'
    tabs (``_deliver``) and the node's peers and signals."""

    shows_typing: ClassVar[bool] = True
    shows_seen: ClassVar[bool] = True
    name: str
    host: ConnectorHost
    peers: Peers
    signals: CustomerSignals
    identity_kind: ClassVar[str]

    async def _deliver(self, visitor_id: str, frame: dict[str, Any]) -> int:
        raise NotImplementedError

    async def _push(self, session: Any, frame: dict[str, Any]) -> None:
        raise NotImplementedError

    async def _routed(self, visitor_id: str, conversation_id: str | None, tabs: Collection[_Tab]) -> None:
        """The visitor's message went to ``conversation_id``: a tab whose
        status line spoke for another (its welcome's: the default route's team,
        before the conversation was routed) is told who answers now for the
        team it went to, whose hours may be others."""
        stale = [tab for tab in tabs if conversation_id is not None and tab.conversation_id != conversation_id]
        if not stale:
            return
        for tab in stale:
            tab.conversation_id = conversation_id
        try:
            answer = await self.host.availability(IdentityRef(kind=self.identity_kind, value=visitor_id))
        except HostError:  # logged by the host: the status line keeps what the welcome said
            log.debug("webchat: who answers visitor's conversation %s now is unknown", conversation_id)
            return
        frame = {"type": "availability", "availability": availability_frame(answer)}
        for tab in stale:
            if tab.told != frame["availability"]:  # the same words again would change nothing
                await self._push(tab, frame)

    def _setup_signals(self) -> None:
        """In ``setup_routes``, once the node's peers are given."""
        self._typing_window = MovingWindow(limits.parse(TYPING_RATE))
        self.peers.on(self._signal_topic, self._signal_relayed)

    @property
    def _signal_topic(self) -> str:
        return f"webchat-signals:{self.name}"

    async def _visitor_typing(self, visitor_id: str) -> None:
        if self._typing_window.hit(visitor_id):
            await self.signals.customer_typing(self.name, IdentityRef(kind=self.identity_kind, value=visitor_id))

    async def _visitor_seen(self, visitor_id: str) -> str | None:
        """Their last message, if an agent has seen it (for the welcome)."""
        return await self.signals.seen_message(self.name, IdentityRef(kind=self.identity_kind, value=visitor_id))

    async def show_typing(self, recipient: str) -> None:
        await self._signal(recipient, {"type": "typing", "author": "agent"})

    async def show_seen(self, recipient: str, message_id: str) -> None:
        await self._signal(recipient, {"type": "seen", "id": message_id})

    async def _signal(self, recipient: str, frame: dict[str, Any]) -> None:
        visitor_id = public_part(recipient)  # the identity's value (a token in data from before it was not)
        await self._deliver(visitor_id, frame)
        self.peers.signal(self._signal_topic, {"visitor": visitor_id, "frame": frame})

    async def _signal_relayed(self, data: dict[str, Any]) -> None:
        """Another node's signal: to this node's tabs of the visitor, if any."""
        visitor_id, frame = data.get("visitor"), data.get("frame")
        if isinstance(visitor_id, str) and isinstance(frame, dict):
            await self._deliver(public_part(visitor_id), frame)
