"""Self-service linking: the bot offers a code when a customer gives a phone
or an email, and answers the code (or a "no thanks") they type back.

The offer says the same words whether or not the phone/email is anyone's
(``Verifier.offer`` sends a decoy when it is nobody's), so a claim cannot
probe who is a customer. Each conversation is offered a key once, one at a
time, and at most ``max_offers_per_conversation`` keys: a probe of many
numbers gets nothing more. A message taken as a code or a "no" is answered
here, and the bot does not answer it again.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from router.bus import EventBus
from router.conversations.outbound import Outgoing, send
from router.conversations.store import ConversationStore, MessageStore, OutboundStore
from router.identity.service import IdentityRules
from router.identity.store import ClaimStore, CustomerStore, VerificationStore
from router.identity.types import ClaimPlan, KeyRef
from router.identity.verification import Verifier, fill
from router.language import answer_language, needs_history
from router.models import (
    ConversationView,
    CoreMeta,
    Customer,
    Message,
    Verification,
)
from router.store.errors import ConflictError
from router.texts import localized

log = logging.getLogger(__name__)

# a short "no" to the offer, as people type it (lower case, punctuation and emoji dropped)
DECLINES = frozenset({
    "нет", "неа", "нет спасибо", "не спасибо", "спасибо нет", "не надо", "нет не надо", "не надо спасибо",
    "нет не надо спасибо", "не нужно", "нет не нужно", "не нужно спасибо", "нет не нужно спасибо", "спасибо не надо",
    "спасибо не нужно", "не сейчас", "нет не сейчас", "нет уж",
    "no", "nope", "nah", "no thanks", "no thx", "no thank you", "thanks no", "no need", "not needed", "not now",
    "no not now", "no thanks not needed", "dont", "do not", "no dont", "no please dont",
})
_WORDS = re.compile(r"[^\w\s]+")
# what a message giving a phone/email may say besides it to be asking for the offer («мой номер: …»)
_FILLER = frozenset({
    "мой", "моя", "мое", "мои", "вот", "это", "а", "и", "или", "номер", "номера", "телефон", "телефона", "тел", "моб",
    "мобильный", "сотовый", "почта", "почты", "электронная", "электронной", "эл", "адрес", "емейл", "имейл",
    "мейл", "email", "mail", "e", "привет", "здравствуйте", "добрый", "день", "вечер", "утро", "спасибо",
    "my", "phone", "number", "is", "it", "its", "s", "here", "this", "mobile", "cell", "tel", "address", "and",
    "or", "hi", "hello", "thanks",
})
_MAX_FILLER = 6
# the words right before the number say it is the customer's own, whatever
# follows («мой номер 8 912…, где заказ?», "my email is …, any news?")
_CONTACT_WORD = (r"(?:номер\w*|телефон\w*|тел|моб\w*|сотов\w*|почт\w*|адрес\w*|e-?mail|емейл|имейл|мейл|"
                 r"phone|number|mobile|cell|address)")
_MINE = re.compile(
    rf"\b(?:мой|моя|мое|my)\s+{_CONTACT_WORD}(?:\s+{_CONTACT_WORD})?\W{{0,3}}(?:\s*(?:is|это|—|-))?\W{{0,3}}$",
    re.IGNORECASE,
)


class SelfServiceStore(CustomerStore, VerificationStore, ClaimStore, ConversationStore, MessageStore, OutboundStore,
                       Protocol):
    """What the bot's own offer of a code needs of the store."""


def declines(text: str) -> bool:
    words = " ".join(_WORDS.sub("", text.lower().replace("ё", "е")).split())
    return words in DECLINES


def _asked(claim: ClaimPlan, text: str, claims: tuple[ClaimPlan, ...]) -> bool:
    """Whether the customer gave ``claim`` to be known by it: from a form
    (a form, a proof), or a message that is just the phone/email («мой номер +7…»).
    A number merely mentioned («позвоните жене +7…», a signature) gets no
    code sent to it unasked (it is still recorded as a claim)."""
    if not claim.source.endswith(":text"):
        return True
    if (at := text.find(claim.raw)) > 0 and _MINE.search(text[max(0, at - 40):at]):
        return True
    return only_contact(text, claims)


def only_contact(text: str, claims: tuple[ClaimPlan, ...]) -> bool:
    """The message gives its phone/email and asks nothing else («мой номер: +7…», "hi, my email is …");
    a form's number beside «Здравствуйте» is no such message."""
    typed = [given.raw for given in claims if given.source.endswith(":text") and given.raw in text]
    if not typed:
        return False
    rest = text
    for raw in typed:
        rest = rest.replace(raw, " ")
    words = _WORDS.sub(" ", rest.lower().replace("ё", "е")).split()
    return len(words) <= _MAX_FILLER and all(w in _FILLER for w in words)


def _pending(verification: Verification, now: datetime) -> bool:
    """Still waiting for the code (a pending one past its time is dead, whether or not a code was typed since)."""
    return verification.status == "pending" and verification.expires_at > now


