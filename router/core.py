"""The router: the ingest pipeline and the actions agents take.

    dedupe + persist -> identity -> conversation -> routing -> events

Each step is one atomic store call, so a crash between steps leaves a stored
but unrouted message that ``resume`` finishes on the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from router.aio import finish
from router.bot.base import Bot
from router.bot.config import BotFile, Intent, Messages
from router.bot.desk import BotDesk
from router.bot.welcome import Greeter
from router.bus import Event, EventBus
from router.connector import Accepted, ChannelLabel, HostUnavailable, ReplyWindow
from router.identity.phone_ask import PhoneAsker, merges_by_proof, proof_only
from router.identity.selfservice import SelfService
from router.identity.service import IdentityRules
from router.identity.types import IdentityPlan
from router.identity.verification import Verifier
from router.metrics import Metrics
from router.models import (
    Agent,
    Attachment,
    Author,
    ConversationStatus,
    ConversationView,
    Customer,
    Delivery,
    Direction,
    IdentityRef,
    InboundMessage,
    MergeRecord,
    Message,
    OutboundMessage,
    RouteDecision,
    RouteTrace,
    new_id,
    utcnow,
)
from router.notices import handoff_notice
from router.outbound import automatic_reply, message_event, thread_of
from router.redaction import redact
from router.routing.decide import Routing
from router.store import ConflictError, Store, StoreUnavailable

log = logging.getLogger(__name__)

HISTORY_LIMIT = 200
CONTACT_WINDOW = timedelta(days=30)


def _key(ref: IdentityRef) -> tuple[str, str]:
    return ref.kind, ref.value


class ReplyRefused(Exception):
    """An agent action that the conversation's state does not allow."""


class ReplyWindowClosed(ReplyRefused):
    """A free-text reply on a channel whose reply window has closed: the
    agent may send the channel's template, or reply on another channel."""

    def __init__(self, channel: str, last_inbound_at: datetime, template_text: str | None,
                 open_channels: list[str]) -> None:
        offers = []
        if template_text is not None:
            offers.append("send the channel's template to invite the customer to write again")
        if open_channels:
            offers.append("reply on " + " or ".join(repr(c) for c in open_channels))
        super().__init__(
            f"the reply window on {channel!r} has closed: the customer last wrote there at "
            f"{last_inbound_at:%Y-%m-%d %H:%M} UTC, so a free-text reply would not be delivered; "
            + ("; or ".join(offers) if offers else "nothing else can reach the customer until they write again")
        )
        self.channel = channel
        self.last_inbound_at = last_inbound_at
        self.template_text = template_text
        self.open_channels = open_channels


@contextlib.contextmanager
def _for_connectors() -> Iterator[None]:
    """A store outage in the words of the connector contract, which knows no store."""
    try:
        yield
    except StoreUnavailable as exc:
        raise HostUnavailable(exc.reason) from exc


def conversation_event(kind: str, conversation: ConversationView) -> Event:
    return Event(kind, {"conversation": conversation.model_dump(mode="json")})


