"""Keys a platform proves are the sender's own (a Telegram contact of the
sender's own account), applied in the transaction that stores the message.

A proven key is as good as a one-time code: the sender's identity is given
the key (when it has none), so later messages from that number on another
channel join this customer under the usual auto_merge and
max_profiles_per_key rules, and a code for that number can be sent to this
chat; the customer's claim of the key is recorded as verified; and when
exactly one other customer owns the key (and auto_merge is on for its kind,
as for a new identity with that key), this customer is merged into that
one (only the sender's identity counts as proven there: every other keeps
its state, so one an agent linked without proof sees none of it), a
merge the ordinary unmerge undoes (the key and the claim are set before
the merge, so its snapshot holds them and an unmerge leaves the proof,
which stays true, with the customer who gave it).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from router.identity.rules import other_owner, proof_merges, proven_key_link
from router.identity.sqlite_upsert import key_holders
from router.identity.types import PROOF_SOURCE, ClaimPlan, IdentityPlan, KeyRef, MergeRequest
from router.models import new_id

log = logging.getLogger(__name__)

SOURCE = PROOF_SOURCE  # provenance of a link the platform proved

Merge = Callable[[sqlite3.Connection, MergeRequest, str], Any]


def record_proven(conn: sqlite3.Connection, customer_id: str, plan: IdentityPlan, message_id: str | None, now: str,
                  merge: Merge) -> str:
    """Apply ``plan.proven``; returns the customer the sender now belongs to
    (the key's owner when the proof merged them)."""
    for proof in plan.proven:
        changed = _give_key(conn, plan, proof) | _verify_claim(conn, customer_id, proof, message_id, now)
        if changed:
            reason = f"{proof.key.kind} proven by the platform: a contact of the sender's own account ({proof.source})"
            _audit(conn, customer_id, reason, {"identity": plan.identity.model_dump(), "key": [
                proof.key.kind, proof.key.value], "message_id": message_id}, now)
        if not proof_merges(plan, proof):
            continue
        owner = _other_owner(conn, customer_id, proof.key, plan.max_profiles)
        if owner is None:
            continue
        reason = f"{proof.key.kind} proven by the platform ({proof.source}) is the one linked to this customer"
        # the proof is the sender's identity's: every other identity of the customer keeps its state
        # (one linked without proof must not see the owner's history)
        merge(conn, MergeRequest(owner, customer_id, SOURCE, None, reason, plan.attributes), now)
        customer_id = owner
        conn.execute("UPDATE identities SET verified = 1 WHERE kind = ? AND value = ? AND customer_id = ?",
                     (plan.identity.kind, plan.identity.value, owner))
    return customer_id


def _give_key(conn: sqlite3.Connection, plan: IdentityPlan, proof: ClaimPlan) -> bool:
    """The sender's identity is matched by the proven key from now on, unless it has one (``rules.proven_key_link``)."""
    ref, key = plan.identity, proof.key
    row = conn.execute("SELECT kind, key_kind, key_value, link_reason FROM identities WHERE kind = ? AND value = ?",
                       (ref.kind, ref.value)).fetchone()
    reason = proven_key_link(None if row is None else dict(row), key, proof.source)
    if reason is None:
        return False
    conn.execute("UPDATE identities SET key_kind = ?, key_value = ?, link_reason = ?"
                 " WHERE kind = ? AND value = ? AND key_kind IS NULL",
                 (key.kind, key.value, reason, ref.kind, ref.value))
    return True


def _verify_claim(conn: sqlite3.Connection, customer_id: str, proof: ClaimPlan, message_id: str | None,
                  now: str) -> bool:
    key = proof.key
    added = conn.execute(
        "INSERT OR IGNORE INTO identity_claims (id, customer_id, kind, value, source, raw, message_id, created_at,"
        " verified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (new_id("clm"), customer_id, key.kind, key.value, proof.source, proof.raw, message_id, now, now),
    ).rowcount
    # a claim typed earlier (or given on another channel) is proven now
    verified = conn.execute(
        "UPDATE identity_claims SET verified_at = ? WHERE customer_id = ? AND kind = ? AND value = ?"
        " AND verified_at IS NULL", (now, customer_id, key.kind, key.value),
    ).rowcount
    return bool(added or verified)


def _other_owner(conn: sqlite3.Connection, customer_id: str, key: KeyRef, max_profiles: int) -> str | None:
    """The one other customer a verified identity of ``key`` belongs to (``rules.other_owner``)."""
    sharers = conn.execute(
        "SELECT customer_id FROM identities WHERE key_kind = ? AND key_value = ? AND customer_id != ?"
        " UNION SELECT customer_id FROM identity_claims WHERE kind = ? AND value = ? AND customer_id != ? LIMIT ?",
        (key.kind, key.value, customer_id, key.kind, key.value, customer_id, max_profiles + 1),
    ).fetchall()
    owners = conn.execute(
        "SELECT DISTINCT customer_id FROM identities WHERE key_kind = ? AND key_value = ? AND customer_id != ?"
        " AND verified = 1 LIMIT 2", (key.kind, key.value, customer_id),
    ).fetchall()
    holders = set(key_holders(conn, key)) - {customer_id}
    return other_owner(key, len(sharers), [str(r[0]) for r in owners], holders, max_profiles)


def _audit(conn: sqlite3.Connection, customer_id: str, reason: str, details: dict[str, Any], now: str) -> None:
    conn.execute(
        "INSERT INTO identity_audit (id, action, customer_id, other_customer_id, source, actor, reason, details,"
        " created_at) VALUES (?, 'link', ?, NULL, ?, NULL, ?, ?, ?)",
        (new_id("aud"), customer_id, SOURCE, reason, json.dumps(details, ensure_ascii=False), now),
    )


def automatic_sent(conn: sqlite3.Connection, customer_id: str, marker: str) -> bool:
    """Whether the customer was ever sent the automatic message ``marker``
    (``core.automatic``): the bot asks for a phone once per customer."""
    row = conn.execute(
        "SELECT 1 FROM messages WHERE customer_id = ? AND direction = 'out'"
        " AND json_extract(core, '$.automatic') = ? LIMIT 1", (customer_id, marker),
    ).fetchone()
    return row is not None
