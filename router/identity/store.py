"""What the identity slice needs from a store, and no more, in four
protocols of a concern each. ``Store`` inherits them all, so the full store
still offers them; a consumer is typed against the ones it uses, and a new
backend knows identity's part of its work from these alone (the rules it
must apply are in ``router.identity.rules``).

Every method is one atomic step; errors are ``router.store``'s
(``ConflictError``, ``NotFound``, ``StoreUnavailable``...) and
``router.identity.errors.KeyShared``."""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime
from typing import Protocol

from router.identity.contacts import ChannelContact
from router.identity.types import (
    CustomerUpsert,
    IdentityPlan,
    KeyRef,
    MergeRequest,
    Upserted,
    VerificationCheck,
    VerificationStart,
)
from router.models import (
    AuditEntry,
    ChannelIdentity,
    ClaimMatch,
    Customer,
    IdentityClaim,
    IdentityRef,
    MergeRecord,
    Message,
    Verification,
)


class CustomerStore(Protocol):
    """The customers and the identities they write from: a sender resolved to
    its customer, a profile read, a CRM's write, where they were last seen."""

    @abstractmethod
    async def resolve_identity(
        self, ref: IdentityRef, display_name: str | None, now: datetime, plan: IdentityPlan | None = None
    ) -> Customer:
        """The customer owning ``ref`` (``plan.identity`` when given), created
        on first sight, or joined to the one profile sharing its key when the
        plan says so and no more than ``plan.max_profiles`` profiles share it.

        Lock: a sender seen for the first time by two transactions at once
        (two first messages in parallel) fails neither: its identity's insert
        is ``ON CONFLICT (kind, value) DO NOTHING``, and what this transaction
        would write only for it (a new customer, the link's audit) is kept
        only when that insert took (one statement: a data-modifying WITH
        inserting the customer from the identity's RETURNING; or a savepoint
        rolled back when it did not); when it did not, the identity is read
        again and its customer is the answer, never an integrity error to
        the connector. Every key whose owners it reads (the key a new
        identity joins by, a claim's that merges by config, a platform's
        proof's) is locked by its advisory lock (kind 4,
        ``router.store.base``), all at once in sorted order, before the
        sender's identity is read again and anything is written: two senders
        proving one phone at once are seen one after the other, so the
        second finds the first as its owner. The sender's customer is then
        held ``FOR KEY SHARE`` to the commit (when it turns out merged, the
        live end of its chain of merges instead, A into B into C: C, a walk
        of at most ``rules.MERGE_CHAIN_LIMIT`` steps): no merge of it
        commits meanwhile, so nothing this transaction writes for it (a
        claim, a proof, ingest's message) lands on a profile merged away. A
        new identity joining its key's owner holds the owner so before it is
        linked (a merge takes no key's lock): never linked to a merged one. Claims are inserted ``ON CONFLICT DO
        NOTHING``; a merge it makes locks as ``merge_customers``."""

    @abstractmethod
    async def find_identity(self, ref: IdentityRef) -> Customer | None: ...

    @abstractmethod
    async def get_customer(self, customer_id: str) -> Customer: ...

    @abstractmethod
    async def customer_identities(self, customer_id: str) -> list[ChannelIdentity]: ...

    @abstractmethod
    async def upsert_customer(self, upsert: CustomerUpsert, now: datetime) -> Upserted:
        """By id, or by the one customer owning any of the keys (the keys it
        lacks are linked to it); a new customer when nobody owns them.
        ``ConflictError`` when the keys belong to different customers,
        ``KeyShared`` when a phone/email is held by several (``refuse``: see
        ``CustomerUpsert.shared_keys``); ``NotFound`` for an unknown id. All or
        nothing.

        Lock: the advisory lock of each of its keys (kind 4, in sorted order)
        before their holders are read, so two writes by a new key make one
        customer, not two; then the customer the keys name, ``FOR UPDATE``,
        and, when it turns out merged, the live end of its chain of merges
        instead and the keys' owners read again (a merge does not take the
        keys' locks, and one committed meanwhile moved them to its
        survivor; bounded as ``resolve_identity``'s walk): the write lands
        on the profile that has the keys, never on a merged one. By id, the customer's row ``FOR
        UPDATE`` from the check that it was not merged to the write."""

    @abstractmethod
    async def automatic_sent(self, customer_id: str, marker: str) -> bool:
        """Whether the customer was ever sent an automatic message marked
        ``marker`` (its ``core.automatic``), on any channel or conversation."""

    @abstractmethod
    async def last_contacts(self, customer_id: str) -> list[ChannelContact]:
        """Per channel the customer wrote from, their latest message there and
        the intent the bot answered it with; most recent first."""


