"""The bot asks a customer for their phone, once, where the platform proves the answer.

With ``ask_phone: true`` in identity.yaml, a customer's first conversation
that goes to the bot, on a channel whose connector can ask with a button
(``Connector.asks_phone``: Telegram's request-contact button), starts with a
short request in their language. The number the button sends back is proven
by the platform (``InboundMessage.proven_phone``), so it links the customer's other
channels at once. Never asked of a customer whose phone is proven already,
and never twice (an automatic message marked ``ask_phone`` says it was asked),
nor of a message that gives a phone or email already (the bot offers a code
for it instead: one thing at a time). The texts are identity.yaml's
``phone_request``.

The button's answer, a message whose only content is a proven key, is
answered here and never by the bot (``answer_proof``): a bot has nothing to
say to a message without words, and would hand the customer to an agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Protocol

from router.bus import EventBus
from router.conversations.outbound import Outgoing, send
from router.conversations.store import ConversationStore, MessageStore, OutboundStore
from router.identity.service import IdentityRules, InvalidIdentifier, proven_values
from router.identity.store import ClaimStore, CustomerStore, MergeStore, VerificationStore
from router.identity.types import PROOF_SOURCE, IdentityPlan
from router.language import answer_language, needs_history
from router.models import (
    ConversationView,
    CoreMeta,
    Customer,
    MergeRecord,
    Message,
    PhoneButton,
)
from router.texts import localized

log = logging.getLogger(__name__)

MARKER = "ask_phone"  # core.automatic of the request
SAVED = "phone_saved"  # core.automatic of the answer to a proof
# messages of the conversation read for the language a message without words is answered in
_LANGUAGE_LOOKBACK = 30


class PhoneAskStore(CustomerStore, VerificationStore, ClaimStore, MergeStore, ConversationStore, MessageStore,
                    OutboundStore, Protocol):
    """What asking for a phone, and reading the platform's proof of one, need
    of the store."""


def proof_only(message: Message) -> bool:
    """A message whose only content is a key the platform proved (Telegram's
    contact of one's own): no words, no files."""
    if message.text.strip() or message.attachments:
        return False
    return any(proven_values(message.core))


class PhoneAsker:
    def __init__(self, store: PhoneAskStore, bus: EventBus, rules: IdentityRules, clock: Callable[[], datetime],
                 wakeup: asyncio.Event) -> None:
        self.store = store
        self.bus = bus
        self.rules = rules
        self.clock = clock
        self.wakeup = wakeup
        # connectors (by name) that can ask with a button; set by the app from its connectors
        self.channels: Collection[str] = frozenset()

    async def on_bot_conversation(self, inbound: Message, customer: Customer, view: ConversationView,
                                  plan: IdentityPlan) -> Message | None:
        """Ask, when everything says so, in the conversation the bot just
        opened; the request as stored, or None when not asked. ``plan``: the
        message's identity plan; a message that gives a phone or an email (a
        claim, which gets a code offer, or a proof) is not asked for one."""
        if not self.rules.config.ask_phone or inbound.channel not in self.channels or inbound.sender is None:
            return None
        if plan.claims or plan.proven:
            return None
        if await self._phone_proven(customer.id) or await self.store.automatic_sent(customer.id, MARKER):
            return None
        language = answer_language(inbound, customer)
        texts = self.rules.config.phone_request
        text = localized(texts.text, language)
        # aside: the bot still answers the question that opened the conversation
        out = Outgoing.automatic(inbound, view, text, CoreMeta(automatic=MARKER, aside=True),
                                 ask_phone=PhoneButton(label=localized(texts.button, language)))
        stored, _ = await send(self.store, self.bus, self.wakeup, out, self.clock())
        log.info("customer %s asked for their phone on %s", customer.id, inbound.channel)
        return stored

    async def answer_proof(self, stored: Message, customer: Customer, merges: list[MergeRecord]
                           ) -> tuple[Message, ConversationView]:
        """The answer to a message that only proves a key (``proof_only``):
        identity.yaml's ``verification.linked`` when the proof linked the
        customer to another (their history changed: the site chat shows it),
        else ``phone_request.saved``. A code the bot offered them for a key,
        pending in the conversation, is ended (declined): the proof linked
        them, or proved that very key, so the digits they type next are
        ordinary words. Said aside, so that the bot still answers what the
        customer asked before it."""
        assert stored.sender is not None
        # a merge folded the conversations: the message, and the answer with it, is in the one kept
        moved = await self.store.get_message(stored.id)
        view = await self.store.get_conversation(moved.conversation_id or stored.conversation_id or "")
        await self._end_offers(view, customer.id, self._proven_keys(stored), linked=bool(merges))
        config = self.rules.config
        texts = config.verification.linked if merges else config.phone_request.saved
        text = localized(texts, await self._language(stored, customer, view))
        core = CoreMeta(automatic="verification" if merges else SAVED, aside=True)
        out = Outgoing.automatic(stored, view, text, core, history_changed=bool(merges))
        message, view = await send(self.store, self.bus, self.wakeup, out, self.clock())
        log.info("customer %s proved a key on %s: %s", customer.id, stored.channel,
                 "linked" if merges else "nobody else to link")
        return message, view

    async def _end_offers(self, view: ConversationView, customer_id: str, proven: set[tuple[str, str]],
                          linked: bool) -> None:
        """End the bot's pending code offers in ``view`` and in the conversations folded into it."""
        now = self.clock()
        conversations = [view.id] + [c.id for c in await self.store.customer_conversations(customer_id)
                                     if c.route_reason == f"merged into {view.id}"]
        for conversation_id in conversations:
            for v in await self.store.conversation_verifications(conversation_id):
                if (v.origin == "bot" and v.status == "pending" and v.expires_at > now
                        and (linked or (v.kind, v.value) in proven)
                        and await self.store.decline_verification(v.id) is not None):
                    log.info("verification %s ended: a platform's proof made it needless", v.id)

    def _proven_keys(self, stored: Message) -> set[tuple[str, str]]:
        """The keys (normalised) the message proves."""
        keys: set[tuple[str, str]] = set()
        for _, kind, raw in proven_values(stored.core):
            with contextlib.suppress(InvalidIdentifier):  # no usable key: it proves nothing
                keys.add((kind, self.rules.normalise(kind, raw)))
        return keys

    async def _language(self, stored: Message, customer: Customer, view: ConversationView) -> str:
        """A proof has no words: the language the customer last wrote words in, or the platform's."""
        earlier = await self.store.list_messages(view.id, _LANGUAGE_LOOKBACK) if needs_history(stored, customer) else []
        return answer_language(stored, customer, reversed(earlier))

    async def _phone_proven(self, customer_id: str) -> bool:
        """A phone the customer writes from, or one a platform or a code proved."""
        identities = await self.store.customer_identities(customer_id)
        if any(i.verified and i.key is not None and i.key.startswith("phone:") for i in identities):
            return True
        claims = await self.store.customer_claims(customer_id)
        return any(c.kind == "phone" and c.verified_at is not None for c in claims)


async def merges_by_proof(store: MergeStore, customer_id: str, at: datetime) -> list[MergeRecord]:
    """The merges a platform's proof made while storing the message received
    ``at`` (the store stamps them with that time), for the console to hear of."""
    return [m for m in await store.customer_merges(customer_id)
            if m.source == PROOF_SOURCE and m.created_at == at and m.survivor_id == customer_id]
