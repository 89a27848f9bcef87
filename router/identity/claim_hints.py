"""Claims that match someone: a customer gave (typed, or sent in a form) a
phone or email that a proven identity of another customer has. Agents see it
on both customers' panels, to send a code to the holder's channel or to
dismiss the hint; customers never see it (an unproven claim reveals nothing).

A key that config says is nobody's (blocked, generic, a business's line) never
makes a hint, whatever was stored when the claim was made: config may have
changed since, so it is applied when the hints are read."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from router import events
from router.bus import EventBus
from router.identity.service import IdentityRules
from router.identity.store import ClaimStore
from router.identity.types import KeyRef
from router.models import ClaimMatch
from router.store.errors import ConflictError

log = logging.getLogger(__name__)


class ClaimHints:
    def __init__(self, store: ClaimStore, bus: EventBus, rules: IdentityRules, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.bus = bus
        self.rules = rules
        self.clock = clock

    def _usable(self, match: ClaimMatch) -> bool:
        return self.rules.refusal(KeyRef(match.claim.kind, match.claim.value)) is None

    async def of(self, customer_id: str) -> list[ClaimMatch]:
        """The hints on ``customer_id``'s panel, as claimant or as holder."""
        found = await self.store.claim_matches(customer_id, self.rules.config.max_profiles_per_key)
        return [m for m in found if self._usable(m)]

    async def dismiss(self, customer_id: str, claim_id: str, actor: str, reason: str) -> list[ClaimMatch]:
        """Hide the claim's hints on every panel; each console showing one of
        the customers refreshes (event ``claim.dismissed``)."""
        cap = self.rules.config.max_profiles_per_key
        stored = [m for m in await self.store.claim_matches(customer_id, cap) if m.claim.id == claim_id]
        if stored and not any(self._usable(m) for m in stored):
            raise ConflictError(f"claim {claim_id} is of a key config says is nobody's: there is no hint to dismiss")
        matches = await self.store.dismiss_claim(customer_id, claim_id, actor, reason, cap, self.clock())
        customers = sorted({customer_id, *(m.holder_id for m in matches)})
        log.info("%s dismissed claim %s of %s (matching %s)", actor, claim_id, customer_id,
                 ", ".join(m.holder_id for m in matches))
        self.bus.publish(events.claim_dismissed(claim_id, customers))
        return matches

