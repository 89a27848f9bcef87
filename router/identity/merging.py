"""Merges by people: an agent folds one customer into another, or undoes a
merge. One store step each, then the event the console shows; the rules of
what a merge keeps are the store's transaction's (``router.identity.rules``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from router.bus import Event, EventBus
from router.identity.service import IdentityRules
from router.identity.store import MergeStore
from router.identity.types import MergeRequest
from router.models import Agent, MergeRecord


class Merger:
    def __init__(self, store: MergeStore, bus: EventBus, identity: IdentityRules,
                 clock: Callable[[], datetime]) -> None:
        self.store = store
        self.bus = bus
        self.identity = identity
        self.clock = clock

    async def merge_customers(self, survivor_id: str, merged_id: str, agent: Agent, reason: str) -> MergeRecord:
        """An agent's merge: ``merged_id`` folds into ``survivor_id``. The moved
        identities count as unproven: an agent's word is no proof the customer
        gave, so neither side's history is shown to the other until a code is
        confirmed (agents see everything in the console)."""
        request = MergeRequest(survivor_id, merged_id, "agent", agent.username, reason,
                               self.identity.attribute_policy(), verified=False)
        record = await self.store.merge_customers(request, self.clock())
        self.bus.publish(Event("customer.merged", {"merge": record.model_dump(mode="json")}))
        return record

    async def unmerge_customers(self, merge_id: str, agent: Agent, reason: str) -> MergeRecord:
        record = await self.store.unmerge_customers(merge_id, agent.username, reason, self.clock())
        self.bus.publish(Event("customer.unmerged", {"merge": record.model_dump(mode="json")}))
        return record
