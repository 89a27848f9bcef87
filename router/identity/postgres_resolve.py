"""Resolving a sender to a customer on PostgreSQL, inside the ingest
transaction or on its own: first sight of an identity, its key's owner, the
claims it made; and the customer writes of a CRM (upsert) and the contacts a
code can go to. The units of ``sqlite_resolve`` under the same names, times
as ``datetime``.

Locks (``CustomerStore.resolve_identity``), with several writers at once,
in the order of ``router.store.base``:
- the keys whose owners the plan reads whoever the sender is (a proof's, a
  claim's that merges by config, with the match key), advisory kind 4, all
  at once in sorted order, before anything is read; on first sight, with
  none of those, the match key's lock alone, then the identity read again;
- the sender's customer ``FOR KEY SHARE`` (what a row referencing it takes
  anyway) to the commit, and when it turns out merged, the live end of its
  chain of merges instead (``postgres_live``, bounded): no merge of it
  commits under this transaction, so a claim, a proof, a message (ingest)
  never lands on a profile just merged away. On first sight that customer
  is the key's owner a new identity joins: locked so (a merge takes no
  key's lock) before the identity is linked to it;
- a sender seen for the first time by two transactions: its identity's
  insert is ``ON CONFLICT (kind, value) DO NOTHING``, and a new customer is
  inserted in the same statement from that insert's ``RETURNING``, so it
  exists only when the identity took; when it did not, the identity is read
  again and its customer is the answer;
- claims are inserted ``ON CONFLICT DO NOTHING``; a merge locks as
  ``merge_customers`` (customers ``FOR UPDATE`` in id order)."""

from __future__ import annotations

import logging
from datetime import datetime

from router.identity import postgres_proven, postgres_upsert
from router.identity.postgres_claims import key_widely_shared
from router.identity.postgres_live import live_end
from router.identity.postgres_merge import _merge
from router.identity.postgres_rows import _audit, _customer
from router.identity.postgres_upsert import lock_keys
from router.identity.postgres_verification import key_contacts as _key_contacts
from router.identity.rules import (
    claim_merges,
    given_link,
    match_key,
    merges_into,
    new_claim,
    nothing_to_apply,
    one_owner,
    sender_is_given_key,
    shared_given_reason,
)
from router.identity.rules_upsert import NAME_META
from router.identity.types import ClaimPlan, CustomerUpsert, IdentityPlan, KeyRef, MergeRequest, Upserted
from router.models import Customer, IdentityRef, new_id
from router.store.pg_engine import PgConn

log = logging.getLogger(__name__)


def _plan_keys(plan: IdentityPlan) -> set[KeyRef]:
    """The keys whose owners this resolve reads whoever the sender is, known
    from the plan alone: the claims that merge by config and the proofs (with
    the match key, so that all are taken at once, in one order)."""
    keys = {claim.key for claim in plan.claims if claim_merges(plan, claim)} | {proof.key for proof in plan.proven}
    match = match_key(plan)
    return keys | {match} if keys and match is not None else keys


_HELD_CUSTOMER = """
    SELECT c.* FROM identities i JOIN customers c ON c.id = i.customer_id WHERE i.kind = $1 AND i.value = $2
    FOR KEY SHARE OF c
"""


async def _held_customer(conn: PgConn, ref: IdentityRef) -> Customer | None:
    """The sender's customer, its row held ``FOR KEY SHARE`` to the commit (as
    a row referencing it holds it), so no merge of it commits meanwhile. One
    that committed before the lock was granted moved the identity to its
    survivor, whom ``merged_into`` names: followed to the live end of the
    chain (``postgres_live``), as is an identity a store written before that
    rule linked to a merged customer (it never moves: read again, it would
    name the merged one for ever)."""
    row = await conn.fetchrow(_HELD_CUSTOMER, ref.kind, ref.value)
    if row is None:
        return None
    if row["merged_into"] is not None:
        row = await live_end(conn, row["merged_into"], "KEY SHARE")
        assert row is not None  # merged_into names a customer (a foreign key); customers are never deleted
    return _customer(row)