class SelfService:
    def __init__(self, store: SelfServiceStore, bus: EventBus, rules: IdentityRules, verifier: Verifier,
                 clock: Callable[[], datetime], wakeup: asyncio.Event) -> None:
        self.store = store
        self.bus = bus
        self.rules = rules
        self.verifier = verifier
        self.clock = clock
        self.wakeup = wakeup

    async def on_inbound(self, stored: Message, customer: Customer, view: ConversationView,
                         claims: tuple[ClaimPlan, ...]) -> bool:
        """True when the message was a code attempt, a "no" to the offer, or
        only a phone/email a code was offered for, answered here: nobody else
        is to answer it."""
        code = self.verifier.code_in(stored.text)
        no = code is None and declines(stored.text)
        # only the customer's own (verified) identity acts on their code: one linked without proof
        # must not learn a code is in flight, use up its tries or decline it
        if (code is not None or no) and await self._proven_sender(stored, customer.id):
            if code is not None:
                outcome = await self.verifier.check(stored, customer.id, code)
                if outcome is not None:
                    await self._answer_code(stored, customer, outcome[0])
                    return True
            elif await self._decline(stored, customer, view):
                return True
        asked = tuple(c for c in claims if _asked(c, stored.text, claims))
        if asked and self.rules.config.verification.self_service:
            # a message that only gives the number is answered by the offer: the bot, finding no
            # question in it, handed the customer to people beside the offer of the code
            contact = only_contact(stored.text, claims)
            return await self._offer(stored, customer, view, asked, answers=contact) and contact
        return False

    async def _proven_sender(self, stored: Message, customer_id: str) -> bool:
        if stored.sender is None:
            return False
        ref = self.rules.identity_of(stored.sender)
        return any(i.ref == ref and i.verified for i in await self.store.customer_identities(customer_id))

    # -- the code typed back -----------------------------------------------------
    async def _answer_code(self, stored: Message, customer: Customer, verification: Verification) -> None:
        policy = self.rules.config.verification
        if verification.status == "verified":
            texts, left = policy.linked, 0
        elif verification.status == "expired":
            texts, left = policy.expired, 0
        elif verification.status == "failed":
            texts, left = policy.too_many_attempts, 0
        else:
            texts, left = policy.wrong_code, policy.max_attempts - verification.attempts
        # a merge moved the message into the other side's conversation: the answer goes there with it
        moved = await self.store.get_message(stored.id)
        view = await self.store.get_conversation(moved.conversation_id or stored.conversation_id or "")
        language = await self._language(stored, customer, view)
        text = fill(localized(texts, language), left=str(left))
        await self._say(stored, view, text, CoreMeta(automatic="verification"),
                        history_changed=verification.status == "verified")

    async def _language(self, stored: Message, customer: Customer, view: ConversationView) -> str:
        """A code has no words: the language the customer last wrote words in."""
        earlier = await self.store.list_messages(view.id, 30) if needs_history(stored, customer) else []
        return answer_language(stored, customer, reversed(earlier))

    # -- "no thanks" -------------------------------------------------------------
    async def _decline(self, stored: Message, customer: Customer, view: ConversationView) -> bool:
        now = self.clock()
        pending = [v for v in await self.store.conversation_verifications(view.id)
                   if _pending(v, now) and v.origin == "bot" and v.customer_id == customer.id]
        if not pending or await self.store.decline_verification(pending[-1].id) is None:
            return False
        log.info("verification %s of %s declined", pending[-1].id, customer.id)
        text = localized(self.rules.config.verification.declined, answer_language(stored, customer))
        await self._say(stored, view, text, CoreMeta(automatic="verification"))
        return True

    # -- the offer -----------------------------------------------------------------
    async def _offer(self, stored: Message, customer: Customer, view: ConversationView,
                     claims: tuple[ClaimPlan, ...], answers: bool) -> bool:
        """Whether a code was offered (and is on its way). The offer ``answers``
        a message that only gave the number; beside a question it is said aside,
        and the question is still the bot's."""
        key = await self._offerable(customer, view, claims)
        if key is None:
            return False
        policy = self.rules.config.verification
        texts = policy.offer_phone if key.kind == "phone" else policy.offer_email
        text = fill(localized(texts, answer_language(stored, customer)), value=key.value)

        async def announce() -> None:
            # the words before the code goes out: how soon they come says nothing of whether one does
            await self._say(stored, view, text, CoreMeta(automatic="verification", aside=not answers))

        try:
            verification = await self.verifier.offer(customer.id, key, view.id, announce)
        except ConflictError:  # a code is pending already (an agent's, or one offered this very moment)
            return False
        log.info("verification %s offered to %s in conversation %s", verification.id, customer.id, view.id)
        return True

    async def _offerable(self, customer: Customer, view: ConversationView,
                         claims: tuple[ClaimPlan, ...]) -> KeyRef | None:
        """The first key given that this conversation has not had a code for
        and the customer has not proven; None while a code is pending or
        once the conversation has had its share."""
        had = await self.store.conversation_verifications(view.id)
        now = self.clock()
        if any(_pending(v, now) for v in had):
            return None
        done = {(v.kind, v.value) for v in had}
        if len(done) >= self.rules.config.verification.max_offers_per_conversation:
            return None
        fresh = [c.key for c in claims if (c.key.kind, c.key.value) not in done]
        if not fresh:
            return None
        proven = await self._proven(customer.id)
        return next((k for k in fresh if (k.kind, k.value) not in proven), None)

    async def _proven(self, customer_id: str) -> set[tuple[str, str]]:
        """Keys the customer writes from (linked with proof) or proved by a code."""
        proven = {(c.kind, c.value) for c in await self.store.customer_claims(customer_id) if c.verified_at}
        for identity in await self.store.customer_identities(customer_id):
            key = self.rules.channel_identity(identity.ref)[1]
            if key is not None and identity.verified:
                proven.add((key.kind, key.value))
        return proven

    # -- saying it -----------------------------------------------------------------
    async def _say(self, inbound: Message, view: ConversationView, text: str, core: CoreMeta,
                   history_changed: bool = False) -> None:
        """Back to where the customer wrote, through the outbox."""
        await send(self.store, self.bus, self.wakeup,
                   Outgoing.automatic(inbound, view, text, core, history_changed=history_changed), self.clock())
