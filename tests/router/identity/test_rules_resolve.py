"""The identity slice's rules for a sender's message, without a database:
when a known sender needs no write, which claims are recorded and merge,
what a proven key does, and who a key's owner is."""

from __future__ import annotations

from router.identity.rules import nothing_to_apply
from router.identity.types import ClaimPlan, IdentityPlan, KeyRef
from router.models import IdentityRef

PHONE = KeyRef("phone", "+79123456789")
CLAIM = ClaimPlan(PHONE, "telegram:text", "8 912 345-67-89")
ME = IdentityRef(kind="telegram", value="5551234")


def test_a_known_sender_needs_a_write_only_for_a_claim_a_proof_or_a_new_name() -> None:
    plain = IdentityPlan(identity=ME)
    assert nothing_to_apply(plain, None, "Anna")
    assert nothing_to_apply(plain, "", "Anna")
    assert nothing_to_apply(plain, "Anna", "Anna")
    assert not nothing_to_apply(plain, "Anya", "Anna")
    assert not nothing_to_apply(IdentityPlan(identity=ME, claims=(CLAIM,)), None, "Anna")
    assert not nothing_to_apply(IdentityPlan(identity=ME, proven=(CLAIM,)), None, "Anna")
