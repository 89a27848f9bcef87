"""The store interface. Callers speak in models; each backend keeps its SQL
(or Mongo queries) to itself. Every method is one atomic step, so a crash
between two steps leaves a state the router can resume from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Literal, Self

from router.accounts.store import AccountStore
from router.conversations.store import ConversationStore, MessageStore, OutboundStore
from router.ingest.store import IngestStore
from router.models import (
    AuditEntry,
    ChannelIdentity,
    ClaimMatch,
    ConversationView,
    Customer,
    IdentityClaim,
    IdentityRef,
    MergeRecord,
    Message,
    Verification,
)
from router.outbox.store import OutboxStore
from router.routing.store import AssignmentStore
from router.store.errors import ConflictError


@dataclass(frozen=True, slots=True)
class KeyRef:
    """A normalised identity key: ``("phone", "+79123456789")``, ``("email", "anna@example.com")``."""

    kind: str
    value: str


@dataclass(frozen=True, slots=True)
class ClaimPlan:
    """A phone or email the customer gave, unproven; ``source`` says where
    (``webchat:claimed_phone``, ``telegram:text``…), ``raw`` as typed."""

    key: KeyRef
    source: str
    raw: str


@dataclass(frozen=True, slots=True)
class AttributeMergePolicy:
    """How a merge settles an attribute both profiles carry."""

    default: str = "most_recent"  # or "source_priority"
    per_attribute: tuple[tuple[str, str], ...] = ()
    source_priority: tuple[str, ...] = ("crm", "import", "agent", "channel")


@dataclass(frozen=True, slots=True)
class IdentityPlan:
    """What ``router.identity`` decided about a sender, for the store to apply
    in the same transaction as storing the message."""

    identity: IdentityRef  # normalised
    key: KeyRef | None = None
    # join the profile that already has ``key`` (config: auto_merge)
    match: bool = False
    # a key shared by more profiles than this is not used for matching
    max_profiles: int = 3
    claims: tuple[ClaimPlan, ...] = ()
    # key kinds whose claims merge profiles without verification (config)
    merge_claims: frozenset[str] = frozenset()
    attributes: AttributeMergePolicy = AttributeMergePolicy()
    # keys the platform vouches are the sender's own (router.identity.PROVEN_EXTRAS):
    # the identity gets the key, the claim is verified, the key's one owner absorbs the customer
    proven: tuple[ClaimPlan, ...] = ()
    # key kinds whose proof merges into the key's owner (config: auto_merge, as for a new identity)
    merge_proven: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class MergeRequest:
    survivor_id: str
    merged_id: str
    source: str  # rule, code, agent, import
    actor: str | None
    reason: str
    attributes: AttributeMergePolicy = AttributeMergePolicy()
    # the moved identities count as proven (a verified code); None keeps their state
    verified: bool | None = None


@dataclass(frozen=True, slots=True)
class CustomerUpsert:
    """Create or update a customer found by id or by keys (external id, phone,
    email): how a CRM or an import keeps value attributes current."""

    source: str  # crm, import, agent: recorded per attribute, for merge conflicts
    customer_id: str | None = None
    keys: tuple[KeyRef, ...] = ()
    display_name: str | None = None
    # value None removes the attribute
    attributes: tuple[tuple[str, Any], ...] = ()
    # a phone/email held by several customers, or by another customer than the
    # external id names: "refuse" (``KeyShared``/``ConflictError``, nothing
    # changes: a CRM's write by key) or "set_aside" (the row is applied without
    # it, and the store notes the key as shared: an import keeps what is good)
    shared_keys: Literal["refuse", "set_aside"] = "refuse"


# a claim with this source suffix is a key the business's own data (an import,
# a CRM) gave for a second customer: it makes the key shared, so never a lookup key
SHARED_KEY_SOURCE = ":shared"
# the source of a link or merge a platform proved (IdentityPlan.proven)
PROOF_SOURCE = "platform"


@dataclass(frozen=True, slots=True)
class Upserted:
    customer: Customer
    created: bool
    # keys given but not linked (``set_aside``), each with the reason
    set_aside: tuple[tuple[KeyRef, str], ...] = ()


@dataclass(frozen=True, slots=True)
class VerificationStart:
    """Send (or resend) a code for ``key`` claimed by ``customer_id``."""

    customer_id: str
    key: KeyRef
    channel: str
    code_hash: str
    ttl: timedelta
    resend_after: timedelta
    max_sends: int
    conversation_id: str | None = None
    origin: Literal["agent", "bot"] = "agent"
    # refuse (ConflictError) when the customer has a code pending, instead of replacing it; an
    # exclusive start (the bot's offer) is never refused by the resend/max_sends throttles: a refusal
    # would differ from a decoy's and tell a known phone from an unknown one
    exclusive: bool = False
    # at most this many codes (the bot's, sent) to ``key`` in a day, counted in the start's own
    # transaction; past it the start stores a decoy (channel "") and nothing is to be sent
    daily_cap: int | None = None


@dataclass(frozen=True, slots=True)
class VerificationCheck:
    """A code the customer typed; on a match the key's owner absorbs them."""

    customer_id: str
    code_hash: str
    max_attempts: int
    attributes: AttributeMergePolicy = AttributeMergePolicy()
    # where it was typed: a code past its time is answered "expired" only in the conversation it was offered in
    conversation_id: str | None = None
    # the identity that typed it: the one the code proves (a merge keeps every other identity's state)
    sender: IdentityRef | None = None


