"""The bot asks a customer for their phone, once, where the platform proves the answer.

With ``ask_phone: true`` in identity.yaml, a customer's first conversation
that goes to the bot, on a channel whose connector can ask with a button
(``Connector.asks_phone``: Telegram's request-contact button), starts with a
short request in their language. The number the button sends back is proven
by the platform (``extras["proven_phone"]``), so it links the customer's other
channels at once. Never asked of a customer whose phone is proven already,
and never twice (an automatic message marked ``ask_phone`` says it was asked).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from datetime import datetime

from router.identity import IdentityRules
from router.models import (
    Author,
    ConversationView,
    Customer,
    Delivery,
    Direction,
    MergeRecord,
    Message,
    OutboundMessage,
    PhoneButton,
    new_id,
)
from router.notices import customer_language, localized
from router.store.base import PROOF_SOURCE, Store

log = logging.getLogger(__name__)

MARKER = "ask_phone"  # extras["automatic"] of the request
TEXTS = {
    "ru": "Чтобы мы узнавали вас в любом канале, поделитесь, пожалуйста, номером телефона: "
          "нажмите кнопку «Поделиться номером» ниже. Можно и не делиться — мы всё равно ответим.",
    "en": "So that we know you on every channel, please share your phone number: press the "
          "“Share my phone number” button below. You can skip it: we will answer anyway.",
}
LABELS = {"ru": "Поделиться номером", "en": "Share my phone number"}


class PhoneAsker:
    def __init__(self, store: Store, rules: IdentityRules, clock: Callable[[], datetime],
                 wakeup: asyncio.Event) -> None:
        self.store = store
        self.rules = rules
        self.clock = clock
        self.wakeup = wakeup
        # connectors (by name) that can ask with a button; set by the app from its connectors
        self.channels: Collection[str] = frozenset()

    async def on_bot_conversation(self, inbound: Message, customer: Customer,
                                  view: ConversationView) -> Message | None:
        """Ask, when everything says so, in the conversation the bot just
        opened; the request as stored, or None when not asked."""
        if not self.rules.config.ask_phone or inbound.channel not in self.channels or inbound.sender is None:
            return None
        if await self._phone_proven(customer.id) or await self.store.automatic_sent(customer.id, MARKER):
            return None
        language = customer_language(inbound, customer)
        text = localized(TEXTS, language)
        now = self.clock()
        message = Message(
            id=new_id("msg"), conversation_id=view.id, customer_id=view.customer_id, direction=Direction.OUT,
            author=Author.BOT, channel=inbound.channel, text=text, created_at=now, delivery=Delivery.PENDING,
            # aside: the bot still answers the question that opened the conversation
            extras={"automatic": MARKER, "aside": True},
        )
        payload = OutboundMessage(
            message_id=message.id, channel=inbound.channel, recipient=inbound.sender.value, author=Author.BOT,
            text=text, created_at=now, ask_phone=PhoneButton(label=localized(LABELS, language)),
        )
        stored, _ = await self.store.enqueue_outbound(message, payload, None, now)
        log.info("customer %s asked for their phone on %s", customer.id, inbound.channel)
        self.wakeup.set()
        return stored

    async def _phone_proven(self, customer_id: str) -> bool:
        """A phone the customer writes from, or one a platform or a code proved."""
        identities = await self.store.customer_identities(customer_id)
        if any(i.verified and i.key is not None and i.key.startswith("phone:") for i in identities):
            return True
        claims = await self.store.customer_claims(customer_id)
        return any(c.kind == "phone" and c.verified_at is not None for c in claims)


async def merges_by_proof(store: Store, customer_id: str, at: datetime) -> list[MergeRecord]:
    """The merges a platform's proof made while storing the message received
    ``at`` (the store stamps them with that time), for the console to hear of."""
    return [m for m in await store.customer_merges(customer_id)
            if m.source == PROOF_SOURCE and m.created_at == at and m.survivor_id == customer_id]
