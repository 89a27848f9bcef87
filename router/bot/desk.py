"""Where the bot works: one turn per conversation at a time, off the ingest path.

Ingest stores the customer's message and schedules a turn; the webhook or
the site chat is answered without waiting for the bot (an external bot may
be slow). A turn reads the messages the bot has not answered yet, asks the
bot, then either enqueues its answer through the outbox, checked in the
same transaction to be still the bot's (an agent who took the conversation
meanwhile wins), or hands the conversation to the routing rules with the
bot's reason. On start every conversation with the bot whose last word is
the customer's gets its turn: a restart leaves no one silent.

A reloaded bot.yaml replaces the bot, its messages and its greeter at once
(``replace``): a turn reads them once, as it starts, so a turn in flight
finishes with the knowledge it started with, and the bot it used is closed
(its HTTP session, its matcher's thread) once those turns are over.

One turn at a time per conversation holds only in this process; several
nodes (a customer's two messages given to two nodes, a redelivery, a
starting node's resume) may run turns on one conversation at once. So a
turn carries the conversation's latest answer as it read it (``AnswerMark``)
and the store writes its answer or handoff only if that is still the
latest: of two turns that read the same messages one answers, and the
other runs again on what is unanswered then (nothing, or what came since).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from router import events
from router.aio import finish
from router.bot.base import Bot, BotError, BotReply, BotTurn, HandoffReason, ReplyKind
from router.bot.config import Messages
from router.bot.health import BotHealth
from router.bot.welcome import Greeter, Recall, greeting
from router.bus import EventBus
from router.conversations.outbound import Outgoing, send
from router.conversations.store import AnswerMark, ConversationStore, MessageStore, OutboundStore
from router.identity.phone_ask import proof_only
from router.identity.store import CustomerStore
from router.keyboard import as_meant
from router.language import answer_language, settled
from router.models import (
    BotOutcome,
    ConversationStatus,
    ConversationView,
    CoreMeta,
    Customer,
    Direction,
    Message,
    RouteDecision,
)
from router.notices import handoff_notice
from router.redaction import textless_traceback
from router.routing.decide import Routing
from router.store.errors import AnsweredMeanwhile, ConflictError, StoreError, StoreUnavailable

log = logging.getLogger(__name__)

# the messages a turn reads: enough for "did the customer ask this before?"
TURN_HISTORY = 30
# seconds a turn may wait for the bot (its warm-up, the questions ahead of it, the model) before
# people answer it instead: long enough for a slow machine's first load, short of forever
BOT_PATIENCE = 120.0
RESUME_BATCH = 10_000


class DeskStore(ConversationStore, MessageStore, OutboundStore, CustomerStore, Protocol):
    """What the bot's turns need of the store."""


def unanswered(messages: list[Message]) -> tuple[list[Message], list[Message]]:
    """``(earlier, pending)``: the customer's messages after the last answer
    (the bot's or an agent's), and everything before them."""
    cut = len(messages)
    # a message said aside (asking for a phone, offering a code) answers nothing the customer asked
    while cut > 0 and (messages[cut - 1].direction is Direction.IN or messages[cut - 1].core.aside):
        cut -= 1
    # a machine's message (an auto-reply) is never answered: no reply loops
    return messages[:cut], [m for m in messages[cut:]
                            if m.direction is Direction.IN and not m.core.automated]


def _from(messages: list[Message], first: Message) -> list[Message]:
    """``messages`` from ``first`` (one of them) on."""
    return messages[next(i for i, m in enumerate(messages) if m is first):]


@dataclass(frozen=True, slots=True)
class Knowledge:
    """What a turn answers with, from one bot.yaml: read once per turn."""

    bot: Bot
    messages: Messages
    # a recognised customer back after a pause is greeted (None: never)
    greeter: Greeter | None


