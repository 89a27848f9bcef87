"""Resolving a sender to a customer, inside the ingest transaction or on its
own: first sight of an identity, its key's owner, the claims it made; and
the customer writes of a CRM (upsert) and the contacts a code can go to."""

from __future__ import annotations

import logging
import sqlite3

from router.identity import sqlite_proven, sqlite_upsert
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
from router.identity.sqlite_claims import key_widely_shared
from router.identity.sqlite_live import live_end
from router.identity.sqlite_merge import _merge
from router.identity.sqlite_rows import _BY_IDENTITY, _audit, _customer
from router.identity.types import ClaimPlan, CustomerUpsert, IdentityPlan, KeyRef, MergeRequest, Upserted
from router.models import Customer, Message, new_id
from router.store.rows import fetch_all as _all
from router.store.rows import fetch_one as _one
from router.store.rows import message_row as _message

log = logging.getLogger(__name__)


def _resolve_identity(
    conn: sqlite3.Connection, plan: IdentityPlan, name: str | None, now: str, message_id: str | None = None
) -> Customer:
    return _customer(resolved_row(conn, plan, name, now, message_id))


def resolved_row(
    conn: sqlite3.Connection, plan: IdentityPlan, name: str | None, now: str, message_id: str | None = None
) -> sqlite3.Row:
    """``_resolve_identity``'s customer as its row: the ingest sends it to the
    server as plain values (``customer_values``), no model built in the writer."""
    found = _one(conn, _BY_IDENTITY, (plan.identity.kind, plan.identity.value))
    if found is not None and sender_is_given_key(plan) and _undo_shared_given(conn, plan, now):
        found = None
    if found is not None and found["merged_into"] is not None:
        # linked to a merged customer (a store written before that was refused): its chain's live end
        found = _live(conn, found["merged_into"])
    if found is None:
        customer_id = _link_new_identity(conn, plan, name, now)
    elif nothing_to_apply(plan, name, found["display_name"]):
        return found
    else:
        customer_id = found["id"]
    if plan.claims:
        customer_id = _record_claims(conn, customer_id, plan, message_id, now)
    if plan.proven:
        customer_id = sqlite_proven.record_proven(conn, customer_id, plan, message_id, now, _merge)
    if name:
        conn.execute(
            # a channel's profile name, unless the business named the customer (an import, the CRM)
            "UPDATE customers SET display_name = ?, updated_at = ? WHERE id = ? AND display_name IS NOT ?"
            " AND json_extract(attribute_meta, ?) IS NULL",
            (name, now, customer_id, name, f'$."{NAME_META}"'),
        )
    row = _one(conn, "SELECT * FROM customers WHERE id = ?", (customer_id,))
    assert row is not None
    return row


def _undo_shared_given(conn: sqlite3.Connection, plan: IdentityPlan, now: str) -> bool:
    """The sender's identity, when an import or a CRM gave it and that data
    marks its key shared (the file gave a family's e-mail to the son and the
    father), is no match for a channel: its link is undone into a shared
    claim on its customer, and True. A phone given so never collides with a
    channel's sender (a WhatsApp identity is its own); an e-mail does, and the
    family's mail came to the first row's record."""
    ref = plan.identity
    row = _one(conn, "SELECT customer_id, source, link_reason FROM identities WHERE kind = ? AND value = ?",
               (ref.kind, ref.value))
    if row is None or not given_link(row["link_reason"]):
        return False
    key = KeyRef(kind=ref.kind, value=ref.value)
    if not key_widely_shared(conn, key, plan.max_profiles):
        return False
    holder = str(row["customer_id"])
    reason = shared_given_reason(ref, str(row["source"]))
    conn.execute("DELETE FROM identities WHERE kind = ? AND value = ?", (ref.kind, ref.value))
    sqlite_upsert.note_shared(conn, holder, key, str(row["source"]), reason, now)
    _audit(conn, "unlink", holder, None, "rule", None, reason, {"identity": ref.model_dump()}, now)
    return True


def _live(conn: sqlite3.Connection, customer_id: str) -> sqlite3.Row:
    row = live_end(conn, customer_id)
    assert row is not None  # identities and merged_into name customers (foreign keys); none is ever deleted
    return row


