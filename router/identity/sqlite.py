"""The identity slice's SQL on SQLite: customers, identities, claims, codes,
merges and their audit. Mixed into ``SQLiteStore``, which gives it the writer
and reader connections; storage and atomicity only."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime

from router.identity import sqlite_claims, sqlite_contacts, sqlite_proven, sqlite_verification
from router.identity.contacts import ChannelContact
from router.identity.rules import nothing_to_apply
from router.identity.sqlite_bulk import _after_bulk_load, _bulk_load, _chunks
from router.identity.sqlite_merge import _merge, _unmerge
from router.identity.sqlite_resolve import _key_contacts, _resolve_identity, _upsert_customer
from router.identity.sqlite_rows import (
    _audit_entry,
    _claim,
    _customer,
    _customer_by_identity,
    _identity,
    _merge_record,
    _plain,
)
from router.identity.store import ClaimStore, CustomerStore, MergeStore, VerificationStore
from router.identity.types import (
    CustomerUpsert,
    IdentityPlan,
    KeyRef,
    MergeRequest,
    Upserted,
    VerificationCheck,
    VerificationStart,
)
from router.models import (
    AuditEntry,
    ChannelIdentity,
    ClaimMatch,
    Customer,
    IdentityClaim,
    IdentityRef,
    MergeRecord,
    Message,
    Verification,
)
from router.store.engine import Connections
from router.store.errors import NotFound
from router.store.rows import fetch_all as _all
from router.store.rows import fetch_one as _one
from router.store.rows import ts

BULK_CHUNK = 50_000  # rows per transaction of bulk_load


class SQLiteIdentity(CustomerStore, VerificationStore, ClaimStore, MergeStore, Connections):
    """Identity over the connections of the store it is mixed into."""

    async def bulk_load(self, customers: Iterable[tuple[str, str | None, str]],
                        identities: Iterable[tuple[str, str, str, str | None, str | None, str]]) -> None:
        """Trusted rows, without the per-row checks: for
        benchmarks and moving data over from another system. Customers are
        ``(id, name, created_at)``; identities ``(kind, value, customer_id,
        key_kind, key_value, created_at)``. Rows go in transactions of
        ``BULK_CHUNK`` (the writer process gets them in pieces, not all in
        memory at once); all customers before any identity."""
        for chunk in _chunks(customers, BULK_CHUNK):
            await self._w.run_alone(functools.partial(_bulk_load, customers=chunk, identities=[]))
        for rows in _chunks(identities, BULK_CHUNK):
            await self._w.run_alone(functools.partial(_bulk_load, customers=[], identities=rows))
        await self._w.run_alone(_after_bulk_load)

    async def resolve_identity(
        self, ref: IdentityRef, display_name: str | None, now: datetime, plan: IdentityPlan | None = None
    ) -> Customer:
        plan = plan or _plain(ref)
        # the common case, a returning customer, needs no write transaction
        found = await self._r.call(_customer_by_identity, plan.identity)
        if found is not None and nothing_to_apply(plan, display_name, found.display_name):
            return found
        return await self._w.call(_resolve_identity, plan, display_name, ts(now))

    async def find_identity(self, ref: IdentityRef) -> Customer | None:
        return await self._r.call(_customer_by_identity, ref)

    async def get_customer(self, customer_id: str) -> Customer:
        row = await self._r.call(_one, "SELECT * FROM customers WHERE id = ?", (customer_id,))
        if row is None:
            raise NotFound(f"customer {customer_id}")
        return _customer(row)

    async def customer_identities(self, customer_id: str) -> list[ChannelIdentity]:
        rows = await self._r.call(
            _all, "SELECT * FROM identities WHERE customer_id = ? ORDER BY created_at", (customer_id,)
        )
        return [_identity(r) for r in rows]

    async def upsert_customer(self, upsert: CustomerUpsert, now: datetime) -> Upserted:
        return await self._w.call(_upsert_customer, upsert, ts(now))

    async def key_contacts(self, key: KeyRef, limit: int) -> list[Message]:
        return await self._r.call(_key_contacts, key, limit)

    async def start_verification(self, start: VerificationStart, now: datetime) -> Verification:
        return await self._w.call(sqlite_verification.start_verification, start, now)

    async def check_verification(self, check: VerificationCheck, now: datetime
                                 ) -> tuple[Verification, MergeRecord | None] | None:
        return await self._w.call(sqlite_verification.check_verification, check, now)

    async def conversation_verifications(self, conversation_id: str) -> list[Verification]:
        return await self._r.call(sqlite_verification.conversation_verifications, conversation_id)

    async def offered_codes(self, key: KeyRef, since: datetime) -> int:
        return await self._r.call(sqlite_verification.offered_codes, key, ts(since))

    async def decline_verification(self, verification_id: str) -> Verification | None:
        return await self._w.call(sqlite_verification.decline_verification, verification_id)

    async def customer_claims(self, customer_id: str) -> list[IdentityClaim]:
        rows = await self._r.call(
            _all, "SELECT * FROM identity_claims WHERE customer_id = ? ORDER BY created_at, rowid", (customer_id,)
        )
        return [_claim(r) for r in rows]

    async def claim_matches(self, customer_id: str, max_profiles: int) -> list[ClaimMatch]:
        return await self._r.call(sqlite_claims.claim_matches, customer_id, max_profiles)

    async def dismiss_claim(self, customer_id: str, claim_id: str, actor: str, reason: str, max_profiles: int,
                            now: datetime) -> list[ClaimMatch]:
        return await self._w.call(sqlite_claims.dismiss_claim, customer_id, claim_id, actor, reason, max_profiles,
                                  ts(now))

    async def automatic_sent(self, customer_id: str, marker: str) -> bool:
        return await self._r.call(sqlite_proven.automatic_sent, customer_id, marker)

    async def merge_customers(self, request: MergeRequest, now: datetime) -> MergeRecord:
        return await self._w.call(_merge, request, ts(now))

    async def unmerge_customers(self, merge_id: str, actor: str | None, reason: str, now: datetime) -> MergeRecord:
        return await self._w.call(_unmerge, merge_id, actor, reason, ts(now))

    async def customer_merges(self, customer_id: str) -> list[MergeRecord]:
        rows = await self._r.call(
            _all, "SELECT * FROM customer_merges WHERE survivor_id = ? OR merged_id = ?"
            " ORDER BY created_at DESC, rowid DESC", (customer_id, customer_id),
        )
        return [_merge_record(r) for r in rows]

    async def identity_audit(self, customer_id: str, limit: int) -> list[AuditEntry]:
        rows = await self._r.call(
            _all, "SELECT * FROM identity_audit WHERE customer_id = ? OR other_customer_id = ?"
            " ORDER BY created_at DESC, rowid DESC LIMIT ?", (customer_id, customer_id, limit),
        )
        return [_audit_entry(r) for r in rows]

    async def last_contacts(self, customer_id: str) -> list[ChannelContact]:
        return await self._r.call(sqlite_contacts.last_contacts, customer_id)
