"""Proving a claim: a one-time code goes to the claimed phone/email through
the durable outbox; the customer types it in the chat they claimed from; on
the right code the two profiles merge (source ``code``).

The code is sent over a channel where the claimed key has written before (the
platform proved that address), and the stored copy of that message is masked:
only the outbox payload carries the digits, so neither an agent reading the
conversation nor a history shown in another channel reveals them, and only
until the outbox is done with it: once sent or dead-lettered the entry keeps
the masked text too, so the code is in no table.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
from typing import Literal, Protocol

from router import events
from router.bus import EventBus
from router.conversations.outbound import Outgoing, send
from router.conversations.store import ConversationStore, OutboundStore
from router.identity.service import IdentityRules
from router.identity.store import ClaimStore, VerificationStore
from router.identity.types import KeyRef, VerificationCheck, VerificationStart
from router.language import answer_language
from router.models import (
    Author,
    ConversationStatus,
    CoreMeta,
    MergeRecord,
    Message,
    Verification,
)
from router.store.errors import ConflictError, NotFound
from router.store.secrets import SecretStore
from router.texts import localized

log = logging.getLogger(__name__)

_CONTACTS = 20


class VerifierStore(VerificationStore, ClaimStore, ConversationStore, OutboundStore, SecretStore, Protocol):
    """What one-time codes need of the store: the codes, the claims they
    prove, the claimant's conversations, the code's message on its way, and
    the secret codes are hashed with."""


def fill(text: str, **values: str) -> str:
    """``text`` with each ``{name}`` replaced: an admin's text is no format string (no attribute access)."""
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


class VerificationRefused(Exception):
    """A code cannot be sent (nobody can reach the claimed address, or it is proven already)."""


