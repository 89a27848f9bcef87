"""The identity slice's customers on PostgreSQL: resolving a sender to a customer,
upserts, bulk loads and last contacts. Mixed into ``PostgresStore``, which gives it
the pool (``router.store.pg_engine``); storage and atomicity only, the rules are the
slice's. Each write holds the lock its method's docstring names (``router.identity.store``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime

from router.identity import postgres_contacts, postgres_proven
from router.identity.contacts import ChannelContact
from router.identity.postgres_bulk import CustomerRow, IdentityRow, _after_bulk_load, _bulk_load
from router.identity.postgres_resolve import _resolve_identity, _upsert_customer
from router.identity.postgres_rows import _customer, _customer_by_identity, _identity
from router.identity.rules import nothing_to_apply
from router.identity.sqlite_bulk import _chunks
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
from router.store.errors import NotFound
from router.store.pg_engine import PgConn, PgConnections

BULK_CHUNK = 50_000  # rows per transaction of bulk_load


async def _customer_row(conn: PgConn, customer_id: str) -> Customer | None:
    row = await conn.fetchrow("SELECT * FROM customers WHERE id = $1", customer_id)
    return None if row is None else _customer(row)


async def _identities(conn: PgConn, customer_id: str) -> list[ChannelIdentity]:
    rows = await conn.fetch("SELECT * FROM identities WHERE customer_id = $1 ORDER BY created_at", customer_id)
    return [_identity(r) for r in rows]


class PostgresCustomers(CustomerStore, PgConnections):
    """Customers over the pool of the store it is mixed into."""

    async def bulk_load(
        self,
        customers: Iterable[CustomerRow],
        identities: Iterable[IdentityRow],
    ) -> None:
        """Trusted rows without the per-row checks (``SQLiteIdentity.bulk_load``):
        customers ``(id, name, created_at)``, identities ``(kind, value,
        customer_id, key_kind, key_value, created_at)``, by COPY in transactions
        of ``BULK_CHUNK`` rows; all customers before any identity."""
        for chunk in _chunks(customers, BULK_CHUNK):
            await self._pg.write(_bulk_load, chunk, [])
        for rows in _chunks(identities, BULK_CHUNK):
            await self._pg.write(_bulk_load, [], rows)
        await self._pg.run_alone(_after_bulk_load)

    async def resolve_identity(
        self, ref: IdentityRef, display_name: str | None, now: datetime, plan: IdentityPlan | None = None
    ) -> Customer:
        plan = plan or IdentityPlan(identity=ref)
        # the common case, a returning customer, needs no write transaction
        found = await self._pg.read(_customer_by_identity, plan.identity)
        if found is not None and nothing_to_apply(plan, display_name, found.display_name):
            return found
        return await self._pg.write(_resolve_identity, plan, display_name, now)

    async def find_identity(self, ref: IdentityRef) -> Customer | None:
        return await self._pg.read(_customer_by_identity, ref)

    async def get_customer(self, customer_id: str) -> Customer:
        found = await self._pg.read(_customer_row, customer_id)
        if found is None:
            raise NotFound(f"customer {customer_id}")
        return found

    async def customer_identities(self, customer_id: str) -> list[ChannelIdentity]:
        return await self._pg.read(_identities, customer_id)

    # a node's upserts run one after another in the order they were called (asyncio's lock is
    # first come, first served), as SQLite's one writer runs them: an import gathers a chunk of
    # rows at once, and a later row of the file (the same keys, another external id) must find
    # what the earlier ones wrote. Across nodes there is no order to keep; the locks of
    # upsert_customer keep each write whole.
    _upserts_in_order: asyncio.Lock | None = None

    async def upsert_customer(self, upsert: CustomerUpsert, now: datetime) -> Upserted:
        if self._upserts_in_order is None:
            self._upserts_in_order = asyncio.Lock()
        async with self._upserts_in_order:
            return await self._pg.write(_upsert_customer, upsert, now)

    async def automatic_sent(self, customer_id: str, marker: str) -> bool:
        return await self._pg.read(postgres_proven.automatic_sent, customer_id, marker)

    async def last_contacts(self, customer_id: str) -> list[ChannelContact]:
        return await self._pg.read(postgres_contacts.last_contacts, customer_id)
