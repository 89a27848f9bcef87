"""The identity slice's customers on PostgreSQL: resolving a sender to a customer,
upserts, bulk loads and last contacts. Mixed into ``PostgresStore``, which gives it
the pool (``router.store.pg_engine``); storage and atomicity only, the rules are the
slice's. Each write holds the lock its method's docstring names (``router.identity.store``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from router.identity.contacts import ChannelContact
from router.identity.store import CustomerStore
from router.identity.types import (
    CustomerUpsert,
    IdentityPlan,
    Upserted,
)
from router.models import (
    ChannelIdentity,
    Customer,
    IdentityRef,
)
from router.store.pg_engine import PgConnections


class PostgresCustomers(CustomerStore, PgConnections):
    """Customers over the pool of the store it is mixed into."""

    async def bulk_load(
        self,
        customers: Iterable[tuple[str, str | None, str]],
        identities: Iterable[tuple[str, str, str, str | None, str | None, str]],
    ) -> None:
        raise NotImplementedError("postgres: not yet")

    async def resolve_identity(
        self, ref: IdentityRef, display_name: str | None, now: datetime, plan: IdentityPlan | None = None
    ) -> Customer:
        raise NotImplementedError("postgres: not yet")

    async def find_identity(self, ref: IdentityRef) -> Customer | None:
        raise NotImplementedError("postgres: not yet")

    async def get_customer(self, customer_id: str) -> Customer:
        raise NotImplementedError("postgres: not yet")

    async def customer_identities(self, customer_id: str) -> list[ChannelIdentity]:
        raise NotImplementedError("postgres: not yet")

    async def upsert_customer(self, upsert: CustomerUpsert, now: datetime) -> Upserted:
        raise NotImplementedError("postgres: not yet")

    async def automatic_sent(self, customer_id: str, marker: str) -> bool:
        raise NotImplementedError("postgres: not yet")

    async def last_contacts(self, customer_id: str) -> list[ChannelContact]:
        raise NotImplementedError("postgres: not yet")