class BotDesk:
    def __init__(
        self, store: DeskStore, bus: EventBus, routing: Callable[[], Routing], bot: Bot, messages: Messages,
        clock: Callable[[], datetime], outbox_wakeup: asyncio.Event, greeter: Greeter | None = None,
        health: BotHealth | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.routing = routing
        self.knowledge = Knowledge(bot, messages, greeter)
        self.clock = clock
        self.outbox_wakeup = outbox_wakeup
        # the supervisors' alert when its answers fail (router.bot.health)
        self.health = health if health is not None else BotHealth(bus)
        self._running: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._retiring: set[asyncio.Task[None]] = set()

    @property
    def bot(self) -> Bot:
        return self.knowledge.bot

    @property
    def messages(self) -> Messages:
        return self.knowledge.messages

    @property
    def greeter(self) -> Greeter | None:
        return self.knowledge.greeter

    # -- a reloaded bot.yaml --------------------------------------------------------
    def replace(self, bot: Bot, messages: Messages, greeter: Greeter | None = None) -> None:
        """The next turn answers with ``bot`` (entered already); the turns
        under way finish with the one they began with, which is closed after them."""
        old, self.knowledge = self.knowledge.bot, Knowledge(bot, messages, greeter)
        if old is bot:
            return
        task = asyncio.create_task(self._retire(old, list(self._running.values())), name="bot-retire")
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    @staticmethod
    async def _retire(bot: Bot, turns: list[asyncio.Task[None]]) -> None:
        if turns:
            await asyncio.wait(turns)
        try:
            await bot.__aexit__(None, None, None)
        except Exception:  # closing a session that failed: nothing left to do with it
            log.exception("closing the replaced bot %s failed", bot.name)

    async def retired(self) -> None:
        """Wait until every replaced bot is closed (their turns over)."""
        while self._retiring:
            await asyncio.wait(list(self._retiring))

    async def close(self) -> None:
        """After the turns drained (shutdown): the running bot and the replaced ones closed."""
        await self.retired()
        await self.bot.__aexit__(None, None, None)

    # -- scheduling ---------------------------------------------------------------
    def schedule(self, conversation_id: str) -> None:
        """Give the bot a turn; a turn already running for the conversation
        runs once more when it ends (the customer wrote again meanwhile)."""
        if conversation_id in self._running:
            self._again.add(conversation_id)
            return
        task = asyncio.create_task(self._run(conversation_id), name=f"bot-turn-{conversation_id}")
        self._running[conversation_id] = task

    async def _run(self, conversation_id: str) -> None:
        try:
            while True:
                self._again.discard(conversation_id)
                await self._guarded_turn(conversation_id)
                if conversation_id not in self._again:
                    return
        finally:
            self._running.pop(conversation_id, None)

    async def _guarded_turn(self, conversation_id: str) -> None:
        try:
            await self.turn(conversation_id)
        except asyncio.CancelledError:
            raise
        except AnsweredMeanwhile:  # another turn (another node's) answered first: again, on what is left
            log.debug("bot turn for conversation %s: answered meanwhile, running again", conversation_id)
            self._again.add(conversation_id)
        except StoreUnavailable:  # an outage the store logs once; picked up as below
            log.debug("bot turn for conversation %s: the store is unavailable", conversation_id)
        except StoreError:  # a write refused mid-turn: the backend's words (which rule), no customer's
            log.exception("bot turn for conversation %s failed in the store", conversation_id)
        except Exception as exc:
            # the last resort of a task no one awaits: a bug here (in the bot,
            # its model, the desk) would otherwise end as "Task exception was
            # never retrieved". The message stays unanswered and is picked up
            # by the next turn or the next start's resume. Its words may quote
            # the customer, whose text the bot reads: the frames only
            log.error("bot turn for conversation %s failed\n%s", conversation_id, textless_traceback(exc))

    async def resume(self) -> int:
        """Turns for conversations left with the bot unanswered by a restart."""
        waiting = await self.store.list_conversations([ConversationStatus.BOT], RESUME_BATCH)
        for conversation in waiting:
            self.schedule(conversation.id)
        return len(waiting)

    @property
    def running(self) -> int:
        """Turns under way."""
        return len(self._running)

    async def drain(self, grace: float | None = None) -> int:
        """Let running turns finish (graceful shutdown), for at most
        ``grace`` seconds; how many were still running and were cancelled."""
        loop = asyncio.get_running_loop()
        deadline = None if grace is None else loop.time() + grace
        while self._running:
            # a finishing turn may schedule the next one: again, until none runs
            left = None if deadline is None else max(0.0, deadline - loop.time())
            if stopped := await finish(list(self._running.values()), left):
                return stopped
        return 0

    # -- one turn -----------------------------------------------------------------
    async def turn(self, conversation_id: str) -> BotReply | None:
        view = await self.store.get_conversation(conversation_id)
        if view.status is not ConversationStatus.BOT:
            return None
        # read before the messages: an answer stored after this read, even one among them, refuses ours
        after = AnswerMark(await self.store.last_answer(conversation_id))
        messages = await self.store.list_messages(conversation_id, TURN_HISTORY)
        earlier, pending = unanswered(messages)
        # the phone button's answer is the core's to answer (router.identity.phone_ask): nothing for the bot
        pending = [m for m in pending if not proof_only(m)]
        if not pending:
            return None
        current = pending[-1]
        knowledge = self.knowledge  # one bot.yaml for the whole turn, whatever reloads meanwhile
        customer = await self.store.get_customer(view.customer_id)
        # several quick messages are one question: «привет» + «где мой заказ?»; each read as meant when
        # typed on the wrong keyboard layout («ghbdtn» is «привет»: router.keyboard)
        text = "\n".join(as_meant(m.text) for m in pending if m.text.strip())
        turn = BotTurn(conversation_id, customer, text, earlier, hint=current.core.language)
        current = settled(current, turn.language())  # "5" after «Уточните…»: its notices in Russian too
        reply = await self._ask(knowledge.bot, turn)
        recall = await self._recall(knowledge.greeter, view, customer, pending, earlier)
        if recall is not None and any(m.core.aside for m in _from(messages, pending[0])):
            # something was said aside this turn (a code offer): a "shall we continue?" beside it would
            # make the customer's "no" ambiguous; their name alone is fine. Only this turn's: an aside
            # before the pause («Спасибо, номер сохранили») took "where you left off" from the greeting
            recall = Recall(recall.name)
        if reply.kind is ReplyKind.HANDOFF:
            # their name only: "shall we continue?" does not go with "a colleague will answer"
            hello = self._hello(knowledge.messages, Recall(recall.name) if recall is not None else None, customer,
                                current)
            await self._hand_off(view, current, customer, reply, after, hello, knowledge.messages)
        else:
            texts = reply.texts
            if (hello := self._hello(knowledge.messages, recall, customer, current)) is not None and texts:
                texts = self._greeted(reply, recall, hello) if reply.kind is ReplyKind.GREETING \
                    else [f"{hello}\n\n{texts[0]}", *texts[1:]]
            await self._say(view, current, texts, CoreMeta(bot=reply.record()), ConversationStatus.BOT, after)
        return reply

    async def _recall(self, greeter: Greeter | None, view: ConversationView, customer: Customer,
                      pending: list[Message], earlier: list[Message]) -> Recall | None:
        """What this turn may say it knows of a returning customer (``router.bot.welcome``)."""
        if greeter is None:
            return None
        # the answer goes to whoever wrote last: only when every message of the turn is theirs may it
        # say what it knows of them (invariant 9: another, unproven identity of the customer must not read it)
        if len({(m.sender.kind, m.sender.value) if m.sender else None for m in pending}) != 1:
            return None
        return await greeter.recall(view.id, customer, pending[0], earlier)

    @staticmethod
    def _greeted(reply: BotReply, recall: Recall | None, hello: str) -> list[str]:
        """One greeting for a greeting, not two («Здравствуйте, Анна!» then
        «Здравствуйте! Чем могу помочь?»): the returning customer's when it
        asks them to go on where they left off, else the bot's, which asks
        for the question."""
        return [hello] if recall is not None and recall.left_off is not None else reply.texts

    def _hello(self, messages: Messages, recall: Recall | None, customer: Customer, current: Message) -> str | None:
        if recall is None:
            return None
        return greeting(recall, messages, answer_language(current, customer), self.clock())

    async def _ask(self, bot: Bot, turn: BotTurn) -> BotReply:
        if not turn.text.strip():  # nothing asked of the bot: no sign of its health
            return BotReply.handoff(HandoffReason.BOT_FAILED, "a message without words (an attachment)")
        reply = await self._respond(bot, turn)
        # every answer of the backend counts, its failures whether raised or returned (Rasa's, a missing bot)
        if reply.kind is ReplyKind.HANDOFF and reply.reason is HandoffReason.BOT_FAILED:
            self.health.failed()
        else:
            self.health.answered()
        return reply

    async def _respond(self, bot: Bot, turn: BotTurn) -> BotReply:
        try:
            async with asyncio.timeout(BOT_PATIENCE):
                return await bot.respond(turn)
        except TimeoutError:
            # a model that hangs must not silence every conversation with the bot: people answer
            log.warning("bot %s took over %g s in conversation %s", bot.name, BOT_PATIENCE, turn.conversation_id)
            return BotReply.handoff(HandoffReason.BOT_FAILED, f"the bot took over {BOT_PATIENCE:g} s")
        except BotError as exc:
            log.warning("bot %s failed in conversation %s: %s", bot.name, turn.conversation_id, exc)
            return BotReply.handoff(HandoffReason.BOT_FAILED, f"the bot failed: {exc}")
        except Exception as exc:
            # a bug in the bot or its model: people answer rather than nobody. Its words may quote
            # the customer, whose text the bot reads: the frames only
            log.error("bot %s failed in conversation %s\n%s", bot.name, turn.conversation_id,
                      textless_traceback(exc))
            return BotReply.handoff(HandoffReason.BOT_FAILED, f"the bot failed ({type(exc).__name__})")

    async def _say(
        self, view: ConversationView, inbound: Message, texts: list[str], core: CoreMeta,
        expected: ConversationStatus | None, after: AnswerMark | None = None,
    ) -> bool:
        """Each text through the outbox to where the customer wrote; False when
        the conversation is no longer ``expected`` (an agent took it);
        ``AnsweredMeanwhile`` when ``after`` is no longer its latest answer
        (each text stored is the next one's mark)."""
        assert inbound.sender is not None
        states = {expected} if expected is not None else None
        for text in texts:
            now = self.clock()
            try:
                said, view = await send(self.store, self.bus, self.outbox_wakeup,
                                        Outgoing.automatic(inbound, view, text, core), now, expected=states,
                                        after=after)
            except AnsweredMeanwhile:
                raise
            except ConflictError:
                moved = await self._moved(view, inbound)
                if moved is None:
                    log.info("conversation %s is no longer the bot's: its answer is dropped", view.id)
                    return False
                # a merge folded the conversation into the customer's other one, still the bot's: answer there
                view = moved
                try:
                    _, view = await send(self.store, self.bus, self.outbox_wakeup,
                                         Outgoing.automatic(inbound, view, text, core), now, expected=states)
                except ConflictError:
                    log.info("conversation %s is no longer the bot's: its answer is dropped", view.id)
                    return False
                after = None  # the mark was the folded conversation's: the kept one is answered as before
                continue
            if after is not None:
                after = AnswerMark(said.id)
        return True

    async def _moved(self, view: ConversationView, inbound: Message) -> ConversationView | None:
        """The conversation a merge moved ``inbound`` to (the kept one of a
        fold), when it is another one and still the bot's; else None."""
        moved = (await self.store.get_message(inbound.id)).conversation_id
        if moved is None or moved == view.id:
            return None
        target = await self.store.get_conversation(moved)
        return target if target.status is ConversationStatus.BOT else None

    async def _hand_off(
        self, view: ConversationView, inbound: Message, customer: Customer, reply: BotReply,
        after: AnswerMark | None = None, hello: str | None = None, messages: Messages | None = None,
    ) -> None:
        assert reply.reason is not None
        outcome = BotOutcome(reason=reply.reason.value, detail=reply.detail, intent=reply.intent,
                             confidence=round(reply.confidence, 3) if reply.intent else None)
        trace = await self.store.conversation_route(view.id)
        decision = self.routing().handoff(inbound, customer, view, trace, outcome)
        if decision is None:  # a Routing that would keep it even so: people take it where it is
            decision = RouteDecision(status=ConversationStatus.QUEUED, team=view.team, priority=view.priority,
                                     reason=f"bot handoff ({outcome.reason}: {outcome.detail})",
                                     skills=view.skills, channel_kind=view.channel_kind, handoff=True)
        try:
            view = await self.store.reroute_conversation(view.id, decision, self.clock(),
                                                         expected={ConversationStatus.BOT}, after=after)
        except AnsweredMeanwhile:
            raise
        except ConflictError:  # an agent took it meanwhile: theirs now
            return
        log.info("conversation %s handed off by the bot: %s", view.id, decision.reason)
        self.bus.publish(events.conversation_updated(view))
        notice = handoff_notice(decision, inbound, customer, (messages or self.messages).handoff)
        if notice is not None:
            if hello is not None:
                notice = f"{hello}\n\n{notice}"
            await self._say(view, inbound, [notice], CoreMeta(bot=reply.record(), automatic="handoff"), None)