async def _resolve_identity(
    conn: PgConn, plan: IdentityPlan, name: str | None, now: datetime, message_id: str | None = None
) -> Customer:
    # advisory locks first (router.store.base): a proof's or a merging claim's key before any row
    keys = _plan_keys(plan)
    # a sender that is itself a key (an e-mail) may hold an import's link: its key locked with the rest
    given = {KeyRef(kind=plan.identity.kind, value=plan.identity.value)} if sender_is_given_key(plan) else set()
    if keys | given:
        await lock_keys(conn, keys | given)
    if given:
        await _undo_shared_given(conn, plan, now)
    found = await _held_customer(conn, plan.identity)
    if found is None and not keys and (match := match_key(plan)) is not None:
        # first sight, joining by key: no row is held yet; read again under the key's lock
        await lock_keys(conn, {match})
        found = await _held_customer(conn, plan.identity)
    if found is None:
        customer_id = await _link_new_identity(conn, plan, name, now)
    elif nothing_to_apply(plan, name, found.display_name):
        return found
    else:
        customer_id = found.id
    if plan.claims:
        customer_id = await _record_claims(conn, customer_id, plan, message_id, now)
    if plan.proven:
        customer_id = await postgres_proven.record_proven(conn, customer_id, plan, message_id, now, _merge)
    if name:
        await conn.execute(
            # a channel's profile name, unless the business named the customer (an import, the CRM)
            "UPDATE customers SET display_name = $1, updated_at = $2 WHERE id = $3"
            " AND display_name IS DISTINCT FROM $1 AND NOT attribute_meta ? $4", name, now, customer_id, NAME_META,
        )
    row = await conn.fetchrow("SELECT * FROM customers WHERE id = $1", customer_id)
    assert row is not None
    return _customer(row)


async def _undo_shared_given(conn: PgConn, plan: IdentityPlan, now: datetime) -> None:
    """``sqlite_resolve._undo_shared_given``: the sender's identity, given by an
    import or a CRM whose data marks it shared, is undone into a shared claim
    on its customer. Under its key's lock (taken before any row, as an
    upsert by that key takes it: the caller holds it), so no write by the
    key interleaves."""
    ref = plan.identity
    key = KeyRef(kind=ref.kind, value=ref.value)
    row = await conn.fetchrow("SELECT customer_id, source, link_reason FROM identities WHERE kind = $1 AND value = $2",
                              ref.kind, ref.value)
    if row is None or not given_link(row["link_reason"]) or not await key_widely_shared(conn, key, plan.max_profiles):
        return
    holder = str(row["customer_id"])
    reason = shared_given_reason(ref, str(row["source"]))
    await conn.execute("DELETE FROM identities WHERE kind = $1 AND value = $2", ref.kind, ref.value)
    await postgres_upsert.note_shared(conn, holder, key, str(row["source"]), reason, now)
    await _audit(conn, "unlink", holder, None, "rule", None, reason, {"identity": ref.model_dump()}, now)


async def _key_owner(conn: PgConn, key: KeyRef, max_profiles: int) -> str | None:
    """The one profile with a proven identity of ``key``, unless the key is
    too widely shared (more than ``max_profiles``), marked shared by the
    business's own data (an import's family phone), or owned by several."""
    if await key_widely_shared(conn, key, max_profiles):
        # the kind only: a phone or an address is a customer's, and never goes to the log
        log.info("a %s key is shared by more than %d profiles: not used for matching", key.kind, max_profiles)
        return None
    owners = await conn.fetch(
        "SELECT DISTINCT customer_id FROM identities WHERE key_kind = $1 AND key_value = $2 LIMIT 2",
        key.kind, key.value,
    )
    return one_owner([r[0] for r in owners])


# a new profile exists only if its identity took: one statement, the customer inserted from the
# identity's RETURNING (the identity's reference to it is checked at the statement's end)
_NEW_PROFILE = """
    WITH linked AS (
        INSERT INTO identities (kind, value, customer_id, verified, source, created_at, key_kind, key_value)
        VALUES ($1, $2, $3, true, 'channel', $4, $5, $6)
        ON CONFLICT (kind, value) DO NOTHING
        RETURNING customer_id
    )
    INSERT INTO customers (id, display_name, created_at, updated_at)
    SELECT customer_id, $7, $4, $4 FROM linked
    RETURNING id
"""

