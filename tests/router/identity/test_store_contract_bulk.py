"""Customers loaded in bulk (benchmarks, moving data over), on every backend
of tests/router/store/test_contract.py: rows from generators, in chunks, as
good as resolved ones afterwards."""

from __future__ import annotations

import pytest

from router.identity import postgres_customers
from router.identity import sqlite as identity_sqlite
from router.identity.types import IdentityPlan, KeyRef
from router.models import IdentityRef
from router.store.base import Store
from router.store.rows import ts
from tests.router.store.test_contract import T0


async def test_bulk_loaded_customers_are_found_and_joined_by_key(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (identity_sqlite, postgres_customers):
        monkeypatch.setattr(module, "BULK_CHUNK", 2)  # five customers: three transactions of each table
    stamp = ts(T0)
    customers = ((f"cus_{n}", f"Customer {n}", stamp) for n in range(5))
    identities = (("whatsapp", f"+7912000000{n}", f"cus_{n}", "phone", f"+7912000000{n}", stamp) for n in range(5))
    await store.bulk_load(customers, identities)
    found = await store.find_identity(IdentityRef(kind="whatsapp", value="+79120000004"))
    assert found is not None and (found.id, found.display_name, found.created_at) == ("cus_4", "Customer 4", T0)
    [identity] = await store.customer_identities("cus_4")
    assert identity.key == "phone:+79120000004" and identity.verified
    # a loaded identity's key is a key like any other: a new channel of that phone joins its customer
    sms = IdentityRef(kind="sms", value="+79120000003")
    plan = IdentityPlan(identity=sms, key=KeyRef("phone", "+79120000003"), match=True)
    assert (await store.resolve_identity(sms, None, T0, plan)).id == "cus_3"
