"""Store contract, every backend: claims that match another customer's proven
key (the hints agents see on both panels) and their dismissal."""

from __future__ import annotations

import pytest

from router.identity.types import SHARED_KEY_SOURCE, ClaimPlan, KeyRef, MergeRequest
from router.models import Customer
from router.store.base import Store
from router.store.errors import ConflictError, NotFound
from tests.router.identity.test_store_contract import PHONE, keyed
from tests.router.store.test_contract import T0

CAP = 3


async def holder(store: Store, kind: str = "whatsapp", value: str = "+79123456789") -> Customer:
    """A customer proven on a channel whose address is the phone ``value``."""
    plan = keyed(kind, value, key=KeyRef("phone", value))
    return await store.resolve_identity(plan.identity, "Анна", T0, plan)


async def claimant(store: Store, visitor: str = "v1", key: KeyRef = PHONE, source: str = "webchat:claimed_phone"
                   ) -> Customer:
    """A site-chat visitor who typed ``key``: unproven."""
    plan = keyed("webchat", visitor, key=None, claims=(ClaimPlan(key, source, "8 912 345-67-89"),))
    return await store.resolve_identity(plan.identity, f"Visitor {visitor}", T0, plan)


async def test_a_claim_of_a_proven_key_shows_on_the_claimant_and_on_the_holder(store: Store) -> None:
    anna = await holder(store)
    visitor = await claimant(store)
    # a claim of a key nobody holds is no match
    await claimant(store, "v2", KeyRef("phone", "+79990000000"))
    [claim] = await store.customer_claims(visitor.id)

    seen = await store.claim_matches(visitor.id, CAP)
    assert seen == await store.claim_matches(anna.id, CAP)
    [match] = seen
    assert match.claim == claim
    assert (match.claimant_name, match.holder_id, match.holder_name, match.holder_channels) == (
        "Visitor v1", anna.id, "Анна", ["whatsapp"])


async def test_a_key_shared_beyond_the_cap_or_marked_shared_matches_nobody(store: Store) -> None:
    anna = await holder(store)
    for n in range(CAP):  # the holder and three claimants: four profiles share the phone
        await claimant(store, f"v{n}")
    assert await store.claim_matches(anna.id, CAP) == []
    assert len(await store.claim_matches(anna.id, CAP + 1)) == CAP

    other = KeyRef("phone", "+79120000000")
    bob = await holder(store, "sms", other.value)
    await claimant(store, "w1", other)
    assert len(await store.claim_matches(bob.id, CAP)) == 1
    # the business's own data says the number is shared (an import gave it to someone else)
    await claimant(store, "w2", other, "import" + SHARED_KEY_SOURCE)
    assert await store.claim_matches(bob.id, CAP) == []


async def test_no_match_once_the_claimant_and_the_holder_are_one(store: Store) -> None:
    anna = await holder(store)
    visitor = await claimant(store)
    await store.merge_customers(MergeRequest(anna.id, visitor.id, "agent", "ann", "same person"), T0)
    assert await store.claim_matches(anna.id, CAP) == [] and await store.claim_matches(visitor.id, CAP) == []


async def test_dismissing_hides_the_hint_on_both_sides_and_is_audited_on_both(store: Store) -> None:
    anna = await holder(store)
    visitor = await claimant(store)
    [claim] = await store.customer_claims(visitor.id)

    [hidden] = await store.dismiss_claim(visitor.id, claim.id, "ann", "a prank", CAP, T0)
    assert hidden.holder_id == anna.id and hidden.claim.id == claim.id
    assert await store.claim_matches(anna.id, CAP) == [] and await store.claim_matches(visitor.id, CAP) == []
    # the claim itself stays: the customer gave it, and a code can still prove it
    assert await store.customer_claims(visitor.id) == [claim]
    for side in (anna.id, visitor.id):
        [entry] = await store.identity_audit(side, 10)
        assert (entry.action, entry.customer_id, entry.other_customer_id, entry.actor, entry.reason) == (
            "claim_dismissed", visitor.id, anna.id, "ann", "a prank")
        assert entry.details["value"] == PHONE.value and entry.details["claim_id"] == claim.id


async def test_a_dismissal_that_cannot_apply_is_refused_and_changes_nothing(store: Store) -> None:
    anna = await holder(store)
    visitor = await claimant(store)
    lonely = await claimant(store, "v2", KeyRef("phone", "+79990000000"))
    [claim] = await store.customer_claims(visitor.id)
    [nobodys] = await store.customer_claims(lonely.id)

    with pytest.raises(NotFound):
        await store.dismiss_claim(visitor.id, "clm_nope", "ann", "x", CAP, T0)
    with pytest.raises(NotFound):  # the holder's id with the claimant's claim: not the holder's claim
        await store.dismiss_claim(anna.id, claim.id, "ann", "x", CAP, T0)
    with pytest.raises(ConflictError, match="matches no other customer"):
        await store.dismiss_claim(lonely.id, nobodys.id, "ann", "x", CAP, T0)
    assert len(await store.claim_matches(anna.id, CAP)) == 1
    assert await store.identity_audit(anna.id, 10) == [] and await store.identity_audit(lonely.id, 10) == []

    await store.dismiss_claim(visitor.id, claim.id, "ann", "a prank", CAP, T0)
    with pytest.raises(ConflictError, match="dismissed already"):
        await store.dismiss_claim(visitor.id, claim.id, "bob", "again", CAP, T0)
    assert len(await store.identity_audit(anna.id, 10)) == 1
