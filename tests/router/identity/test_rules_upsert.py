"""The rules of a customer write by keys (a CRM's write, an import's row),
without a database: which customer the keys name, which keys are set aside
or refuse the write, and what the write does to the profile."""

from __future__ import annotations

from typing import Literal

import pytest

from router.identity.errors import KeyShared
from router.identity.rules_upsert import (
    check_named,
    external_clash,
    keys_customer,
    may_be_shared,
    sort_keys,
    written_profile,
)
from router.identity.types import CustomerUpsert, KeyRef
from router.store.errors import ConflictError

PHONE = KeyRef("phone", "+79123456789")
EMAIL = KeyRef("email", "anna@example.com")
EXTERNAL = KeyRef("external", "crm-42")
NOW = "2026-03-02T10:00:00.000000Z"


def write(*keys: KeyRef, shared: Literal["refuse", "set_aside"] = "refuse", **changes: object) -> CustomerUpsert:
    return CustomerUpsert(source="crm", keys=keys, shared_keys=shared, **changes)  # type: ignore[arg-type]


def test_only_a_person_key_can_be_shared() -> None:
    assert may_be_shared(PHONE) and may_be_shared(EMAIL)
    assert not may_be_shared(EXTERNAL)


def test_a_key_held_by_several_customers_refuses_the_write_or_is_set_aside() -> None:
    holders = {PHONE: ("cus_a", "cus_b"), EMAIL: ("cus_a",)}
    with pytest.raises(KeyShared) as refused:
        sort_keys(write(EMAIL, PHONE), holders)
    assert refused.value.customers == ("cus_a", "cus_b")
    usable, aside = sort_keys(write(EMAIL, PHONE, EXTERNAL, shared="set_aside"), holders)
    assert usable == [EMAIL, EXTERNAL]
    assert aside == [(PHONE, "held by 2 customers (cus_a, cus_b)")]


def test_the_keys_name_one_customer_nobody_or_refuse() -> None:
    assert keys_customer({PHONE: {"cus_a"}, EMAIL: {"cus_a"}}) == "cus_a"
    assert keys_customer({PHONE: set()}) is None
    assert keys_customer({}) is None
    with pytest.raises(ConflictError, match=r"different customers \(phone .+: cus_a; email .+: cus_b\)"):
        keys_customer({PHONE: {"cus_a"}, EMAIL: {"cus_b"}})


def test_another_external_id_sets_the_customers_keys_aside_or_refuses() -> None:
    owners = {PHONE: {"cus_a"}, EXTERNAL: set()}
    # the customer has no external id yet, or this one: the row is theirs
    assert external_clash(write(PHONE, EXTERNAL), [PHONE, EXTERNAL], owners, "cus_a", None) == (
        "cus_a", [PHONE, EXTERNAL], [])
    assert external_clash(write(PHONE, EXTERNAL), [PHONE, EXTERNAL], owners, "cus_a", "crm-42")[0] == "cus_a"
    assert external_clash(write(PHONE), [PHONE], {PHONE: {"cus_a"}}, "cus_a", "crm-7")[0] == "cus_a"
    # another external id: the phone is theirs, the row is for nobody yet
    found, usable, aside = external_clash(write(PHONE, EXTERNAL, shared="set_aside"), [PHONE, EXTERNAL], owners,
                                          "cus_a", "crm-7")
    assert (found, usable) == (None, [EXTERNAL])
    assert aside == [(PHONE, "customer cus_a has external id 'crm-7' already, not 'crm-42': the phone is theirs")]
    with pytest.raises(ConflictError, match="external id 'crm-7' already, not 'crm-42': the phone is theirs"):
        external_clash(write(PHONE, EXTERNAL), [PHONE, EXTERNAL], owners, "cus_a", "crm-7")


def test_a_row_needs_a_key_that_names_one_customer() -> None:
    check_named([EMAIL], [])
    with pytest.raises(ConflictError, match=r"no key of the row names one customer: phone .+: held by 2"):
        check_named([], [(PHONE, "held by 2 customers (cus_a, cus_b)")])


def test_a_write_sets_or_removes_each_attribute_and_replaces_a_given_name() -> None:
    old = {"at": "2026-01-01T00:00:00.000000Z", "source": "agent"}
    attrs, meta = {"tier": "gold", "city": "Пермь"}, {"tier": old, "city": old}
    upsert = write(PHONE, attributes=(("tier", "silver"), ("city", None), ("ltv", 10)))
    assert written_profile("Анна", attrs, meta, upsert, NOW) == (
        "Анна", {"tier": "silver", "ltv": 10},
        {"tier": {"at": NOW, "source": "crm"}, "ltv": {"at": NOW, "source": "crm"}})
    assert attrs == {"tier": "gold", "city": "Пермь"}  # the rows read are not changed in place
    assert written_profile("Анна", {}, {}, write(PHONE, display_name="Анна П."), NOW)[0] == "Анна П."
    assert written_profile(None, {}, {}, write(PHONE), NOW)[0] is None
