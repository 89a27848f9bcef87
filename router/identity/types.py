"""The identity slice's value types: what the service decides and the store
applies (a sender's plan, a merge, a code started or checked, a CRM's write).
Plain data, importing no store, so the store's protocols can name them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from router.models import Customer, IdentityRef


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
    """What ``router.identity.service`` decided about a sender, for the store to apply
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
    # keys the platform vouches are the sender's own (router.identity.service.PROVEN_KEYS):
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
    # keys the caller knows are several customers' (an import file gives one phone to two
    # external ids), with why: never a reason to land on a customer without an external id
    shared: Mapping[KeyRef, str] = field(default_factory=dict)


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
