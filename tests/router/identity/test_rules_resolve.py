"""The identity slice's rules for a sender's message, without a database:
when a known sender needs no write, which claims are recorded and merge,
what a proven key does, and who a key's owner is."""

from __future__ import annotations

from router.identity.rules import (
    claim_merges,
    marks_shared,
    match_key,
    merges_into,
    new_claim,
    nothing_to_apply,
    other_owner,
    proof_merges,
    proven_key_link,
    proven_owner,
)
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


def test_a_new_identity_joins_its_keys_owner_only_when_keys_match() -> None:
    assert match_key(IdentityPlan(identity=ME, key=PHONE, match=True)) == PHONE
    assert match_key(IdentityPlan(identity=ME, key=PHONE, match=False)) is None
    assert match_key(IdentityPlan(identity=ME, match=True)) is None


def test_a_claim_is_recorded_unless_held_and_merges_only_for_the_kinds_config_names() -> None:
    assert new_claim(held_proven=False)
    assert not new_claim(held_proven=True)
    assert claim_merges(IdentityPlan(identity=ME, merge_claims=frozenset({"phone"})), CLAIM)
    assert not claim_merges(IdentityPlan(identity=ME, merge_claims=frozenset({"email"})), CLAIM)
    assert proof_merges(IdentityPlan(identity=ME, merge_proven=frozenset({"phone"})), CLAIM)
    assert not proof_merges(IdentityPlan(identity=ME), CLAIM)


def test_a_customer_is_merged_only_into_someone_else() -> None:
    assert merges_into("cus_owner", "cus_me") == "cus_owner"
    assert merges_into("cus_me", "cus_me") is None
    assert merges_into(None, "cus_me") is None


def identity(customer_id: str, verified: bool = True) -> dict[str, object]:
    return {"customer_id": customer_id, "verified": verified}


def test_a_code_merges_into_the_keys_one_other_verified_owner() -> None:
    assert proven_owner([identity("cus_me"), identity("cus_owner"), identity("cus_owner")], "cus_me") == "cus_owner"
    assert proven_owner([identity("cus_owner", verified=False)], "cus_me") is None  # linked without proof
    assert proven_owner([identity("cus_a"), identity("cus_b")], "cus_me") is None  # several own it
    assert proven_owner([identity("cus_me")], "cus_me") is None


def stored(key: KeyRef | None = None, reason: str | None = None) -> dict[str, object]:
    return {"kind": "telegram", "key_kind": key.kind if key else None, "key_value": key.value if key else None,
            "link_reason": reason}


def test_a_proven_key_keys_an_identity_that_has_none() -> None:
    assert proven_key_link(stored(), PHONE, "telegram:proven_phone") == (
        "phone proven by the platform (telegram:proven_phone)")
    assert proven_key_link(stored(reason="given by crm"), PHONE, "telegram:proven_phone") == "given by crm"
    assert proven_key_link(stored(KeyRef("email", "a@example.com")), PHONE, "telegram:proven_phone") is None
    assert proven_key_link(stored(PHONE), PHONE, "telegram:proven_phone") is None
    assert proven_key_link(None, PHONE, "telegram:proven_phone") is None


def test_a_proof_merges_into_the_one_other_owner_unless_the_key_is_shared() -> None:
    assert other_owner(PHONE, 1, ["cus_o"], {"cus_o"}, max_profiles=3) == "cus_o"
    assert other_owner(PHONE, 4, ["cus_o"], {"cus_o"}, max_profiles=3) is None  # too widely shared
    assert other_owner(PHONE, 2, ["cus_o", "cus_p"], {"cus_o", "cus_p"}, max_profiles=3) is None  # several own it
    assert other_owner(PHONE, 2, ["cus_o"], {"cus_o", "cus_q"}, max_profiles=3) is None  # marked shared
    assert other_owner(PHONE, 0, [], set(), max_profiles=3) is None


def test_a_claim_marks_its_key_shared_by_its_source() -> None:
    assert marks_shared("import:shared") and marks_shared("crm:shared")
    assert marks_shared("crm:SHARED")  # as the SQL's LIKE compared it
    assert not marks_shared("telegram:text")
    assert not marks_shared("webchat:claimed_phone")
    assert not marks_shared("shared")