def _attribute_rank(meta: dict[str, Any], policy: AttributeMergePolicy, rule: str) -> tuple[Any, ...]:
    at = str(meta.get("at", ""))
    if rule == "source_priority":
        order = policy.source_priority
        source = meta.get("source")
        rank = order.index(source) if source in order else len(order)
        return (-rank, at)
    return (at,)


def merge_attributes(
    survivor: tuple[dict[str, Any], dict[str, Any]], merged: tuple[dict[str, Any], dict[str, Any]],
    policy: AttributeMergePolicy,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(attributes, meta)`` after a merge, each attribute settled on its own:
    the most recently set wins, or the better source (ties: the more recent);
    on a full tie the survivor's value stays."""
    (s_attrs, s_meta), (m_attrs, m_meta) = survivor, merged
    attrs, meta = dict(s_attrs), dict(s_meta)
    rules = dict(policy.per_attribute)
    for name, value in m_attrs.items():
        theirs = m_meta.get(name, {})
        if name in attrs:
            rule = rules.get(name, policy.default)
            if _attribute_rank(theirs, policy, rule) <= _attribute_rank(meta.get(name, {}), policy, rule):
                continue
        attrs[name] = value
        if theirs:
            meta[name] = theirs
    return attrs, meta


class KeyShared(ConflictError):
    """A phone/email held by more than one customer cannot say which one a write is for."""

    def __init__(self, key: KeyRef, customers: tuple[str, ...]) -> None:
        super().__init__(f"{key.kind} {key.value} is held by {len(customers)} customers ({', '.join(customers)})")
        self.key = key
        self.customers = customers

    def __reduce__(self) -> tuple[Any, ...]:  # crosses the writer process's pipe
        return (KeyShared, (self.key, self.customers))


class Store(AccountStore, OutboxStore, IngestStore, ConversationStore, MessageStore, OutboundStore, AssignmentStore,
            ABC):
    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @abstractmethod
    async def open(self) -> None:
        """Connect and apply pending schema migrations."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def ping(self) -> None:
        """A round trip to where messages are written; ``StoreError`` with the
        reason when a message could not be stored now (``/healthz``)."""

    # -- installation secrets --------------------------------------------
    @abstractmethod
    async def secret(self, name: str) -> bytes:
        """Return the named secret, creating a random one on first use."""

    # -- ingest ---------------------------------------------------------
    @abstractmethod
    async def resolve_identity(
        self, ref: IdentityRef, display_name: str | None, now: datetime, plan: IdentityPlan | None = None
    ) -> Customer:
        """The customer owning ``ref`` (``plan.identity`` when given), created
        on first sight, or joined to the one profile sharing its key when the
        plan says so and no more than ``plan.max_profiles`` profiles share it."""

    @abstractmethod
    async def find_identity(self, ref: IdentityRef) -> Customer | None: ...

    # -- customers -------------------------------------------------------
    @abstractmethod
    async def get_customer(self, customer_id: str) -> Customer: ...

    @abstractmethod
    async def customer_identities(self, customer_id: str) -> list[ChannelIdentity]: ...

    @abstractmethod
    async def customer_conversations(self, customer_id: str) -> list[ConversationView]: ...

    # -- identity: claims, merges, audit ----------------------------------------
    @abstractmethod
    async def upsert_customer(self, upsert: CustomerUpsert, now: datetime) -> Upserted:
        """By id, or by the one customer owning any of the keys (the keys it
        lacks are linked to it); a new customer when nobody owns them.
        ``ConflictError`` when the keys belong to different customers,
        ``KeyShared`` when a phone/email is held by several (``refuse``: see
        ``CustomerUpsert.shared_keys``); ``NotFound`` for an unknown id. All or
        nothing."""

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
        (channel ""): the caller sends only when the result has a channel."""

    @abstractmethod
    async def check_verification(self, check: VerificationCheck, now: datetime
                                 ) -> tuple[Verification, MergeRecord | None] | None:
        """Try the customer's pending code (None when none is pending). Right:
        the claim is verified and the profiles merge (source ``code``) in the
        same transaction, into the one customer a verified identity of the key
        belongs to; only ``check.sender`` becomes verified. Wrong: one attempt
        used; at ``max_attempts`` the code is dead. Past expiry: expired when
        typed in the conversation it was offered in, else None (no attempt)."""

    @abstractmethod
    async def conversation_verifications(self, conversation_id: str) -> list[Verification]:
        """The codes started for the claimant of ``conversation_id`` in it, oldest first."""

    @abstractmethod
    async def offered_codes(self, key: KeyRef, since: datetime) -> int:
        """How many codes the bot's offers sent to ``key`` (not decoys) since ``since``."""

    @abstractmethod
    async def decline_verification(self, verification_id: str) -> Verification | None:
        """The customer said no: a pending code is dead (``declined``); None when it was not pending."""

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
        ``ConflictError`` when it is verified, dismissed already, or matches nobody."""

    @abstractmethod
    async def automatic_sent(self, customer_id: str, marker: str) -> bool:
        """Whether the customer was ever sent an automatic message marked
        ``marker`` (its ``extras["automatic"]``), on any channel or conversation."""

    @abstractmethod
    async def merge_customers(self, request: MergeRequest, now: datetime) -> MergeRecord:
        """Fold ``merged_id`` into ``survivor_id`` in one transaction: identities,
        claims, conversations and messages move; attributes are settled per
        attribute; when both have an open conversation the newer one is folded
        into the older (its messages move, it is closed), so the customer keeps
        one open conversation. ``ConflictError`` for a customer merged already,
        or a customer merged with itself."""

    @abstractmethod
    async def unmerge_customers(self, merge_id: str, actor: str | None, reason: str, now: datetime) -> MergeRecord:
        """Undo a merge: both profiles, their identities, claims, conversations
        and messages as they were before it. ``ConflictError`` if it was undone
        already or a later merge of either customer is still in place."""

    @abstractmethod
    async def customer_merges(self, customer_id: str) -> list[MergeRecord]:
        """Merges the customer took part in, newest first."""

    @abstractmethod
    async def identity_audit(self, customer_id: str, limit: int) -> list[AuditEntry]:
        """Merges, unmerges and links concerning the customer, newest first."""