class Verifier:
    def __init__(self, store: VerifierStore, bus: EventBus, rules: IdentityRules, clock: Callable[[], datetime],
                 wakeup: asyncio.Event) -> None:
        self.store = store
        self.bus = bus
        self.rules = rules
        self.clock = clock
        self.wakeup = wakeup
        # the connectors this installation runs; None: not known (no check)
        self.channels: Collection[str] | None = None
        # may a free-text message go to where this inbound message came from now (a reply window)?
        self.reachable: Callable[[Message], bool] = lambda _: True
        policy = rules.config.verification
        # exactly a code's digits (spaced or dashed as people copy them): an order number, a date or a
        # phone is no code attempt
        self._code = re.compile(rf"^\s*(\d(?:[\s-]*\d){{{policy.code_length - 1}}})\s*$")

    async def _hash(self, customer_id: str, code: str) -> str:
        key = await self.store.secret("verification")
        return hmac.new(key, f"{customer_id}:{code}".encode(), hashlib.sha256).hexdigest()

    async def _contact(self, key: KeyRef, besides: str | None = None, only_one: bool = False) -> Message:
        """The latest message from an identity proven to have ``key``, on a
        channel this installation runs, of a customer other than ``besides``
        (the claimant: a code never goes back to who asked for it): where the
        code goes. ``only_one``: refused when the key is several customers'
        (a family's phone): a code would prove the claimant is one of them, not which."""
        contacts = await self.store.key_contacts(key, _CONTACTS)
        if only_one and len({c.customer_id for c in contacts if c.customer_id != besides}) > 1:
            raise VerificationRefused(f"{key.kind} {key.value} is several customers'")
        for contact in contacts:
            if contact.sender is None or contact.conversation_id is None or contact.customer_id == besides:
                continue
            # a sender whose kind is no key kind (a chat account) has the key
            # only because its platform proved it (the store joins by identity)
            if self.rules.channel_identity(contact.sender)[1] not in (key, None):
                continue
            if (self.channels is None or contact.channel in self.channels) and self.reachable(contact):
                return contact
        raise VerificationRefused(
            f"no connected channel can reach {key.kind} {key.value}: nobody has written from it on a channel "
            "this installation runs (lately enough for its reply window), so a code cannot be sent there; "
            "link it by hand if you are sure"
        )

    async def start(self, customer_id: str, claim_id: str) -> Verification:
        claim = next((c for c in await self.store.customer_claims(customer_id) if c.id == claim_id), None)
        if claim is None:
            raise NotFound(f"claim {claim_id} of customer {customer_id}")
        if claim.verified_at is not None:
            raise VerificationRefused(f"{claim.kind} {claim.value} is verified already")
        key = KeyRef(claim.kind, claim.value)
        contact = await self._contact(key)
        conversation_id = next((c.id for c in await self.store.customer_conversations(customer_id)
                                if c.status is not ConversationStatus.RESOLVED), None)
        return await self._start(customer_id, key, contact, conversation_id, "agent")

    async def offer(self, customer_id: str, key: KeyRef, conversation_id: str,
                    announce: Callable[[], Awaitable[None]]) -> Verification:
        """The bot's offer: a code to the channel that proved ``key`` when
        another customer can be reached there; otherwise a decoy, a pending
        code whose digits nobody was sent, so that every answer the customer
        gets (wrong, expired, too many tries) is the one a real code gives,
        and a claim cannot tell who is a customer. ``ConflictError`` when the
        customer has a code pending already. ``announce`` (the offer's words)
        runs once the code is started and before it is sent: the words come
        as soon for a number nobody has as for a customer's."""
        try:
            contact: Message | None = await self._contact(key, besides=customer_id, only_one=True)
        except VerificationRefused:
            contact = None
        return await self._start(customer_id, key, contact, conversation_id, "bot", announce)

    async def _start(self, customer_id: str, key: KeyRef, contact: Message | None, conversation_id: str | None,
                     origin: Literal["agent", "bot"], announce: Callable[[], Awaitable[None]] | None = None,
                     ) -> Verification:
        policy = self.rules.config.verification
        code = f"{secrets.randbelow(10**policy.code_length):0{policy.code_length}d}"
        now = self.clock()
        verification = await self.store.start_verification(VerificationStart(
            customer_id, key, contact.channel if contact else "", await self._hash(customer_id, code),
            timedelta(seconds=policy.ttl_seconds), timedelta(seconds=policy.resend_after_seconds), policy.max_sends,
            conversation_id, origin, exclusive=origin == "bot",
            daily_cap=policy.max_offered_codes_per_key_per_day if origin == "bot" else None,
        ), now)
        if announce is not None:
            await announce()
        if contact is None:
            log.info("verification %s of %s: no code sent (nobody to send it to)", verification.id, customer_id)
            return verification
        if not verification.channel:  # the store's count, in the start's transaction
            log.warning("verification %s of %s: no code sent, the daily limit of codes to that %s was reached",
                        verification.id, customer_id, key.kind)
            return verification
        text = localized(policy.text, answer_language(contact, None))
        await self._send(contact, fill(text, code=code, value=key.value), code, now)
        log.info("verification code for %s of %s sent via %s (%s)", key.kind, customer_id, contact.channel, origin)
        return verification

    async def _send(self, contact: Message, text: str, code: str, now: datetime) -> None:
        assert contact.sender is not None and contact.conversation_id is not None
        out = Outgoing(contact, contact.conversation_id, contact.customer_id, text, Author.SYSTEM,
                       core=CoreMeta(verification=True, aside=True), shown=text.replace(code, "•" * len(code)))
        await send(self.store, self.bus, self.wakeup, out, now)

    def code_in(self, text: str) -> str | None:
        """The code's digits when ``text`` is one (and nothing else)."""
        found = self._code.match(text)
        return None if found is None else re.sub(r"[\s-]", "", found.group(1))

    async def check(self, message: Message, customer_id: str, code: str
                    ) -> tuple[Verification, MergeRecord | None] | None:
        """``code`` typed as ``message`` is checked against the customer's
        pending one: the code's state after it, and the merge it made; None
        when none is pending (or one past its time, typed elsewhere)."""
        policy = self.rules.config.verification
        sender = self.rules.identity_of(message.sender) if message.sender is not None else None
        check = VerificationCheck(customer_id, await self._hash(customer_id, code), policy.max_attempts,
                                  self.rules.attribute_policy(), message.conversation_id, sender)
        try:
            outcome = await self.store.check_verification(check, self.clock())
        except ConflictError as exc:  # the other profile was merged meanwhile: the code proves nothing now
            log.warning("verification of %s not applied: %s", customer_id, exc)
            return None
        if outcome is None:
            return None
        verification, merge = outcome
        log.info("verification %s of %s: %s", verification.id, customer_id, verification.status)
        if merge is not None:
            self.bus.publish(events.customer_merged(merge))
        return outcome
