"""The identity slice's SQL on PostgreSQL. Mixed into ``PostgresStore``, which gives it
the pool (``router.store.pg_engine``); storage and atomicity only, the rules are the
slice's. Each write holds the lock its method's docstring names (``router.identity.store``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from router.identity import postgres_claims, postgres_verification
from router.identity.postgres_customers import PostgresCustomers
from router.identity.postgres_merge import _merge, _unmerge
from router.identity.postgres_rows import _audit_entry, _merge_record
from router.identity.store import ClaimStore, MergeStore, VerificationStore
from router.identity.types import (
    KeyRef,
    MergeRequest,
    VerificationCheck,
    VerificationStart,
)
from router.models import (
    AuditEntry,
    ClaimMatch,
    IdentityClaim,
    MergeRecord,
    Message,
    Verification,
)
from router.store.pg_engine import PgConn, PgConnections


class PostgresIdentity(PostgresCustomers, VerificationStore, ClaimStore, MergeStore, PgConnections):
    """Identity over the pool of the store it is mixed into: codes, claims and merges here,
    customers in ``postgres_customers``."""

    async def key_contacts(self, key: KeyRef, limit: int) -> list[Message]:
        return await self._pg.read(postgres_verification.key_contacts, key, limit)

    async def start_verification(self, start: VerificationStart, now: datetime) -> Verification:
        return await self._pg.write(postgres_verification.start_verification, start, now)

    async def check_verification(
        self, check: VerificationCheck, now: datetime
    ) -> tuple[Verification, MergeRecord | None] | None:
        return await self._pg.write(postgres_verification.check_verification, check, now)

    async def conversation_verifications(self, conversation_id: str) -> list[Verification]:
        return await self._pg.read(postgres_verification.conversation_verifications, conversation_id)

    async def offered_codes(self, key: KeyRef, since: datetime) -> int:
        return await self._pg.read(postgres_verification.offered_codes, key, since)

    async def decline_verification(self, verification_id: str) -> Verification | None:
        return await self._pg.write(postgres_verification.decline_verification, verification_id)

    async def customer_claims(self, customer_id: str) -> list[IdentityClaim]:
        return await self._pg.read(postgres_claims.customer_claims, customer_id)

    async def claim_matches(self, customer_id: str, max_profiles: int) -> list[ClaimMatch]:
        return await self._pg.read(postgres_claims.claim_matches, customer_id, max_profiles)

    async def dismiss_claim(
        self, customer_id: str, claim_id: str, actor: str, reason: str, max_profiles: int, now: datetime
    ) -> list[ClaimMatch]:
        return await self._pg.write(postgres_claims.dismiss_claim, customer_id, claim_id, actor, reason, max_profiles,
                                    now)

    async def merge_customers(self, request: MergeRequest, now: datetime) -> MergeRecord:
        return await self._pg.write(_merge, request, now)

    async def unmerge_customers(self, merge_id: str, actor: str | None, reason: str, now: datetime) -> MergeRecord:
        return await self._pg.write(_unmerge, merge_id, actor, reason, now)

    async def customer_merges(self, customer_id: str) -> list[MergeRecord]:
        rows = await self._pg.read(_fetch, "SELECT * FROM customer_merges WHERE survivor_id = $1 OR merged_id = $1"
                                   " ORDER BY created_at DESC, seq DESC", customer_id)
        return [_merge_record(r) for r in rows]

    async def identity_audit(self, customer_id: str, limit: int) -> list[AuditEntry]:
        rows = await self._pg.read(_fetch, "SELECT * FROM identity_audit WHERE customer_id = $1"
                                   " OR other_customer_id = $1 ORDER BY created_at DESC, seq DESC LIMIT $2",
                                   customer_id, limit)
        return [_audit_entry(r) for r in rows]


async def _fetch(conn: PgConn, sql: str, *args: Any) -> list[asyncpg.Record]:
    return list(await conn.fetch(sql, *args))
