"""Agents' actions on a conversation: reply (to the channel the customer
used last, or another of theirs, within its reply window), take it, hand it
back to the bot, resolve it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Protocol

from router import events
from router.bus import EventBus
from router.connector import ReplyWindow
from router.conversations.outbound import Outgoing, send
from router.conversations.states import AgentDeactivated
from router.conversations.store import ConversationStore, MessageStore, OutboundStore
from router.models import (
    Agent,
    Attachment,
    Author,
    ConversationStatus,
    ConversationView,
    CoreMeta,
    Message,
    RouteDecision,
    RouteTrace,
    TemplateRequest,
)
from router.routing.service import AgentAtCapacity
from router.store.errors import ConflictError, IntegrityViolation

log = logging.getLogger(__name__)


class ConversationsStore(ConversationStore, MessageStore, OutboundStore, Protocol):
    """What agents' actions need of the store: the conversations, their
    messages, and the outbound path."""


class ReplyRefused(Exception):
    """An agent action that the conversation's state does not allow; ``reason``
    says which in a word the console translates (``resolved``...)."""

    def __init__(self, message: str, reason: str | None = None, channel: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.channel = channel


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


class CustomerOpenElsewhere(ReplyRefused):
    """A resolved conversation cannot be reopened: its customer has an open one."""

    def __init__(self, conversation_id: str) -> None:
        super().__init__(f"the customer of {conversation_id} has another open conversation by now: answer there")


# an agent's capacity per channel kind, None for an account routing does not know (``Assigner.capacity_of``)
CapacityOf = Callable[[Agent], Awaitable[Mapping[str, int] | None]]


class Conversations:
    def __init__(self, store: ConversationsStore, bus: EventBus, clock: Callable[[], datetime],
                 outbox_wakeup: asyncio.Event, has_bot: bool, capacity_of: CapacityOf | None = None) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.outbox_wakeup = outbox_wakeup
        # False: no bot configured (config/bot.yaml), so nothing can be handed to it
        self.has_bot = has_bot
        # channels (connector names) that limit how long after the customer's
        # last message a free-text reply may go (``Router.connect``)
        self.reply_windows: dict[str, ReplyWindow] = {}
        # what follows a resolve by an agent (the satisfaction survey), given the conversation and the agent's id
        self.after_resolve: Callable[[ConversationView, str], Awaitable[None]] | None = None
        # routing knows the agents' capacities (teams.yaml, the console's profiles); every way a
        # conversation becomes an agent's here is held to them in the store's transaction, as the
        # assigner's offers are (DESIGN.md, invariant 10). None: nothing to keep (a test's service)
        self.capacity_of = capacity_of

    async def _capacity(self, agent: Agent) -> Mapping[str, int] | None:
        return None if self.capacity_of is None else await self.capacity_of(agent)

    async def _reply_target(self, conversation: ConversationView, channel: str | None) -> Message:
        """The inbound message whose channel and sender the reply goes back to:
        the customer's last one, or their last one on ``channel`` (any linked
        identity's, in any of their conversations)."""
        if channel is None:
            last = await self.store.last_inbound(conversation.id)
            if last is None or last.sender is None:
                raise ReplyRefused("the customer has no channel to reply to", "no_channel")
            return last
        last = await self.store.customer_last_inbound(conversation.customer_id, channel)
        if last is None or last.sender is None:
            raise ReplyRefused(f"the customer has not written from channel {channel!r}, so it cannot reach them",
                                "channel_unused", channel)
        return last

    def window_open(self, last: Message) -> bool:
        """May a free-text message go to where ``last`` came from now (its channel's reply window)?"""
        window = self.reply_windows.get(last.channel)
        return window is None or self.clock() - last.created_at <= window.length

    async def _open_channels(self, customer_id: str, besides: str) -> list[str]:
        """The customer's other channels a free-text reply can reach now."""
        found = []
        for channel in await self.store.customer_channels(customer_id):
            last = await self.store.customer_last_inbound(customer_id, channel)
            if channel != besides and last is not None and self.window_open(last):
                found.append(channel)
        return found

    async def _check_window(self, conversation: ConversationView, last: Message) -> None:
        if self.window_open(last):
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
            raise ReplyRefused("the conversation is resolved", "resolved")
        if conversation.status is ConversationStatus.ASSIGNED and conversation.agent_id not in (None, agent.id):
            raise ReplyRefused("the conversation is assigned to another agent", "colleagues")
        last = await self._reply_target(conversation, channel)
        assert last.sender is not None
        core = CoreMeta(agent_name=agent.display_name)
        if template:
            window = self.reply_windows.get(last.channel)
            if window is None or window.template_text is None:
                raise ReplyRefused(f"channel {last.channel!r} has no template configured", "no_template", last.channel)
            text, attachments = window.template_text, []
            core.template = TemplateRequest(customer_name=conversation.customer_name or "",
                                            agent_name=agent.display_name)
        else:
            await self._check_window(conversation, last)
        out = Outgoing(last, conversation_id, conversation.customer_id, text, Author.AGENT, agent.id,
                       attachments or [], core, payload={"agent_name": core.agent_name, "template": core.template})
        assign = agent.id if conversation.status is not ConversationStatus.ASSIGNED else None
        # a reply that takes the conversation is refused past the agent's capacity
        # (AgentAtCapacity), not sent without taking it: the customer would be answered
        # by one agent while the conversation waits in the queue for another
        capacity = await self._capacity(agent) if assign is not None else None
        try:
            # checked again in the enqueue's transaction: resolved, handed off
            # or taken by someone meanwhile, the reply is refused, not sent
            message, _ = await send(self.store, self.bus, self.outbox_wakeup, out, self.clock(), assign_to=assign,
                                    expected={conversation.status}, capacity=capacity)
        except AgentAtCapacity:
            raise  # the API names it (at_capacity): the agent resolves or hands on one of theirs first
        except ConflictError as exc:
            raise ReplyRefused(f"the conversation changed meanwhile ({exc}); reload it", "changed") from exc
        log.info("agent %s replied in conversation %s: message %s", agent.username, conversation_id, message.id)
        return message

    async def assign(self, conversation_id: str, agent: Agent, not_others: str | None = None) -> ConversationView:
        """A take, or a supervisor's assignment to ``agent``; ``AgentAtCapacity``
        when it would put them past their capacity: no one overrides it, not
        even a supervisor (DESIGN.md, invariant 10). ``not_others``: the
        caller, when their role may not take over a colleague's conversation
        (checked with the change)."""
        capacity = await self._capacity(agent)
        try:
            view = await self.store.set_conversation_state(
                conversation_id, ConversationStatus.ASSIGNED, agent.id, self.clock(),
                expected={ConversationStatus.QUEUED, ConversationStatus.BOT, ConversationStatus.ASSIGNED},
                not_others=not_others, capacity=capacity,
            )
        except (AgentDeactivated, AgentAtCapacity):
            raise  # deactivated in flight, or full: the API names it (agent_deactivated, at_capacity)
        except ConflictError as exc:  # resolved, or taken meanwhile
            raise ReplyRefused(str(exc), "changed") from exc
        log.info("conversation %s assigned to %s", conversation_id, agent.username)
        self.bus.publish(events.conversation_assigned(view))
        return view

    async def hand_to_bot(self, conversation_id: str, agent: Agent) -> ConversationView:
        """An agent gives the conversation back to the bot: it answers the
        customer's next messages, and hands the conversation back to this
        team's queue when it steps aside."""
        if not self.has_bot:
            raise ReplyRefused("no bot is configured (config/bot.yaml)", "no_bot")
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
            raise ReplyRefused(str(exc), "changed") from exc
        log.info("conversation %s %s", conversation_id, step)
        self.bus.publish(events.conversation_updated(view))
        return view

    async def reopen(self, conversation_id: str, agent: Agent) -> ConversationView:
        """An agent reopens a resolved conversation: it is theirs again, as a
        take, so within their capacity (``AgentAtCapacity``).
        ``CustomerOpenElsewhere`` when the customer has written since and so
        has another open conversation (one per customer: answer there);
        ``ConflictError`` when it is not resolved (anymore)."""
        capacity = await self._capacity(agent)
        try:
            view = await self.store.set_conversation_state(
                conversation_id, ConversationStatus.ASSIGNED, agent.id, self.clock(),
                expected={ConversationStatus.RESOLVED}, capacity=capacity,
            )
        except IntegrityViolation as exc:
            raise CustomerOpenElsewhere(conversation_id) from exc
        log.info("conversation %s reopened by %s", conversation_id, agent.username)
        self.bus.publish(events.conversation_updated(view))
        return view

    async def resolve(self, conversation_id: str, agent: Agent, seen: str | None = None,
                      not_others: str | None = None) -> ConversationView:
        # checked in the same transaction as the change: two agents resolving at
        # once get one success and one conflict, never a double "resolved" event;
        # ``seen``: the last message the agent saw, a customer's later one refuses it
        view = await self.store.set_conversation_state(
            conversation_id, ConversationStatus.RESOLVED, agent.id, self.clock(),
            expected={ConversationStatus.QUEUED, ConversationStatus.BOT, ConversationStatus.ASSIGNED}, seen=seen,
            not_others=not_others,
        )
        log.info("conversation %s resolved by %s", conversation_id, agent.username)
        self.bus.publish(events.conversation_updated(view))
        if self.after_resolve is not None:  # the satisfaction survey (router.csat)
            await self.after_resolve(view, agent.id)
        return view