def _key_owner(conn: sqlite3.Connection, key: KeyRef, max_profiles: int) -> str | None:
    """The one profile with a proven identity of ``key``, unless the key is
    too widely shared (more than ``max_profiles``), marked shared by the
    business's own data (an import's family phone: the son's WhatsApp joined
    his mother's record), or owned by several."""
    if key_widely_shared(conn, key, max_profiles):
        # the kind only: a phone or an address is a customer's, and never goes to the log
        log.info("a %s key is shared by more than %d profiles: not used for matching", key.kind, max_profiles)
        return None
    owners = _all(
        conn, "SELECT DISTINCT customer_id FROM identities WHERE key_kind = ? AND key_value = ? LIMIT 2",
        (key.kind, key.value),
    )
    return one_owner([r[0] for r in owners])


def _new_customer(conn: sqlite3.Connection, name: str | None, now: str) -> str:
    customer_id = new_id("cus")
    conn.execute(
        "INSERT INTO customers (id, display_name, created_at, updated_at) VALUES (?, ?, ?, ?)",
        (customer_id, name, now, now),
    )
    return customer_id


def _link_new_identity(conn: sqlite3.Connection, plan: IdentityPlan, name: str | None, now: str) -> str:
    """First sight of an identity: join the profile owning its key (when the
    rules say so), or start a new profile."""
    match = match_key(plan)
    owner = _key_owner(conn, match, plan.max_profiles) if match else None
    source, reason = "channel", None
    if owner is not None:
        # the profile the key has now: never a merged one (as on PostgreSQL, where a merge may commit meanwhile)
        owner = str(_live(conn, owner)["id"])
    if owner is None:
        owner = _new_customer(conn, name, now)
    else:
        assert match is not None
        source, reason = "rule", f"same {match.kind} {match.value} as a linked identity (auto_merge)"
        _audit(conn, "link", owner, None, source, None, reason, {"identity": plan.identity.model_dump()}, now)
    ref, key = plan.identity, plan.key
    conn.execute(
        "INSERT INTO identities (kind, value, customer_id, verified, source, created_at, key_kind, key_value,"
        " link_reason) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?)",
        (ref.kind, ref.value, owner, source, now, key.kind if key else None, key.value if key else None, reason),
    )
    return owner


def _record_claims(
    conn: sqlite3.Connection, customer_id: str, plan: IdentityPlan, message_id: str | None, now: str
) -> str:
    """Store the plan's claims; returns the customer (another one when a claim
    merged the profile into its owner, which config must have allowed)."""
    for claim in plan.claims:
        key = claim.key
        proven = _one(
            conn, "SELECT customer_id FROM identities WHERE key_kind = ? AND key_value = ? AND customer_id = ?",
            (key.kind, key.value, customer_id),
        )
        if not new_claim(held_proven=proven is not None):
            continue
        conn.execute(
            "INSERT OR IGNORE INTO identity_claims (id, customer_id, kind, value, source, raw, message_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (new_id("clm"), customer_id, key.kind, key.value, claim.source, claim.raw, message_id, now),
        )
        if claim_merges(plan, claim):
            customer_id = _merge_by_claim(conn, customer_id, claim, plan, now)
    return customer_id


def _merge_by_claim(conn: sqlite3.Connection, customer_id: str, claim: ClaimPlan, plan: IdentityPlan, now: str) -> str:
    owner = merges_into(_key_owner(conn, claim.key, plan.max_profiles), customer_id)
    if owner is None:
        return customer_id
    reason = f"claimed {claim.key.kind} {claim.key.value} ({claim.source}) merges by config (merge_claims)"
    # unproven: the moved identities are marked unverified, so neither side sees the other's history
    _merge(conn, MergeRequest(owner, customer_id, "rule", None, reason, plan.attributes, verified=False), now)
    return owner


def _upsert_customer(conn: sqlite3.Connection, upsert: CustomerUpsert, now: str) -> Upserted:
    customer_id, created, set_aside = sqlite_upsert.upsert_customer(conn, upsert, now)
    found = _one(conn, "SELECT * FROM customers WHERE id = ?", (customer_id,))
    assert found is not None
    return Upserted(_customer(found), created, set_aside)


def _key_contacts(conn: sqlite3.Connection, key: KeyRef, limit: int) -> list[Message]:
    rows = _all(
        conn,
        "SELECT m.* FROM identities i JOIN messages m ON m.customer_id = i.customer_id AND m.sender_kind = i.kind"
        # the identity's own messages (core.identity: its stored form, when the sender was written otherwise)
        " AND COALESCE(json_extract(m.core, '$.identity'), m.sender_value) = i.value"
        # only an identity proven to be its customer's holds the key for a code (invariant 9)
        " AND m.direction = 'in' WHERE i.key_kind = ? AND i.key_value = ? AND i.verified = 1"
        " ORDER BY m.created_at DESC LIMIT ?",
        (key.kind, key.value, limit),
    )
    return [_message(r) for r in rows]
