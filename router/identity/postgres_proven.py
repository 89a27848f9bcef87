"""Keys a platform proves are the sender's own (a Telegram contact of the
sender's own account), applied in the transaction that stores the message,
on PostgreSQL: what ``sqlite_proven`` does on SQLite (its docstring says what
a proof does), with the locks several writers need.

Lock: the caller (``postgres_resolve``) holds each proven key's owners lock
(advisory kind 4) from before the sender's identity takes the key to the
commit, so two senders proving the same phone at once are seen one after
the other: the second finds the first as the key's owner (and merges into
it when config says so), never two owners made in parallel. A merge locks
as ``merge_customers``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from router.identity.postgres_rows import _audit
from router.identity.postgres_upsert import key_holders
from router.identity.rules import other_owner, proof_merges, proven_key_link
from router.identity.types import PROOF_SOURCE, ClaimPlan, IdentityPlan, KeyRef, MergeRequest
from router.models import new_id
from router.store.pg_engine import PgConn, rows_changed

log = logging.getLogger(__name__)

SOURCE = PROOF_SOURCE  # provenance of a link the platform proved

Merge = Callable[[PgConn, MergeRequest, datetime], Awaitable[Any]]


async def record_proven(conn: PgConn, customer_id: str, plan: IdentityPlan, message_id: str | None, now: datetime,
                        merge: Merge) -> str:
    """Apply ``plan.proven``; returns the customer the sender now belongs to
    (the key's owner when the proof merged them)."""
    for proof in plan.proven:
        changed = await _give_key(conn, plan, proof) | await _verify_claim(conn, customer_id, proof, message_id, now)
        if changed:
            reason = f"{proof.key.kind} proven by the platform: a contact of the sender's own account ({proof.source})"
            details = {"identity": plan.identity.model_dump(), "key": [proof.key.kind, proof.key.value],
                       "message_id": message_id}
            await _audit(conn, "link", customer_id, None, SOURCE, None, reason, details, now)
        if not proof_merges(plan, proof):
            continue
        owner = await _other_owner(conn, customer_id, proof.key, plan.max_profiles)
        if owner is None:
            continue
        reason = f"{proof.key.kind} proven by the platform ({proof.source}) is the one linked to this customer"
        # the proof is the sender's identity's: every other identity of the customer keeps its state
        # (one linked without proof must not see the owner's history)
        await merge(conn, MergeRequest(owner, customer_id, SOURCE, None, reason, plan.attributes), now)
        customer_id = owner
        await conn.execute("UPDATE identities SET verified = true WHERE kind = $1 AND value = $2 AND customer_id = $3",
                           plan.identity.kind, plan.identity.value, owner)
    return customer_id


async def _give_key(conn: PgConn, plan: IdentityPlan, proof: ClaimPlan) -> bool:
    """The sender's identity is matched by the proven key from now on, unless it has one (``rules.proven_key_link``)."""
    ref, key = plan.identity, proof.key
    row = await conn.fetchrow("SELECT kind, key_kind, key_value, link_reason FROM identities"
                              " WHERE kind = $1 AND value = $2", ref.kind, ref.value)
    reason = proven_key_link(None if row is None else dict(row), key, proof.source)
    if reason is None:
        return False
    await conn.execute("UPDATE identities SET key_kind = $1, key_value = $2, link_reason = $3"
                       " WHERE kind = $4 AND value = $5 AND key_kind IS NULL",
                       key.kind, key.value, reason, ref.kind, ref.value)
    return True


async def _verify_claim(conn: PgConn, customer_id: str, proof: ClaimPlan, message_id: str | None,
                        now: datetime) -> bool:
    key = proof.key
    added = rows_changed(await conn.execute(
        "INSERT INTO identity_claims (id, customer_id, kind, value, source, raw, message_id, created_at,"
        " verified_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT DO NOTHING",
        new_id("clm"), customer_id, key.kind, key.value, proof.source, proof.raw, message_id, now,
    ))
    # a claim typed earlier (or given on another channel) is proven now
    verified = rows_changed(await conn.execute(
        "UPDATE identity_claims SET verified_at = $1 WHERE customer_id = $2 AND kind = $3 AND value = $4"
        " AND verified_at IS NULL", now, customer_id, key.kind, key.value,
    ))
    return bool(added or verified)


async def _other_owner(conn: PgConn, customer_id: str, key: KeyRef, max_profiles: int) -> str | None:
    """The one other customer a verified identity of ``key`` belongs to (``rules.other_owner``)."""
    sharers = await conn.fetch(
        "SELECT customer_id FROM identities WHERE key_kind = $1 AND key_value = $2 AND customer_id != $3"
        " UNION SELECT customer_id FROM identity_claims WHERE kind = $1 AND value = $2 AND customer_id != $3"
        " LIMIT $4", key.kind, key.value, customer_id, max_profiles + 1,
    )
    owners = await conn.fetch(
        "SELECT DISTINCT customer_id FROM identities WHERE key_kind = $1 AND key_value = $2 AND customer_id != $3"
        " AND verified LIMIT 2", key.kind, key.value, customer_id,
    )
    holders = set(await key_holders(conn, key)) - {customer_id}
    return other_owner(key, len(sharers), [str(r[0]) for r in owners], holders, max_profiles)


async def automatic_sent(conn: PgConn, customer_id: str, marker: str) -> bool:
    """Whether the customer was ever sent the automatic message ``marker``
    (``core.automatic``): the bot asks for a phone once per customer."""
    row = await conn.fetchrow(
        "SELECT 1 FROM messages WHERE customer_id = $1 AND direction = 'out' AND core->>'automatic' = $2 LIMIT 1",
        customer_id, marker,
    )
    return row is not None
