"""Merges by people: an agent folds one customer into another, or undoes a
merge. One store step each, then the event the console shows, and a bot
turn for each conversation left with the bot: a question a merge or its undo
moved there is answered, not left until the next start. The rules of what a
merge keeps are the store's transaction's (``router.identity.rules``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from router import events
from router.bus import EventBus
from router.conversations.store import ConversationStore
from router.identity.service import IdentityRules
from router.identity.store import MergeStore
from router.identity.types import MergeRequest
from router.models import Agent, ConversationStatus, MergeRecord


class MergerStore(MergeStore, ConversationStore, Protocol):
    """Merges, and the conversations they leave."""


class Merger:
    def __init__(self, store: MergerStore, bus: EventBus, identity: IdentityRules,
                 clock: Callable[[], datetime], bot_turn: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.bus = bus
        self.identity = identity
        self.clock = clock
        self.bot_turn = bot_turn

    async def merge_customers(self, survivor_id: str, merged_id: str, agent: Agent, reason: str) -> MergeRecord:
        """An agent's merge: ``merged_id`` folds into ``survivor_id``. The moved
        identities count as unproven: an agent's word is no proof the customer
        gave, so neither side's history is shown to the other until a code is
        confirmed (agents see everything in the console)."""
        request = MergeRequest(survivor_id, merged_id, "agent", agent.username, reason,
                               self.identity.attribute_policy(), verified=False)
        record = await self.store.merge_customers(request, self.clock())
        self.bus.publish(events.customer_merged(record))
        await self._bot_turns(record)
        return record

    async def unmerge_customers(self, merge_id: str, agent: Agent, reason: str) -> MergeRecord:
        record = await self.store.unmerge_customers(merge_id, agent.username, reason, self.clock())
        self.bus.publish(events.customer_unmerged(record))
        await self._bot_turns(record)
        return record

    async def _bot_turns(self, record: MergeRecord) -> None:
        """A turn for each of both sides' conversations with the bot: an undo gave a
        question asked during the merge back to a conversation with the bot, and
        nothing answered it until the next start (a turn with nothing to answer says nothing)."""
        if self.bot_turn is None:
            return
        for customer_id in (record.survivor_id, record.merged_id):
            for view in await self.store.customer_conversations(customer_id):
                if view.status is ConversationStatus.BOT:
                    self.bot_turn(view.id)
