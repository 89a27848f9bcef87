"""The ingest pipeline: an inbound message from a connector to a stored,
routed conversation, and everyone told.

    dedupe + persist -> identity -> conversation -> routing -> events

Each step is one atomic store call, so a crash between steps leaves a stored
but unrouted message that ``resume`` finishes on the next start.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from prometheus_client import Counter

from router import events
from router.aio import finish
from router.bot.desk import BotDesk
from router.bus import EventBus
from router.connector import Accepted
from router.conversations.outbound import Outgoing, send
from router.conversations.store import ConversationStore, MessageStore, OutboundStore
from router.csat.service import Surveys
from router.identity.phone_ask import PhoneAsker, merges_by_proof, proof_only
from router.identity.selfservice import SelfService
from router.identity.service import IdentityRules
from router.identity.store import CustomerStore, MergeStore
from router.identity.types import IdentityPlan
from router.ingest.pressure import Pressure
from router.ingest.reopen import reopening
from router.ingest.store import Ingested, IngestStore
from router.language import answer_language, needs_history, settled
from router.metrics import Metrics
from router.models import (
    ConversationStatus,
    ConversationView,
    CoreMeta,
    Customer,
    Direction,
    Given,
    IdentityRef,
    InboundMessage,
    MergeRecord,
    Message,
    RouteDecision,
)
from router.notices import HANDOFF, handoff_notice, told_while_waiting
from router.redaction import textless_traceback
from router.routing.decide import Routing
from router.search.store import SearchStore
from router.store.errors import AlreadyRouted, ConflictError, StoreUnavailable

log = logging.getLogger(__name__)

HISTORY_LIMIT = 200
RESUME_BATCH = 500  # unrouted messages read at a time at start
# how far back a message without words looks for the conversation's language
LANGUAGE_LOOKBACK = 30
# how far back a customer switching channel while queued looks for what happens next told there already
NOTICE_LOOKBACK = 100
CONTACT_WINDOW = timedelta(days=30)


def _hand_over(task: asyncio.Task[Accepted], answer: asyncio.Future[Accepted]) -> None:
    """The task's outcome to whoever waits for it (``answer``). A caller gone (``answer`` cancelled:
    a webhook's client hung up, a tab closed) cannot log a failure as the host does: it is logged
    here, without the exception's words (customer text never goes to the log); an outage is logged
    once, as such."""
    if answer.cancelled():
        if not task.cancelled() and (exc := task.exception()) is not None and not isinstance(exc, StoreUnavailable):
            log.error("a message whose sender had gone failed in the pipeline\n%s", textless_traceback(exc))
        return
    if task.cancelled():
        answer.cancel()
    elif (exc := task.exception()) is not None:
        answer.set_exception(exc)
    else:
        answer.set_result(task.result())


class IngestServiceStore(IngestStore, CustomerStore, MergeStore, ConversationStore, MessageStore, OutboundStore,
                         SearchStore, Protocol):
    """What the pipeline needs of the store: the ingest step, the customer,
    the proof's merges, the conversation and its messages, the outbound
    path for the notices it sends, and the end of a snooze the customer ends by writing."""


def _key(ref: IdentityRef) -> tuple[str, str]:
    return ref.kind, ref.value


class Ingest:
    def __init__(
        self, store: IngestServiceStore, bus: EventBus, routing: Routing, metrics: Metrics, identity: IdentityRules,
        clock: Callable[[], datetime], outbox_wakeup: asyncio.Event, selfservice: SelfService,
        phone_asker: PhoneAsker, bot_desk: BotDesk | None, handoff_texts: Mapping[Any, str],
        pressure: Pressure | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.routing = routing
        self.metrics = metrics
        self.identity = identity
        self.clock = clock
        self.outbox_wakeup = outbox_wakeup
        self.selfservice = selfservice
        self.phone_asker = phone_asker
        # None: no bot configured; conversations rules send to the bot wait for an agent
        self.bot_desk = bot_desk
        # what a customer handed to people is told (bot.yaml's messages.handoff, or its default)
        self.handoff_texts = handoff_texts
        self._in_flight: set[asyncio.Task[Accepted]] = set()
        # reads answers to satisfaction surveys before routing (router.csat); set by the Router
        self.surveys: Surveys | None = None
        # the pipeline's lag, which the entry points' admission reads (router.ingest.pressure)
        self.pressure = pressure or Pressure(float("inf"))
        self._messages_in: dict[str, Counter] = {}

    async def on_message(self, message: InboundMessage) -> Accepted:
        # a task of its own, which the caller only waits for: a client that goes away or a
        # shutdown must not leave a message half way through the pipeline
        # counted in the pipeline's lag from now (no await between the entry
        # point's admission and here) until everyone was told
        taken = self.pressure.enter()
        task = asyncio.ensure_future(self._ingest(message))
        self._in_flight.add(task)
        # what asyncio.shield does, in the one callback that ends the task's stay here: shield's
        # own future and its two callbacks were two more steps of the event loop per message
        answer: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        task.add_done_callback(functools.partial(self._left, taken, answer))
        return await answer

    def _counter(self, channel: str) -> Counter:
        """The channel's count of messages in: prometheus' ``labels`` takes a lock and builds a key per call."""
        counter = self._messages_in.get(channel)
        if counter is None:
            counter = self._messages_in[channel] = self.metrics.messages_in.labels(channel)
        return counter

    def _left(self, taken: int, answer: asyncio.Future[Accepted], task: asyncio.Task[Accepted]) -> None:
        try:
            self._in_flight.discard(task)
            self.pressure.leave(taken)
        finally:  # whatever the gauge does, the caller gets its answer
            _hand_over(task, answer)

    async def history(self, sender: IdentityRef, limit: int = HISTORY_LIMIT) -> list[Message]:
        """What the customer writing as ``sender`` may see of their history.

        Privacy: only messages of identities proven to be this customer's. An
        identity linked without proof (a claim merged by config) sees only its
        own messages, and nobody sees an unproven identity's messages."""
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
        went to them: by the addressee an answer names, else (one stored
        before answers named it) by following an allowed one's message. An
        agent's reply to an identity merged in without proof stays that
        identity's, though it answers in the same conversation."""
        shown: list[Message] = []
        showing = False
        for m in messages:
            if m.direction is Direction.IN:
                showing = m.sender is not None and _key(self.identity.identity_of(m.sender)) in allowed
            to = m.core.recipient if m.direction is Direction.OUT else None
            if showing if to is None else _key(self.identity.identity_of(to)) in allowed:
                shown.append(m)
        return shown

    async def _ingest(self, message: InboundMessage) -> Accepted:
        started = time.perf_counter()
        if message.automated is not None:
            return await (self._ingest_answered(message) if message.platform_answered
                          else self._ingest_automated(message))
        if message.rating is not None and self.surveys is not None and not await self.surveys.press_counts(message):
            # a stale or forged rating button: acknowledged (no message: an empty id), never stored nor routed
            return Accepted("", None, True, self.clock())
        plan, step, merges = await self._store(message)
        stored = step.message
        if step.duplicate:
            log.info("duplicate delivery %s/%s is message %s", message.channel, message.external_id, stored.id)
            if step.conversation is not None:
                return Accepted(stored.id, step.conversation.id, True, stored.created_at)
        stored = await self._settle_language(stored, step.customer, step.conversation)
        if self.surveys is not None and not (step.duplicate and stored.conversation_id is not None):
            # an answer to a satisfaction survey: kept in the survey's conversation, never routed or reopened
            answered = await self.surveys.on_inbound(stored, step.customer, step.conversation)
            if answered is not None:
                self._counter(message.channel).inc()
                return Accepted(stored.id, answered.conversation.id, step.duplicate, stored.created_at)
        conversation = await self._route(stored, step.customer, step.conversation, bot_turn=step.duplicate,
                                         switched=step.switched)
        if not step.duplicate and proof_only(stored):
            # the phone button's answer (a proven key, no words) is answered here, never by the bot
            await self.phone_asker.answer_proof(stored, step.customer, merges)
        # a code typed back or a "no" to the offer is answered by the self-service step, not the bot
        elif not step.duplicate and not await self.selfservice.on_inbound(stored, step.customer, conversation,
                                                                          plan.claims):
            self._bot_turn(conversation)
        self._counter(message.channel).inc()
        self.metrics.ingest_latency.observe(time.perf_counter() - started)
        return Accepted(stored.id, conversation.id, step.duplicate, stored.created_at)

    async def _settle_language(self, stored: Message, customer: Customer, view: ConversationView | None) -> Message:
        """A message without words ("5", "👍", a photo, "/start") is answered in
        the conversation's language, else in the customer's last one, else the
        channel's (``router.language``): read here once for every step after."""
        if not needs_history(stored, customer):
            return stored
        if view is None:
            view = await self.store.last_resolved(customer.id)
        earlier = await self.store.list_messages(view.id, LANGUAGE_LOOKBACK) if view is not None else []
        return settled(stored, answer_language(stored, customer, reversed(earlier)))

    async def _ingest_automated(self, message: InboundMessage) -> Accepted:
        """A machine's message (auto-reply, delivery report): kept, and shown in
        the thread it answers, but never routed, handed off or answered."""
        stored, duplicate, view = await self.store.ingest_automated(message, self.clock())
        if duplicate:
            self.metrics.duplicates.labels(message.channel).inc()
        else:
            self._stored_automated(message, stored, view)
        return Accepted(stored.id, view.id if view else None, duplicate, stored.created_at)

    async def _ingest_answered(self, message: InboundMessage) -> Accepted:
        """The customer's own message their platform answered itself (an opt-out
        keyword, whose reply the platform sent and after which it may refuse any
        other): kept as the customer's, shown in their open conversation, but it
        opens none, and is never routed, handed off or answered (``automated``
        keeps the bot and resume away from it)."""
        _, step, _ = await self._store(message)
        if not step.duplicate:
            self._stored_automated(message, step.message, step.conversation)
        view = step.conversation
        return Accepted(step.message.id, view.id if view else None, step.duplicate, step.message.created_at)

    async def _store(self, message: InboundMessage) -> tuple[IdentityPlan, Ingested, list[MergeRecord]]:
        """The message stored (or known as a redelivery) with its sender resolved, and
        the merges a platform's proof in it made, announced."""
        plan = self.identity.plan(message)
        received = self.clock()
        step = await self.store.ingest(message, received, plan)
        merges: list[MergeRecord] = []
        if plan.proven and not step.duplicate:
            merges = await merges_by_proof(self.store, step.customer.id, received)
            for merge in merges:
                self.bus.publish(events.customer_merged(merge))
        if step.duplicate:
            self.metrics.duplicates.labels(message.channel).inc()
        return plan, step, merges

    def _stored_automated(self, message: InboundMessage, stored: Message, view: ConversationView | None) -> None:
        """Counted, logged and shown where it was filed."""
        # the reason's kind only: its rest can be the sender's words ("X-Autoreply: в отпуске до 12.01")
        kind = (message.automated or "").partition(":")[0][:64]
        log.info("automated message %s/%s (%s) stored as %s in %s", message.channel, message.external_id, kind,
                 stored.id, view.id if view else "no conversation")
        self._counter(message.channel).inc()
        if view is not None:
            self.bus.publish(events.message_created(stored, view))

    async def _route(self, stored: Message, customer: Customer, view: ConversationView | None,
                     bot_turn: bool = True, switched: bool = False) -> ConversationView:
        """Open a routed conversation when the customer has none, then tell
        everyone; the bot's turn follows unless the caller gives it. ``switched``:
        the message came on another channel than the conversation's last one."""
        created = reopened = False
        notice: str | None = None
        if view is None:
            now = self.clock()
            # earlier contacts are facts rules may test (returning customer, contacts in N days)
            history = await self.store.contact_history(customer.id, now - CONTACT_WINDOW)
            decision = self.routing.decide(stored, customer, history)
            try:
                found = await self._reopen(stored, customer, decision, now)
                if found is not None:
                    view, reopened = found
                else:
                    view, created = await self.store.attach_to_conversation(
                        stored.id, customer.id, stored.channel, decision, self.clock(), only_unrouted=True
                    )
            except AlreadyRouted as routed:
                # another node routed it since we read it unrouted (our resume took the message of a node
                # between its store and its routing, or that node's resume took ours): it told everyone and
                # gave the bot its turn; a second message.created would show the message twice
                log.info("message %s was routed by another node meanwhile", stored.id)
                return await self.store.get_conversation(routed.conversation_id)
            stored = stored.model_copy(update={"conversation_id": view.id, "customer_id": customer.id})
            if created:
                log.info("conversation %s opened for customer %s: %s", view.id, customer.id, decision.reason)
                self.bus.publish(events.conversation_created(view))
                notice = handoff_notice(decision, stored, customer, self.handoff_texts)
            elif reopened:  # back in the lists and in any open panel before its message
                log.info("conversation %s reopened by its customer's message", view.id)
                self.bus.publish(events.conversation_updated(view))
                # invariant 8: told what happens next, by the reopened conversation's own team and hours
                notice = handoff_notice(self.routing.reopened(stored, customer, view), stored, customer,
                                        self.handoff_texts)
        elif view.status is ConversationStatus.BOT:
            view, notice = await self._handoff(stored, customer, view)
        elif switched and view.status is ConversationStatus.QUEUED:
            notice = await self._switched_notice(stored, customer, view)
        if view.snoozed_until is not None:  # the customer wrote: a snoozed conversation is back at once
            view = await self.store.wake(view.id) or view
        log.debug("message %s in conversation %s", stored.id, view.id)
        self.bus.publish(events.message_created(stored, view))
        if notice:
            await self._notify(stored, view, notice)
        if created and view.status is ConversationStatus.BOT and self.bot_desk is not None:
            await self._ask_phone(stored, customer, view)
        if bot_turn:
            self._bot_turn(view)
        return view

    async def _reopen(self, stored: Message, customer: Customer, decision: RouteDecision, now: datetime
                      ) -> tuple[ConversationView, bool] | None:
        """The customer's resolved conversation (the thread's the message answers,
        else the latest) reopened with the message when rules.yaml's ``reopen``
        window says so (``router.ingest.reopen``), or the open one another
        message reopened or opened meanwhile; None: a new one is opened by
        ``decision``."""
        follows = stored.core.follows_conversation
        last = await self.store.get_conversation(follows) if follows else await self.store.last_resolved(customer.id)
        window = self.routing.reopen_within(last.team) if last is not None else timedelta(0)
        plan = reopening(last, window, now, decision)
        if plan is None:
            return None
        return await self.store.reopen_with(stored.id, customer.id, stored.channel, plan, now, only_unrouted=True)

    def _bot_turn(self, view: ConversationView) -> None:
        if view.status is ConversationStatus.BOT and self.bot_desk is not None:
            self.bot_desk.schedule(view.id)  # the bot answers off the ingest path: the platform is not kept waiting

    async def _ask_phone(self, inbound: Message, customer: Customer, view: ConversationView) -> None:
        await self.phone_asker.on_bot_conversation(inbound, customer, view, self._replan(inbound))

    async def _switched_notice(self, stored: Message, customer: Customer, view: ConversationView) -> str | None:
        """Invariant 8 where a queued customer writes now: what happens next was
        said on the channel before, and one who moved from the site chat to
        Telegram while waiting heard nothing there. Once per channel while they
        wait, not at each switch back (unless it says something else now)."""
        notice = handoff_notice(self.routing.reopened(stored, customer, view), stored, customer, self.handoff_texts)
        if notice and told_while_waiting(await self.store.list_messages(view.id, NOTICE_LOOKBACK), stored.channel,
                                         notice, view.reopened_at):
            return None
        return notice

    async def _notify(self, inbound: Message, view: ConversationView, text: str) -> None:
        """An automatic answer (what happens next) back to where the customer
        wrote, through the outbox like every outbound message."""
        await send(self.store, self.bus, self.outbox_wakeup,
                   Outgoing.automatic(inbound, view, text, CoreMeta(automatic=HANDOFF)), self.clock())

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
        self.bus.publish(events.conversation_updated(view))
        return view, handoff_notice(decision, stored, customer, self.handoff_texts)

    async def resume(self) -> int:
        """Route messages that were stored but not routed before a crash. One
        that cannot be routed (a fault of its own, or of ours) is logged and
        left unrouted, never the end of the start: before, such a message
        stopped every start of the service (the rest of the messages too). An
        outage of the store still ends it, as any start's store call does."""
        resumed = 0
        failed: set[str] = set()
        # the ones that failed come back first in every read: each read takes that many more
        while batch := [m for m in await self.store.unrouted_messages(RESUME_BATCH + len(failed))
                        if m.id not in failed]:
            for stored in batch:
                try:
                    await self._resume_one(stored)
                except StoreUnavailable:
                    raise
                except Exception as exc:  # this message's, logged without its words; the others go on
                    failed.add(stored.id)
                    log.error("message %s (%s) could not be routed at start and stays unrouted\n%s",
                              stored.id, stored.channel, textless_traceback(exc))
                else:
                    resumed += 1
        if resumed:
            log.warning("resumed routing of %d message(s) stored before a restart", resumed)
        if failed:
            log.error("%d message(s) stored before a restart could not be routed (see above); the next start "
                      "tries them again", len(failed))
        if self.bot_desk is not None:
            await self.bot_desk.resume()
        return resumed

    async def _resume_one(self, stored: Message) -> None:
        assert stored.sender is not None
        customer = await self.store.resolve_identity(
            stored.sender, stored.core.sender_name, self.clock(), self._replan(stored)
        )
        # an answer to a satisfaction survey stored just before the crash is read as one still
        if self.surveys is None or await self.surveys.on_unrouted(stored, customer) is None:
            await self._route(stored, customer, None)

    def _replan(self, stored: Message) -> IdentityPlan:
        assert stored.sender is not None
        inbound = InboundMessage(channel=stored.channel, external_id=stored.external_id or stored.id,
                                 sender=stored.sender, text=stored.text, extras=stored.extras,
                                 **stored.core.model_dump(include=set(Given.model_fields)))
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