class VerificationStore(Protocol):
    """One-time codes that prove a claimed phone/email, and where they can be sent."""

    @abstractmethod
    async def key_contacts(self, key: KeyRef, limit: int) -> list[Message]:
        """The latest inbound messages from verified identities having ``key``
        (newest first): the channel and address a code for that key can be
        sent to. An identity linked without proof holds the key for no code."""

    @abstractmethod
    async def start_verification(self, start: VerificationStart, now: datetime) -> Verification:
        """A new code for the customer's claim (replacing one in flight for the
        same key). ``ConflictError`` when the last send was less than
        ``resend_after`` ago or ``max_sends`` codes went out already (never for
        an exclusive start). Past ``daily_cap`` the stored code is a decoy
        (channel ""): the caller sends only when the result has a channel.

        Lock: the customer's codes' advisory lock (kind 2, by customer id;
        the pending code cannot be the lock, there may be none yet, and two
        starts would both insert one), then the key's daily cap advisory lock
        (kind 3), both before anything is read: the pending code (its sends,
        ``resend_after``) and the count of the key's codes of the last day
        are still true when the new code is written, so parallel starts
        neither pass the cap nor fail on the one-pending-code index."""

    @abstractmethod
    async def check_verification(self, check: VerificationCheck, now: datetime
                                 ) -> tuple[Verification, MergeRecord | None] | None:
        """Try the customer's pending code (None when none is pending). Right:
        the claim is verified and the profiles merge (source ``code``) in the
        same transaction, into the one customer a verified identity of the key
        belongs to; only ``check.sender`` becomes verified. Wrong: one attempt
        used; at ``max_attempts`` the code is dead. Past expiry: expired when
        typed in the conversation it was offered in, else None (no attempt).

        Lock: the pending code's row ``FOR UPDATE`` (re-read still pending)
        from the read of its attempts to the write. This is a security
        property: without it parallel wrong guesses all read the same
        attempts and each writes attempts + 1 of that, so ``max_attempts``
        no longer bounds the guesses. A right code's merge then locks as
        ``merge_customers``."""

    @abstractmethod
    async def conversation_verifications(self, conversation_id: str) -> list[Verification]:
        """The codes started for the claimant of ``conversation_id`` in it, oldest first."""

    @abstractmethod
    async def offered_codes(self, key: KeyRef, since: datetime) -> int:
        """How many codes the bot's offers sent to ``key`` (not decoys) since ``since``."""

    @abstractmethod
    async def decline_verification(self, verification_id: str) -> Verification | None:
        """The customer said no: a pending code is dead (``declined``); None when it was not pending.

        Single statement: an UPDATE of the code only while it is pending."""


class ClaimStore(Protocol):
    """The phones/emails customers gave without proof, and which match someone."""

    @abstractmethod
    async def customer_claims(self, customer_id: str) -> list[IdentityClaim]:
        """Unverified phones/emails the customer gave, oldest first."""

    @abstractmethod
    async def claim_matches(self, customer_id: str, max_profiles: int) -> list[ClaimMatch]:
        """Unproven, undismissed claims that match a proven identity of another
        customer, with ``customer_id`` as the claimant or as the holder, oldest
        claim first; one per claim and holder. None for a key held (proven or
        claimed) by more than ``max_profiles`` customers, or one the business's
        data marks shared; none with a customer merged into another."""

    @abstractmethod
    async def dismiss_claim(self, customer_id: str, claim_id: str, actor: str, reason: str, max_profiles: int,
                            now: datetime) -> list[ClaimMatch]:
        """An agent says the claim's match is not worth acting on: it is no
        longer among ``claim_matches`` of anyone, and the audit log of the
        claimant and of each holder says who dismissed it and why. Returns the
        matches it hid. ``NotFound`` for a claim that is not the customer's;
        ``ConflictError`` when it is verified, dismissed already, or matches nobody.

        Lock: the claim's row ``FOR UPDATE`` from the check that it is open
        to the writes: two agents dismissing it at once get one success and
        one conflict, and each holder's audit log gets one entry."""


class MergeStore(Protocol):
    """Merges of two customers, their undoing, and the audit log of both."""

    @abstractmethod
    async def merge_customers(self, request: MergeRequest, now: datetime) -> MergeRecord:
        """Fold ``merged_id`` into ``survivor_id`` in one transaction: identities,
        claims, conversations and messages move; attributes are settled per
        attribute; when both have an open conversation one is folded into the
        other (``rules.fold``: the one an agent is on, else the queued one, else
        the older; its messages move, it is closed), so the customer keeps one
        open conversation. ``ConflictError`` for a customer merged already,
        or a customer merged with itself.

        Lock: both customers' rows ``FOR UPDATE``, in id order (two merges of
        the same pair, either way round, never wait for each other), from the
        check that neither is merged already to the last write; then their
        conversations ``FOR UPDATE`` (by id) before they or their messages are
        read: which are open and which is older stays true to the fold, and a
        message put in one meanwhile (its writer locks the conversation) is
        moved with the rest, not left behind with the merged customer."""

    @abstractmethod
    async def unmerge_customers(self, merge_id: str, actor: str | None, reason: str, now: datetime) -> MergeRecord:
        """Undo a merge: both profiles, their identities, claims, conversations
        and messages as they were before it. ``ConflictError`` if it was undone
        already or a later merge of either customer is still in place.

        Lock: both customers' rows ``FOR UPDATE`` in id order (their ids read
        from the merge record, which never change), then the merge record's
        row ``FOR UPDATE``, read again, before the checks: no merge of either
        can be made meanwhile (it takes the same customer locks), and two
        unmerges of one merge get one success and one conflict. Then their
        conversations ``FOR UPDATE`` (by id), as ``merge_customers``: one
        changed since the merge is summed up again, never put back over the
        change."""

    @abstractmethod
    async def customer_merges(self, customer_id: str) -> list[MergeRecord]:
        """Merges the customer took part in, newest first."""

    @abstractmethod
    async def identity_audit(self, customer_id: str, limit: int) -> list[AuditEntry]:
        """Merges, unmerges and links concerning the customer, newest first."""
