"""The core as connectors see it (``router.connector.ConnectorHost``: a
message in, a delivery receipt, a customer's history, a secret), and the
composition of its parts: the ingest pipeline (``router.ingest.service``),
the agents' actions (``router.conversations.service``) and the steps they
share (codes, self-service, the phone request, the bot's desk).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from router import events
from router.bot.base import Bot
from router.bot.config import BotFile, Intent, Messages
from router.bot.desk import BotDesk
from router.bot.health import BotHealth
from router.bot.welcome import Greeter
from router.bus import EventBus
from router.connector import (
    Accepted,
    Availability,
    ChannelLabel,
    Connector,
    HostBusy,
    HostError,
    HostFailed,
    HostUnavailable,
)
from router.conversations.outbound import Outgoing, send
from router.conversations.service import CapacityOf, Conversations
from router.csat.config import CsatConfig
from router.csat.service import Surveys
from router.identity.phone_ask import PhoneAsker
from router.identity.selfservice import SelfService
from router.identity.service import IdentityRules
from router.identity.verification import Verifier
from router.ingest.pressure import Pressure
from router.ingest.service import HISTORY_LIMIT, LANGUAGE_LOOKBACK, Ingest
from router.language import answer_language, needs_history
from router.metrics import Metrics
from router.models import ConversationView, CoreMeta, Delivery, IdentityRef, InboundMessage, Message, utcnow
from router.redaction import redact, textless_traceback, without_addresses, without_quotes
from router.routing.availability import answering_team, availability, office_hours
from router.routing.decide import Routing
from router.routing.rules import RulesRouting
from router.search.actions import Labels, Snoozes
from router.store.base import Store
from router.store.errors import NotFound, StoreError, StoreUnavailable

log = logging.getLogger(__name__)

# how long "who answers now" is read from memory before the store is asked again
AVAILABILITY_FRESH = timedelta(seconds=5)
# the ids of the agents who take a team's new conversations (None: any agent; ``Assigner.answerers``)
Answerers = Callable[[str | None], Awaitable[set[str] | None]]
# seconds between two warnings that the entry points push back
PUSHBACK_LOG_EVERY = 60.0


@contextlib.contextmanager
def _for_connectors(what: str, *args: object) -> Iterator[None]:
    """Whatever goes wrong in the core in the words of the connector contract
    (``HostError``), which knows no store: the one place where it is turned.

    An outage (``StoreUnavailable``) is ``HostUnavailable``, logged once by
    the store as it starts and ends. Any other store error (a write refused)
    and any other exception (a bug in the core) is ``HostFailed``, logged here
    with its traceback, the one log of it: a connector that met it logs a line
    without one. A bug is not let through as it is: a poller would die of it
    and stop taking messages, and a webhook would answer aiohttp's 500 with a
    second traceback; as ``HostFailed`` the poller leaves the message
    unconfirmed and goes on, and the webhook answers 500 so the platform
    delivers again. ``asyncio.CancelledError`` is no ``Exception``: it passes.

    ``what`` and ``args`` name the call in the log (a channel and an external
    id, never the customer's text). A bug's traceback is logged without the
    exceptions' words (``textless_traceback``), which may quote the text; a
    store error's words are the backend's (which rule broke), so it is logged
    whole. The reason a connector gets holds only the error's type."""
    try:
        yield
    except Exception as exc:
        raise _host_error(exc, what, *args) from exc


def _host_error(exc: Exception, what: str, *args: object) -> HostError:
    """``exc`` met in the core as the connectors hear it, logged as ``_for_connectors`` says (called
    while it is handled: the store's refusal is logged with its traceback)."""
    if isinstance(exc, StoreUnavailable):
        return HostUnavailable(exc.reason)
    if isinstance(exc, StoreError):
        log.exception("the store refused " + what, *args)
        return HostFailed(f"the store refused it ({type(exc).__name__}; see the server log)")
    log.error("a bug in the core failed " + what + "\n%s", *args, textless_traceback(exc))
    return HostFailed(f"an internal error ({type(exc).__name__}; see the server log)")


class Router:
    """The connectors' host (``on_message``, ``history``, ``secret``,
    ``on_delivery_status``) over the core's parts, which it builds once:
    ``ingest`` (the pipeline), ``conversations`` (the agents' actions), and
    the steps both share (``verifier``, ``selfservice``, ``phone_asker``,
    ``bot_desk``). Every part reads the one clock here, which tests and tools swap."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        routing: Routing,
        metrics: Metrics,
        clock: Callable[[], datetime] = utcnow,
        identity: IdentityRules | None = None,
        bot: Bot | None = None,
        bot_messages: Messages | None = None,
        bot_config: BotFile | None = None,
        csat: CsatConfig | None = None,
        lag_bound: float = float("inf"),
        capacity_of: CapacityOf | None = None,
        answerers: Answerers | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.metrics = metrics
        self.clock = clock
        self.identity = identity or IdentityRules()
        self.outbox_wakeup = asyncio.Event()
        # a lambda, not the bound clock: tests and tools swap ``router.clock`` later
        now = lambda: self.clock()  # noqa: E731, PLW0108
        self.verifier = Verifier(store, bus, self.identity, now, self.outbox_wakeup)
        self.phone_asker = PhoneAsker(store, bus, self.identity, now, self.outbox_wakeup)
        self.selfservice = SelfService(store, bus, self.identity, self.verifier, now, self.outbox_wakeup)
        # the last answer of ``availability`` per team (None: the default route's) and until when it stands
        self._availability: dict[str | None, tuple[datetime, Availability]] = {}
        self._answerers = answerers
        # how each channel (connector name) is named to people (``connect``)
        self.channel_labels: dict[str, ChannelLabel] = {}
        # the bot's intents by name: what a conversation was about (the greeting, the agent's panel)
        self.bot_intents: dict[str, Intent] = {i.name: i for i in bot_config.intents} if bot_config else {}
        # None: no bot configured; conversations rules send to the bot wait for an agent
        # whether the bot's answers fail: the supervisors' alert (router.bot.health; the wallboard reads it)
        self.bot_health = BotHealth(bus)
        self.bot_desk = None if bot is None else BotDesk(
            store, bus, lambda: self.routing, bot, bot_messages or Messages(), now,
            self.outbox_wakeup, self._greeter(bot_config, bot_messages or Messages()), self.bot_health,
        )
        # ``capacity_of``: the agents' capacities (``Assigner.capacity_of``), which their takes keep
        self.conversations = Conversations(store, bus, now, self.outbox_wakeup, has_bot=self.bot_desk is not None,
                                           capacity_of=capacity_of)
        self.snoozes, self.labels = Snoozes(store, bus, now), Labels(store, bus, now)  # router/search/
        self.verifier.reachable = self.conversations.window_open  # a code never goes where a reply window has closed
        # how far behind the pipeline is, against server.lag_bound: the entry points' admission
        self.pressure = Pressure(lag_bound)
        self._warned_at = -PUSHBACK_LOG_EVERY
        metrics.pipeline_lag.set_function(self.pressure.lag)
        metrics.pipeline_in_flight.set_function(lambda: self.pressure.in_flight)
        metrics.admission_waiting.set_function(lambda: self.pressure.waiting)
        self.ingest = Ingest(store, bus, routing, metrics, self.identity, now, self.outbox_wakeup, self.selfservice,
                             self.phone_asker, self.bot_desk, (bot_messages or Messages()).handoff, self.pressure)
        # the satisfaction survey after an agent's resolve, and the answers before routing
        self.surveys = Surveys(store, bus, now, self.outbox_wakeup, csat or CsatConfig(), self._queue_open,
                               self.conversations.window_open)
        self.conversations.after_resolve = self.surveys.after_resolve
        self.ingest.surveys = self.surveys

    @property
    def routing(self) -> Routing:
        """The one routing the pipeline decides with and the bot desk hands
        off with: kept by the pipeline, so the two can never disagree."""
        return self.ingest.routing

    def _queue_open(self, team: str | None, now: datetime) -> bool:
        """Is ``team``'s queue open now (rules.yaml's hours; always, without rules or hours)?"""
        ruleset = self.routing.ruleset if isinstance(self.routing, RulesRouting) else None
        hours = ruleset.queue_hours(team) if ruleset is not None else None
        return hours is None or hours.is_open(now)

    async def transferred(self, view: ConversationView) -> Message | None:
        """Invariant 8 on an agent's transfer to a team: one whose queue is
        closed now tells the customer when it opens (its after-hours message,
        in their language, where they last wrote); before, they waited until
        the opening hearing nothing. An open team says nothing: the agent who
        transfers speaks for it. The message, or None when none is due."""
        routing = self.routing
        if not isinstance(routing, RulesRouting):
            return None
        last = await self.store.last_inbound(view.id)
        if last is None or last.sender is None or not self.conversations.window_open(last):
            return None
        customer = await self.store.get_customer(view.customer_id)
        earlier = await self.store.list_messages(view.id, LANGUAGE_LOOKBACK) if needs_history(last, customer) else []
        language = answer_language(last, customer, reversed(earlier))
        text = routing.ruleset.after_hours_notice(view.team, routing.clock(), language)
        if text is None:
            return None
        out = Outgoing.automatic(last, view, text, CoreMeta(automatic="handoff"))
        message, _ = await send(self.store, self.bus, self.outbox_wakeup, out, self.clock())
        return message

    def use_bot(self, bot: Bot, config: BotFile) -> None:
        """A reloaded bot.yaml (``router.bot.reload``), all in one step: the
        next turn answers with ``bot`` (entered already), and its messages,
        greeting and intents' titles are the new file's."""
        assert self.bot_desk is not None, "a bot is reloaded only where one started"
        self.bot_intents = {i.name: i for i in config.intents}
        self.bot_desk.replace(bot, config.messages, self._greeter(config, config.messages))
        self.ingest.handoff_texts = config.messages.handoff

    def _greeter(self, config: BotFile | None, messages: Messages) -> Greeter | None:
        """Who greets a returning customer (bot.yaml's welcome_back)."""
        if config is not None and not config.welcome_back.enabled:
            return None
        pause = timedelta(seconds=config.welcome_back.pause) if config is not None else None
        greeter = Greeter(self.store, self.identity.identity_of, messages, self.bot_intents,
                          lambda: self.channel_labels)
        if pause is not None:
            greeter.pause = pause
        return greeter

    def connect(self, connectors: Mapping[str, Connector[Any]]) -> None:
        """What the running connectors (by name) are, as the core's parts
        need it: codes go only where a connector runs, a channel's name to
        people, which can ask for a phone with a button, which limit how long
        after the customer's last message a free-text reply may go."""
        self.verifier.channels = frozenset(connectors)
        self.channel_labels = {name: c.channel_label() for name, c in connectors.items()}
        self.phone_asker.channels = frozenset(name for name, c in connectors.items() if c.asks_phone)
        self.surveys.button_channels = frozenset(name for name, c in connectors.items() if c.rates_with_buttons)
        self.conversations.reply_windows = {
            name: window for name, c in connectors.items() if (window := c.reply_window()) is not None
        }

    # -- what connectors see (router.connector.ConnectorHost) ----------------
    @property
    def lag_bound(self) -> float:
        return self.pressure.bound

    async def admission(self, channel: str, patience: float | None) -> None:
        if not self.pressure.over():  # the common case: no await, so the message is counted at once
            return
        self._warn_pushback(channel)
        if await self.pressure.room(patience):
            self.metrics.admission_held.labels(channel).inc()
            return
        self.metrics.admission_refused.labels(channel).inc()
        raise HostBusy(self.pressure.retry_after())

    def _warn_pushback(self, channel: str) -> None:
        """Once a minute at most while it lasts: an overload must not flood the log too."""
        now = time.monotonic()
        if now - self._warned_at >= PUSHBACK_LOG_EVERY:
            self._warned_at = now
            log.warning("the pipeline is %.1f s behind, over its bound of %g s (server.lag_bound): entry points "
                        "push back (first on %s; logged once a minute)", self.pressure.lag(), self.pressure.bound,
                        channel)

    async def on_message(self, message: InboundMessage) -> Accepted:
        # ``_for_connectors`` written out: its context manager was ~2 % of the event loop's time per message
        try:
            return await self.ingest.on_message(message)
        except Exception as exc:
            raise _host_error(exc, "message %s/%s", message.channel, message.external_id) from exc

    async def history(self, sender: IdentityRef, limit: int = HISTORY_LIMIT) -> list[Message]:
        """What the customer writing as ``sender`` may see of their history (``Ingest.history``)."""
        with _for_connectors("the history of a %s sender", sender.kind):
            return await self.ingest.history(sender, limit)

    async def secret(self, name: str) -> bytes:
        with _for_connectors("the secret %s", name):
            return await self.store.secret(name)

    async def cursor(self, key: str) -> str | None:
        with _for_connectors("the position %s", key):
            return await self.store.cursor(key)

    async def save_cursor(self, key: str, value: str) -> None:
        with _for_connectors("the position %s", key):
            await self.store.save_cursor(key, value)

    async def availability(self, customer: IdentityRef | None = None) -> Availability:
        # the team that will answer ``customer``: their open conversation's, else the default route's
        routed = await self._answering_team(customer) if customer is not None else None
        team = answering_team(self.routing, routed)
        # read at most every few seconds: every visitor's (re)connection asks
        now = self.clock()
        known = self._availability.get(team)
        if known is not None and now < known[0]:
            return known[1]
        with _for_connectors("who answers now"):
            presence = await self.store.list_presence()
            ids = await self._answerers(team) if self._answerers is not None else None
        if ids is not None:  # an agent of another team online is nobody to answer this customer
            presence = [p for p in presence if p.agent_id in ids]
        answer = availability(office_hours(self.routing, team), presence, now)
        self._availability[team] = (now + AVAILABILITY_FRESH, answer)
        return answer

    async def _answering_team(self, customer: IdentityRef) -> str | None:
        """The team of the open conversation of the customer who writes as
        ``customer``; None when they have none (or it is in no team's queue)."""
        with _for_connectors("the open conversation of a %s customer", customer.kind):
            found = await self.store.open_conversation_of(self.identity.identity_of(customer))
            if found is None:
                return None
            try:
                return (await self.store.get_conversation(found)).team
            except NotFound:  # resolved and gone meanwhile (a merge): as before it was routed
                return None

    async def reached(self, channel: str, recipient: str, message_ids: list[str]) -> None:
        with _for_connectors("the replies %s has now", channel):
            reached = await self.store.outbox_reached(channel, recipient, message_ids, self.clock())
        for message in reached:
            log.info("message %s on %s reached its recipient", message.id, channel)
            self.bus.publish(events.message_updated(message))

    async def on_delivery_status(
        self, channel: str, external_id: str, state: Delivery, error: str | None = None
    ) -> None:
        error = redact(error) if error is not None else None  # the agent reads it
        with _for_connectors("a receipt for %s/%s", channel, external_id):
            message = await self.store.record_delivery(channel, external_id, state, error, self.clock())
        if message is None:
            log.debug("receipt %s for %s/%s changes nothing (yet)", state.value, channel, external_id)
            return
        if error:
            # a bounce or a carrier's words may quote the recipient and the message: the agent reads
            # them, the log does not
            files = [part for a in message.attachments for part in (a.name, a.url)]
            error = without_addresses(without_quotes(error, [message.text], files))
        log.info("message %s on %s is %s%s", message.id, channel, state.value, f": {error}" if error else "")
        self.bus.publish(events.message_updated(message))