_LINK = """
    INSERT INTO identities (kind, value, customer_id, verified, source, created_at, key_kind, key_value, link_reason)
    VALUES ($1, $2, $3, true, 'rule', $4, $5, $6, $7)
    ON CONFLICT (kind, value) DO NOTHING
    RETURNING customer_id
"""


async def _link_new_identity(conn: PgConn, plan: IdentityPlan, name: str | None, now: datetime) -> str:
    """First sight of an identity: join the profile owning its key (when the
    rules say so), or start a new profile. Another transaction linking the
    same identity first wins: its customer is the answer."""
    match = match_key(plan)
    owner = await _key_owner(conn, match, plan.max_profiles) if match else None
    ref, key = plan.identity, plan.key
    key_kind, key_value = (key.kind, key.value) if key else (None, None)
    if owner is not None:
        # the owner read under the key's lock, but a merge takes no key's lock: held FOR KEY SHARE
        # (no merge of it commits now, and one that committed meanwhile moved the key to its
        # survivor, the chain's live end), the identity joins the profile the key has, never a merged one
        found = await live_end(conn, owner, "KEY SHARE")
        assert found is not None  # identities name customers (a foreign key); customers are never deleted
        owner = str(found["id"])
    if owner is None:
        took = await conn.fetchval(_NEW_PROFILE, ref.kind, ref.value, new_id("cus"), now, key_kind, key_value, name)
    else:
        assert match is not None
        reason = f"same {match.kind} {match.value} as a linked identity (auto_merge)"
        took = await conn.fetchval(_LINK, ref.kind, ref.value, owner, now, key_kind, key_value, reason)
        if took is not None:
            await _audit(conn, "link", owner, None, "rule", None, reason, {"identity": ref.model_dump()}, now)
    if took is not None:
        return str(took)
    # the insert waited for the transaction that linked it first, which committed: read it now
    linked = await _held_customer(conn, ref)
    assert linked is not None
    return linked.id


async def _record_claims(conn: PgConn, customer_id: str, plan: IdentityPlan, message_id: str | None,
                         now: datetime) -> str:
    """Store the plan's claims; returns the customer (another one when a claim
    merged the profile into its owner, which config must have allowed)."""
    for claim in plan.claims:
        key = claim.key
        proven = await conn.fetchval(
            "SELECT customer_id FROM identities WHERE key_kind = $1 AND key_value = $2 AND customer_id = $3",
            key.kind, key.value, customer_id,
        )
        if not new_claim(held_proven=proven is not None):
            continue
        await conn.execute(
            "INSERT INTO identity_claims (id, customer_id, kind, value, source, raw, message_id, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            new_id("clm"), customer_id, key.kind, key.value, claim.source, claim.raw, message_id, now,
        )
        if claim_merges(plan, claim):
            customer_id = await _merge_by_claim(conn, customer_id, claim, plan, now)
    return customer_id


async def _merge_by_claim(conn: PgConn, customer_id: str, claim: ClaimPlan, plan: IdentityPlan,
                          now: datetime) -> str:
    owner = merges_into(await _key_owner(conn, claim.key, plan.max_profiles), customer_id)
    if owner is None:
        return customer_id
    reason = f"claimed {claim.key.kind} {claim.key.value} ({claim.source}) merges by config (merge_claims)"
    # unproven: the moved identities are marked unverified, so neither side sees the other's history
    await _merge(conn, MergeRequest(owner, customer_id, "rule", None, reason, plan.attributes, verified=False), now)
    return owner


async def _upsert_customer(conn: PgConn, upsert: CustomerUpsert, now: datetime) -> Upserted:
    customer_id, created, set_aside = await postgres_upsert.upsert_customer(conn, upsert, now)
    found = await conn.fetchrow("SELECT * FROM customers WHERE id = $1", customer_id)
    assert found is not None
    return Upserted(_customer(found), created, set_aside)


__all__ = ["_key_contacts", "_resolve_identity", "_upsert_customer"]
