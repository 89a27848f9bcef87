"""Claims that match someone, for SQLite: a customer's unproven phone/email
that a proven identity of another customer has, seen from either side, and an
agent's dismissal of that hint. Each function is one step of a transaction
run on a connection of ``router.store.sqlite``."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from router.identity.rules import check_dismissable, marks_shared, widely_shared
from router.identity.types import KeyRef
from router.models import ClaimMatch, IdentityClaim, new_id
from router.store.errors import ConflictError, NotFound

# what both queries select: the claim, its claimant, one holder and the holder's
# proven identities with the key (one row per claim and holder)
_SELECT = (
    "SELECT c.id, c.customer_id, c.kind, c.value, c.source, c.raw, c.message_id, c.created_at, c.verified_at,"
    " cc.display_name AS claimant_name, i.customer_id AS holder_id, hc.display_name AS holder_name,"
    " json_group_array(DISTINCT i.kind) AS holder_channels, min(c.rowid) AS seq"
    " FROM identity_claims c"
    " JOIN identities i ON i.key_kind = c.kind AND i.key_value = c.value AND i.verified = 1"
    " AND i.customer_id != c.customer_id"
    " JOIN customers cc ON cc.id = c.customer_id AND cc.merged_into IS NULL"
    " JOIN customers hc ON hc.id = i.customer_id AND hc.merged_into IS NULL"
    " WHERE c.verified_at IS NULL AND c.dismissed_at IS NULL"
)
_GROUP = " GROUP BY c.id, i.customer_id"
# two queries rather than one with OR, so each side is found through its index
_AS_CLAIMANT = _SELECT + " AND c.customer_id = ?" + _GROUP
_AS_HOLDER = _SELECT + " AND i.customer_id = ?" + _GROUP


def _match(r: sqlite3.Row) -> ClaimMatch:
    claim = IdentityClaim(
        id=r["id"], customer_id=r["customer_id"], kind=r["kind"], value=r["value"], source=r["source"],
        raw=r["raw"], message_id=r["message_id"], created_at=datetime.fromisoformat(r["created_at"]),
        verified_at=None,
    )
    return ClaimMatch(claim=claim, claimant_name=r["claimant_name"], holder_id=r["holder_id"],
                      holder_name=r["holder_name"], holder_channels=sorted(json.loads(r["holder_channels"])))


def key_widely_shared(conn: sqlite3.Connection, key: KeyRef, max_profiles: int) -> bool:
    """A key of more than ``max_profiles`` customers (proven or claimed), or one
    the business's own data marks shared, says nothing about who is who."""
    sources = conn.execute("SELECT source FROM identity_claims WHERE kind = ? AND value = ?",
                           (key.kind, key.value)).fetchall()
    marked = any(marks_shared(r[0]) for r in sources)
    sharers = 0 if marked else conn.execute(
        "SELECT count(*) FROM (SELECT customer_id FROM identities WHERE key_kind = ? AND key_value = ?"
        " UNION SELECT customer_id FROM identity_claims WHERE kind = ? AND value = ?)",
        (key.kind, key.value, key.kind, key.value),
    ).fetchone()[0]
    return widely_shared(int(sharers), max_profiles, marked_shared=marked)


def claim_matches(conn: sqlite3.Connection, customer_id: str, max_profiles: int) -> list[ClaimMatch]:
    """The customer's claims that another customer holds, and other customers'
    claims of keys this customer holds; oldest claim first."""
    rows = [r for r in [*conn.execute(_AS_CLAIMANT, (customer_id,)), *conn.execute(_AS_HOLDER, (customer_id,))]
            if not marks_shared(r["source"])]
    rows.sort(key=lambda r: (r["created_at"], r["seq"], r["holder_id"]))
    verdicts: dict[KeyRef, bool] = {}
    found: list[ClaimMatch] = []
    for row in rows:
        key = KeyRef(row["kind"], row["value"])
        if key not in verdicts:
            verdicts[key] = key_widely_shared(conn, key, max_profiles)
        if not verdicts[key]:
            found.append(_match(row))
    return found


def _check_open(conn: sqlite3.Connection, customer_id: str, claim_id: str) -> None:
    """``NotFound``/``ConflictError`` unless the claim is the customer's, unproven and not dismissed."""
    row = conn.execute("SELECT verified_at, dismissed_at, dismissed_by FROM identity_claims"
                       " WHERE id = ? AND customer_id = ?", (claim_id, customer_id)).fetchone()
    if row is None:
        raise NotFound(f"claim {claim_id} of customer {customer_id}")
    check_dismissable(claim_id, row["verified_at"], row["dismissed_at"], row["dismissed_by"])


def dismiss_claim(conn: sqlite3.Connection, customer_id: str, claim_id: str, actor: str, reason: str,
                  max_profiles: int, now: str) -> list[ClaimMatch]:
    """Hide the hints of one claim on every panel; the audit log keeps who and
    why, one entry per holder so each holder's log shows it too."""
    _check_open(conn, customer_id, claim_id)
    matches = [m for m in claim_matches(conn, customer_id, max_profiles) if m.claim.id == claim_id]
    if not matches:
        raise ConflictError(f"claim {claim_id} matches no other customer: there is no hint to dismiss")
    conn.execute("UPDATE identity_claims SET dismissed_at = ?, dismissed_by = ? WHERE id = ?", (now, actor, claim_id))
    claim = matches[0].claim
    for match in matches:
        details = {"claim_id": claim.id, "kind": claim.kind, "value": claim.value, "claim_source": claim.source}
        conn.execute(
            "INSERT INTO identity_audit (id, action, customer_id, other_customer_id, source, actor, reason, details,"
            " created_at) VALUES (?, 'claim_dismissed', ?, ?, 'agent', ?, ?, ?, ?)",
            (new_id("aud"), customer_id, match.holder_id, actor, reason, json.dumps(details, ensure_ascii=False),
             now),
        )
    return matches
