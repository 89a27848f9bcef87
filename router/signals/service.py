"""The live signals' rules: who may be told what, how often, and when a read
clears a count or shows the customer "Seen".

Typing is ephemeral: it is never stored, crosses nodes without the event log
(``events.EPHEMERAL``, ``router.cluster.pg_bus``), and each way is throttled
here, per node, on top of the clients' own throttling: a customer's typing
reaches the consoles at most once per ``CUSTOMER_TYPING_EVERY`` seconds, an
agent's reaches the customer's platform at most once per
``AGENT_TYPING_EVERY`` (Telegram and VK show it for about five seconds).
Unread counts are read from each agent's read mark (``ReadStore``), never
kept per message."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from router import events
from router.bus import Event, EventBus, Subscription
from router.connector import Connector
from router.conversations.store import ConversationStore, MessageStore
from router.models import Agent, ConversationStatus, IdentityRef, Message
from router.signals.store import ReadMark, ReadStore
from router.store.errors import StoreError

log = logging.getLogger(__name__)

CUSTOMER_TYPING_EVERY = 2.0
AGENT_TYPING_EVERY = 3.0
# how long a customer's open conversation is remembered for their typing (a store read saved);
# forgotten at once when a conversation changes (``forget``: resolved, reopened, created)
CONVERSATION_MEMORY = 30.0
# and that they have none (a visitor typing before their first message): each frame past the
# throttle would read the store again
NO_CONVERSATION_MEMORY = 10.0
# what makes a remembered conversation (or its absence) wrong
_CHANGES = frozenset({events.CONVERSATION_CREATED, events.CONVERSATION_UPDATED})
# a count is cut here: the console shows "99+"
UNREAD_CAP = 100
# seconds a platform may take to show an agent typing before it is given up
SHOW_TIMEOUT = 5.0
MAX_KEYS = 10_000


class SignalsStore(ReadStore, ConversationStore, MessageStore, Protocol):
    """The read marks, a conversation's state, and its customer's last message (where they write from)."""


class Throttle:
    """At most one pass per key every ``every`` seconds, in this node's memory;
    the least recently used keys are forgotten past ``max_keys`` (one forgotten
    only lets a signal through a little early)."""

    def __init__(self, every: float, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS) -> None:
        self.every = every
        self._clock = clock
        self._max_keys = max_keys
        self._last: OrderedDict[Hashable, float] = OrderedDict()

    def passes(self, key: Hashable) -> bool:
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self.every:
            return False
        self._last[key] = now
        self._last.move_to_end(key)
        while len(self._last) > self._max_keys:
            self._last.popitem(last=False)
        return True


@dataclass(frozen=True, slots=True)
class Read:
    mark: ReadMark
    unread: int


@dataclass(frozen=True, slots=True)
class Unread:
    counts: dict[str, int]  # the conversations asked about and the agent's own
    mine: list[str]  # the agent's open conversations
    total: int  # over those


class Signals:
    """Typing both ways, read marks and "Seen". ``connectors`` (by name) are
    the running ones, given after they are built (``connect``)."""

    def __init__(self, store: SignalsStore, bus: EventBus, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.connectors: Mapping[str, Connector[Any]] = {}
        self._customer_typing = Throttle(CUSTOMER_TYPING_EVERY, clock)
        self._agent_typing = Throttle(AGENT_TYPING_EVERY, clock)
        # (kind, value) -> (their open conversation or None, when read); forgotten on a change
        self._open: OrderedDict[tuple[str, str], tuple[str | None, float]] = OrderedDict()
        self._writers: dict[str, set[tuple[str, str]]] = {}  # conversation -> its keys in ``_open``
        self._none: set[tuple[str, str]] = set()  # the keys remembered with no conversation
        self._changes: Subscription | None = None  # the bus's events, while ``run`` runs
        self._seen_shown: OrderedDict[str, str] = OrderedDict()  # conversation -> message shown as seen

    def connect(self, connectors: Mapping[str, Connector[Any]]) -> None:
        self.connectors = connectors

    # -- what connectors report (router.connector.CustomerSignals) ---------------------
    async def customer_typing(self, channel: str, sender: IdentityRef) -> None:
        try:
            conversation_id = await self._open_conversation(sender)
        except StoreError as exc:  # best-effort: a typing indicator is not worth an error
            log.debug("signals: a customer's typing on %s dropped: %s", channel, exc)
            return
        # throttled per conversation shown: typing before the first message (no conversation yet) uses up nothing
        if conversation_id is not None and self._customer_typing.passes(conversation_id):
            self.bus.publish(events.conversation_typing(conversation_id, "customer"))

    async def seen_message(self, channel: str, sender: IdentityRef) -> str | None:
        try:
            return await self.store.seen_message(sender)
        except StoreError as exc:
            log.debug("signals: whether %s's last message was seen is unknown: %s", channel, exc)
            return None

    async def _open_conversation(self, sender: IdentityRef) -> str | None:
        self._catch_up()
        key = (sender.kind, sender.value)
        known = self._open.get(key)
        now = self.clock()
        if known is not None and now - known[1] < (NO_CONVERSATION_MEMORY if known[0] is None
                                                    else CONVERSATION_MEMORY):
            return known[0]
        found = await self.store.open_conversation_of(sender)
        self._drop(key)
        self._open[key] = (found, now)
        if found is None:
            self._none.add(key)
        else:
            self._writers.setdefault(found, set()).add(key)
        while len(self._open) > MAX_KEYS:
            self._drop(next(iter(self._open)))
        return found

    def _drop(self, key: tuple[str, str]) -> None:
        known = self._open.pop(key, None)
        if known is None:
            return
        self._none.discard(key)
        keys = self._writers.get(known[0] or "")
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._writers[known[0] or ""]

    def forget(self, event: Event) -> None:
        """What a conversation's change makes wrong in the memory of open
        conversations: the changed one (resolved: typing must not show against
        it), and every "none" (the customer may have one now). Any other
        conversation's memory stays."""
        if event.type not in _CHANGES:
            return
        changed = event.data.get("conversation", {}).get("id")
        for key in [*self._none, *self._writers.get(changed or "", ())]:
            self._drop(key)

    async def run(self) -> None:
        """Keep the memory true while the node runs (this node's events and the cluster's)."""
        async with self.bus.subscribe(_CHANGES) as sub:
            self._changes = sub
            try:
                async for event in sub:
                    self.forget(event)
            finally:
                self._changes = None

    def _catch_up(self) -> None:
        """The changes published and not yet read by ``run``, applied now: a
        typing frame right after a resolve must not find the resolved one."""
        sub = self._changes
        while sub is not None and not sub.queue.empty():
            event = sub.queue.get_nowait()
            if event is None:  # the bus closes: ``run`` ends on it
                sub.queue.put_nowait(None)
                return
            self.forget(event)

    # -- what agents do ----------------------------------------------------------------
    async def agent_typing(self, conversation_id: str, agent: Agent) -> bool:
        """Show the customer that ``agent`` is typing, where their channel can:
        whether it can. ``NotFound`` for an unknown conversation."""
        conversation = await self.store.get_conversation(conversation_id)
        if conversation.status is ConversationStatus.RESOLVED:
            return False
        if conversation.status is ConversationStatus.ASSIGNED and conversation.agent_id not in (None, agent.id):
            return False  # a colleague's conversation: this agent's reply would be refused, so is their typing
        last = await self.store.last_inbound(conversation.id)
        target = self._target(last, "shows_typing")
        if target is None:
            return False
        connector, recipient = target
        if self._agent_typing.passes((connector.name, recipient)):
            try:
                async with asyncio.timeout(SHOW_TIMEOUT):
                    await connector.show_typing(recipient)
            except TimeoutError:
                log.debug("signals: %s took over %gs to show an agent typing, given up", connector.name,
                          SHOW_TIMEOUT)
        log.debug("signals: %s types in conversation %s", agent.username, conversation_id)
        return True

    def _target(self, last: Message | None, can: str) -> tuple[Connector[Any], str] | None:
        """The connector and recipient of the customer's last message, if that channel ``can``."""
        if last is None or last.sender is None:
            return None
        connector = self.connectors.get(last.channel)
        if connector is None or not getattr(connector, can):
            return None
        return connector, last.sender.value

    async def mark_read(self, conversation_id: str, agent: Agent, message_id: str | None) -> Read:
        """The agent has read the conversation up to ``message_id`` (None: all
        of it). Their other tabs and devices hear it; the customer is shown
        "Seen" when their last message is read and their channel can show it.
        ``NotFound`` for an unknown conversation or a message not in it."""
        mark = await self.store.mark_read(agent.id, conversation_id, message_id)
        self.bus.publish(events.conversation_read(conversation_id, agent.id, mark.message_id, mark.read_at))
        await self._show_seen(mark)
        counts = await self.store.unread_counts(agent.id, [conversation_id], UNREAD_CAP)
        return Read(mark, counts.get(conversation_id, 0))

    async def _show_seen(self, mark: ReadMark) -> None:
        last = await self.store.last_inbound(mark.conversation_id)
        if last is None or last.sender is None or self._seen_shown.get(mark.conversation_id) == last.id:
            return
        # read by the store's order of messages, not their times (one stamped earlier may be stored later)
        if await self.store.seen_message(last.sender) != last.id:
            return
        target = self._target(last, "shows_seen")
        if target is None:
            return
        self._seen_shown[mark.conversation_id] = last.id
        while len(self._seen_shown) > MAX_KEYS:
            self._seen_shown.popitem(last=False)
        connector, recipient = target
        try:
            async with asyncio.timeout(SHOW_TIMEOUT):
                await connector.show_seen(recipient, last.id)
        except TimeoutError:
            log.debug("signals: %s took over %gs to show a message seen, given up", connector.name, SHOW_TIMEOUT)

    async def unread(self, agent: Agent, conversation_ids: list[str]) -> Unread:
        """The agent's unread counts of these conversations and of their own open ones."""
        mine = await self.store.assigned_unread(agent.id, UNREAD_CAP)
        asked = [c for c in dict.fromkeys(conversation_ids) if c not in mine]
        counts = {**await self.store.unread_counts(agent.id, asked, UNREAD_CAP), **mine}
        return Unread(counts, sorted(mine), sum(mine.values()))
