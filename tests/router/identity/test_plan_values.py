"""A sender's identity plan crosses to SQLite's writer process as plain values
(router/identity/sqlite_rows.py): what arrives is the plan that was sent."""

from __future__ import annotations

from router.identity.sqlite_rows import plan_of, plan_values
from router.identity.types import AttributeMergePolicy, ClaimPlan, IdentityPlan, KeyRef
from router.models import IdentityRef


def test_a_plan_arrives_as_it_was_sent() -> None:
    phone = KeyRef("phone", "+79123456789")
    plan = IdentityPlan(
        identity=IdentityRef(kind="telegram", value="42"), key=phone, match=True, max_profiles=5,
        claims=(ClaimPlan(KeyRef("email", "anna@example.com"), "telegram:text", "Anna@Example.com"),),
        merge_claims=frozenset({"email"}),
        attributes=AttributeMergePolicy("source_priority", (("tier", "most_recent"),), ("crm", "agent")),
        proven=(ClaimPlan(phone, "telegram:contact", "+7 912 345-67-89"),), merge_proven=frozenset({"phone"}),
    )
    assert plan_of(plan_values(plan)) == plan
    plain = IdentityPlan(identity=IdentityRef(kind="webchat", value="visitor"))
    assert plan_of(plan_values(plain)) == plain