class Router:
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
    ) -> None:
        self.store = store
        self.bus = bus
        self.routing = routing
        self.metrics = metrics
        self.clock = clock
        self.identity = identity or IdentityRules()
        self.outbox_wakeup = asyncio.Event()
        # a lambda, not the bound clock: tests and tools swap ``router.clock`` later
        self.verifier = Verifier(store, bus, self.identity, lambda: self.clock(), self.outbox_wakeup)  # noqa: PLW0108
        self.phone_asker = PhoneAsker(store, self.identity, lambda: self.clock(), self.outbox_wakeup)  # noqa: PLW0108
        self.selfservice = SelfService(store, bus, self.identity, self.verifier, lambda: self.clock(),  # noqa: PLW0108
                                       self.outbox_wakeup)
        self._in_flight: set[asyncio.Task[Accepted]] = set()
        # channels (connector names) that limit how long after the customer's
        # last message a free-text reply may go; set by the app from its connectors
        self.reply_windows: dict[str, ReplyWindow] = {}
        # how each channel (connector name) is named to people; set by the app from its connectors
        self.channel_labels: dict[str, ChannelLabel] = {}
        # the bot's intents by name: what a conversation was about (the greeting, the agent's panel)
        self.bot_intents: dict[str, Intent] = {i.name: i for i in bot_config.intents} if bot_config else {}
        self.verifier.reachable = self._window_open  # a code never goes where a reply window has closed
        # what a customer handed to people is told (bot.yaml's messages.handoff, or its default)
        self.handoff_texts: Mapping[Any, str] = (bot_messages or Messages()).handoff
        # None: no bot configured; conversations rules send to the bot wait for an agent
        self.bot_desk = None if bot is None else BotDesk(
            store, bus, lambda: self.routing, bot, bot_messages or Messages(), lambda: self.clock(),  # noqa: PLW0108
            self.outbox_wakeup, self._greeter(bot_config, bot_messages or Messages()),
        )

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

    # -- what connectors see (router.connector.ConnectorHost) ----------------
    async def on_message(self, message: InboundMessage) -> Accepted:
        # shielded: a client that goes away or a shutdown must not leave a
        # message half way through the pipeline
        task = asyncio.ensure_future(self._ingest(message))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        with _for_connectors():
            return await asyncio.shield(task)

    async def history(self, sender: IdentityRef, limit: int = HISTORY_LIMIT) -> list[Message]:
        """What the customer writing as ``sender`` may see of their history.

        Privacy: only messages of identities proven to be this customer's. An
        identity linked without proof (a claim merged by config) sees only its
        own messages, and nobody sees an unproven identity's messages."""
        with _for_connectors():
            return await self._history(sender, limit)

    async def _history(self, sender: IdentityRef, limit: int) -> list[Message]:
        identity = self.identity.identity_of(sender)
        customer = await self.store.find_identity(identity)
        if customer is None:
            return []
        linked = await self.store.customer_identities(customer.id)
        mine = next((i for i in linked if i.ref == identity), None)
        proven = mine is not None and mine.verified
        allowed = {_key(i.ref) for i in linked if i.verified} if proven else {_key(identity)}
        return self._visible(await self.store.customer_messages(customer.id, limit), allowed)

    def _visible(self, messages: list[Message], allowed: set[tuple[str, str]]) -> list[Message]:
        """Inbound messages from ``allowed`` identities, and the answers that
        followed them (an answer goes to whoever wrote last)."""
        shown: list[Message] = []
        showing = False
        for m in messages:
            if m.direction is Direction.IN:
                showing = m.sender is not None and _key(self.identity.identity_of(m.sender)) in allowed
            if showing:
                shown.append(m)
        return shown

    async def secret(self, name: str) -> bytes:
        with _for_connectors():
            return await self.store.secret(name)

    async def on_delivery_status(
        self, channel: str, external_id: str, state: Delivery, error: str | None = None
    ) -> None:
        error = redact(error) if error is not None else None  # the agent reads it
        with _for_connectors():
            message = await self.store.record_delivery(channel, external_id, state, error, self.clock())
        if message is None:
            log.debug("receipt %s for %s/%s changes nothing (yet)", state.value, channel, external_id)
            return
        log.info("message %s on %s is %s%s", message.id, channel, state.value, f": {error}" if error else "")
        self.bus.publish(Event("message.updated", {"message": message.model_dump(mode="json")}))

    # -- the pipeline ----------------------------------------------------------
    async def _ingest(self, message: InboundMessage) -> Accepted:
        started = time.perf_counter()
        if message.automated is not None:
            return await self._ingest_automated(message)
        plan = self.identity.plan(message)
        if plan.identity.value != message.sender.value:
            # kept with the message: the identity it came from, as stored (an unmerge sorts messages by it)
            message = message.model_copy(update={"extras": message.extras | {"identity": plan.identity.value}})
        received = self.clock()
        step = await self.store.ingest(message, received, plan)
        stored = step.message
        merges: list[MergeRecord] = []
        if plan.proven and not step.duplicate:
            merges = await merges_by_proof(self.store, step.customer.id, received)
            for merge in merges:
                self.bus.publish(Event("customer.merged", {"merge": merge.model_dump(mode="json")}))
        if step.duplicate:
            self.metrics.duplicates.labels(message.channel).inc()
            log.info("duplicate delivery %s/%s is message %s", message.channel, message.external_id, stored.id)
            if step.conversation is not None:
                return Accepted(stored.id, step.conversation.id, True, stored.created_at)
        conversation = await self._route(stored, step.customer, step.conversation, bot_turn=step.duplicate)
        if not step.duplicate and proof_only(stored):
            # the phone button's answer (a proven key, no words) is answered here, never by the bot
            self.bus.publish(message_event(*await self.phone_asker.answer_proof(stored, step.customer, merges)))
        # a code typed back or a "no" to the offer is answered by the self-service step, not the bot
        elif not step.duplicate and not await self.selfservice.on_inbound(stored, step.customer, conversation,
                                                                          plan.claims):
            self._bot_turn(conversation)
        self.metrics.messages_in.labels(message.channel).inc()
        self.metrics.ingest_latency.observe(time.perf_counter() - started)
        return Accepted(stored.id, conversation.id, step.duplicate, stored.created_at)

    async def _ingest_automated(self, message: InboundMessage) -> Accepted:
        """A machine's message (auto-reply, delivery report): kept, and shown in
        the thread it answers, but never routed, handed off or answered."""
        stored, duplicate, view = await self.store.ingest_automated(message, self.clock())
        if duplicate:
            self.metrics.duplicates.labels(message.channel).inc()
        else:
            log.info("automated message %s/%s (%s) stored as %s in %s", message.channel, message.external_id,
                     message.automated, stored.id, view.id if view else "no conversation")
            self.metrics.messages_in.labels(message.channel).inc()
            if view is not None:
                self.bus.publish(message_event(stored, view))
        return Accepted(stored.id, view.id if view else None, duplicate, stored.created_at)

    async def _route(self, stored: Message, customer: Customer, view: ConversationView | None,
                     bot_turn: bool = True) -> ConversationView:
        """Open a routed conversation when the customer has none, then tell
        everyone; the bot's turn follows unless the caller gives it."""
        created = False
        notice: str | None = None
        if view is None:
            now = self.clock()
            # earlier contacts are facts rules may test (returning customer, contacts in N days)
            history = await self.store.contact_history(customer.id, now - CONTACT_WINDOW)
            decision = self.routing.decide(stored, customer, history)
            view, created = await self.store.attach_to_conversation(
                stored.id, customer.id, stored.channel, decision, self.clock()
            )
            stored = stored.model_copy(update={"conversation_id": view.id, "customer_id": customer.id})
            if created:
                log.info("conversation %s opened for customer %s: %s", view.id, customer.id, decision.reason)
                self.bus.publish(conversation_event("conversation.created", view))
                notice = handoff_notice(decision, stored, customer, self.handoff_texts)
        elif view.status is ConversationStatus.BOT:
            view, notice = await self._handoff(stored, customer, view)
        log.debug("message %s in conversation %s", stored.id, view.id)
        self.bus.publish(message_event(stored, view))
        if notice:
            await self._notify(stored, view, notice)
        if created and view.status is ConversationStatus.BOT and self.bot_desk is not None:
            await self._ask_phone(stored, customer, view)
        if bot_turn:
            self._bot_turn(view)
        return view

    def _bot_turn(self, view: ConversationView) -> None:
        if view.status is ConversationStatus.BOT and self.bot_desk is not None:
            self.bot_desk.schedule(view.id)  # the bot answers off the ingest path: the platform is not kept waiting

    async def _ask_phone(self, inbound: Message, customer: Customer, view: ConversationView) -> None:
        asked = await self.phone_asker.on_bot_conversation(inbound, customer, view, self._replan(inbound))
        if asked is not None:
            self.bus.publish(message_event(asked, view))

    async def _notify(self, inbound: Message, view: ConversationView, text: str) -> None:
        """An automatic answer (what happens next) back to where the customer
        wrote, through the outbox like every outbound message."""
        now = self.clock()
        message, payload = automatic_reply(inbound, view, text, now, {"automatic": "handoff"})
        message, view = await self.store.enqueue_outbound(message, payload, None, now)
        self.bus.publish(message_event(message, view))
        self.outbox_wakeup.set()

    async def _handoff(
        self, stored: Message, customer: Customer, view: ConversationView
    ) -> tuple[ConversationView, str | None]:
        """A customer message to the bot: hand the conversation to people when
        the rule's handoff condition now holds; with what to tell the customer.
        Only the step whose reroute succeeds speaks: a bot turn that hands off
        at the same moment is refused by the store and stays silent."""
        trace = await self.store.conversation_route(view.id)
        decision = self.routing.handoff(stored, customer, view, trace)
        if decision is None:
            return view, None
        try:
            view = await self.store.reroute_conversation(
                view.id, decision, self.clock(), expected={ConversationStatus.BOT}
            )
        except ConflictError:  # an agent took it meanwhile: theirs now, nothing to hand off
            return await self.store.get_conversation(view.id), None
        log.info("conversation %s handed off by the rules: %s", view.id, decision.reason)
        self.bus.publish(conversation_event("conversation.updated", view))
        return view, handoff_notice(decision, stored, customer, self.handoff_texts)

    async def resume(self) -> int:
        """Route messages that were stored but not routed before a crash."""
        resumed = 0
        while batch := await self.store.unrouted_messages(500):
            for stored in batch:
                assert stored.sender is not None
                customer = await self.store.resolve_identity(
                    stored.sender, stored.extras.get("sender_name"), self.clock(), self._replan(stored)
                )
                await self._route(stored, customer, None)
                resumed += 1
        if resumed:
            log.warning("resumed routing of %d message(s) stored before a restart", resumed)
        if self.bot_desk is not None:
            await self.bot_desk.resume()
        return resumed

    def _replan(self, stored: Message) -> IdentityPlan:
        assert stored.sender is not None
        inbound = InboundMessage(channel=stored.channel, external_id=stored.external_id or stored.id,
                                 sender=stored.sender, text=stored.text, extras=stored.extras)
        return self.identity.plan(inbound)

    async def drain(self, grace: float | None = None) -> None:
        """Wait for messages already in the pipeline (graceful shutdown), for
        at most ``grace`` seconds: a store that hangs must not keep the
        process from stopping. What is left then is cancelled, and nothing is
        lost: a message not yet stored was not acknowledged (platforms
        re-deliver, the widget re-sends), one stored but not routed is routed
        at the next start (``resume``), a write in flight commits whole or not
        at all."""
        loop = asyncio.get_running_loop()
        deadline = None if grace is None else loop.time() + grace
        messages = await finish(self._in_flight, grace)
        turns = 0
        if self.bot_desk is not None:
            turns = await self.bot_desk.drain(None if deadline is None else max(0.0, deadline - loop.time()))
        if messages or turns:
            log.error("shutdown: %d message(s) and %d bot turn(s) still running after %g s were stopped "
                      "unfinished; messages are re-delivered or resumed at the next start", messages, turns, grace)

    # -- agents' actions --------------------------------------------------------
    async def _reply_target(self, conversation: ConversationView, channel: str | None) -> Message:
        """The inbound message whose channel and sender the reply goes back to:
        the customer's last one, or their last one on ``channel`` (any linked
        identity's, in any of their conversations)."""
        if channel is None:
            last = await self.store.last_inbound(conversation.id)
            if last is None or last.sender is None:
                raise ReplyRefused("the customer has no channel to reply to")
            return last
        last = await self.store.customer_last_inbound(conversation.customer_id, channel)
        if last is None or last.sender is None:
            raise ReplyRefused(f"the customer has not written from channel {channel!r}, so it cannot reach them")
        return last

    def _window_open(self, last: Message) -> bool:
        window = self.reply_windows.get(last.channel)
        return window is None or self.clock() - last.created_at <= window.length

    async def _open_channels(self, customer_id: str, besides: str) -> list[str]:
        """The customer's other channels a free-text reply can reach now."""
        found = []
        for channel in await self.store.customer_channels(customer_id):
            last = await self.store.customer_last_inbound(customer_id, channel)
            if channel != besides and last is not None and self._window_open(last):
                found.append(channel)
        return found

    async def _check_window(self, conversation: ConversationView, last: Message) -> None:
        if self._window_open(last):
            return
        window = self.reply_windows[last.channel]
        others = await self._open_channels(conversation.customer_id, last.channel)
        raise ReplyWindowClosed(last.channel, last.created_at, window.template_text, others)

    async def reply(
        self, conversation_id: str, agent: Agent, text: str, channel: str | None = None, template: bool = False,
        attachments: list[Attachment] | None = None,
    ) -> Message:
        """Queue an agent's reply: by default to the channel the customer used
        last, or to another of their linked channels when ``channel`` is given.
        On a channel whose reply window has closed a free-text reply is
        refused (``ReplyWindowClosed``); ``template`` sends the channel's
        template instead of ``text``."""
        conversation = await self.store.get_conversation(conversation_id)
        if conversation.status is ConversationStatus.RESOLVED:
            raise ReplyRefused("the conversation is resolved")
        if conversation.status is ConversationStatus.ASSIGNED and conversation.agent_id not in (None, agent.id):
            raise ReplyRefused("the conversation is assigned to another agent")
        last = await self._reply_target(conversation, channel)
        assert last.sender is not None
        extras: dict[str, object] = {"agent_name": agent.display_name}
        if template:
            window = self.reply_windows.get(last.channel)
            if window is None or window.template_text is None:
                raise ReplyRefused(f"channel {last.channel!r} has no template configured")
            text, attachments = window.template_text, []
            extras |= {"template": True, "customer_name": conversation.customer_name or ""}
        else:
            await self._check_window(conversation, last)
        now = self.clock()
        message = Message(
            id=new_id("msg"),
            conversation_id=conversation_id,
            customer_id=conversation.customer_id,
            direction=Direction.OUT,
            author=Author.AGENT,
            agent_id=agent.id,
            channel=last.channel,
            text=text,
            attachments=attachments or [],
            created_at=now,
            delivery=Delivery.PENDING,
            extras=extras,
        )
        payload = OutboundMessage(
            message_id=message.id,
            channel=last.channel,
            recipient=last.sender.value,
            author=Author.AGENT,
            text=text,
            attachments=attachments or [],
            created_at=now,
            extras=extras,
            thread=thread_of(last),
        )
        assign = agent.id if conversation.status is not ConversationStatus.ASSIGNED else None
        message, view = await self.store.enqueue_outbound(message, payload, assign, now)
        log.info("agent %s replied in conversation %s: message %s", agent.username, conversation_id, message.id)
        if assign is not None:
            self.bus.publish(conversation_event("conversation.assigned", view))
        self.bus.publish(message_event(message, view))
        self.outbox_wakeup.set()
        return message

    async def assign(self, conversation_id: str, agent: Agent) -> ConversationView:
        try:
            view = await self.store.set_conversation_state(
                conversation_id, ConversationStatus.ASSIGNED, agent.id, self.clock(),
                expected={ConversationStatus.QUEUED, ConversationStatus.BOT, ConversationStatus.ASSIGNED},
            )
        except ConflictError as exc:
            raise ReplyRefused(str(exc)) from exc
        log.info("conversation %s assigned to %s", conversation_id, agent.username)
        self.bus.publish(conversation_event("conversation.assigned", view))
        return view

    async def hand_to_bot(self, conversation_id: str, agent: Agent) -> ConversationView:
        """An agent gives the conversation back to the bot: it answers the
        customer's next messages, and hands the conversation back to this
        team's queue when it steps aside."""
        if self.bot_desk is None:
            raise ReplyRefused("no bot is configured (config/bot.yaml)")
        view = await self.store.get_conversation(conversation_id)
        trace = await self.store.conversation_route(conversation_id)
        now = self.clock()
        step = f"handed back to the bot by {agent.username}"
        facts = {**(trace.facts if trace else {}), "handed_back_by": agent.username}
        new_trace = RouteTrace(rules_version=trace.rules_version if trace else "", rules=[],
                               matched_rule=trace.matched_rule if trace else None, step=step, facts=facts,
                               decided_at=now)
        decision = RouteDecision(
            status=ConversationStatus.BOT, team=view.team, priority=view.priority, reason=step,
            rules_version=view.rules_version, trace=new_trace, skills=view.skills, channel_kind=view.channel_kind,
        )
        try:
            view = await self.store.reroute_conversation(
                conversation_id, decision, now, expected={ConversationStatus.QUEUED, ConversationStatus.ASSIGNED}
            )
        except ConflictError as exc:
            raise ReplyRefused(str(exc)) from exc
        log.info("conversation %s %s", conversation_id, step)
        self.bus.publish(conversation_event("conversation.updated", view))
        return view

    async def resolve(self, conversation_id: str, agent: Agent) -> ConversationView:
        # checked in the same transaction as the change: two agents resolving at
        # once get one success and one conflict, never a double "resolved" event
        view = await self.store.set_conversation_state(
            conversation_id, ConversationStatus.RESOLVED, agent.id, self.clock(),
            expected={ConversationStatus.QUEUED, ConversationStatus.BOT, ConversationStatus.ASSIGNED},
        )
        log.info("conversation %s resolved by %s", conversation_id, agent.username)
        self.bus.publish(conversation_event("conversation.updated", view))
        return view
