"""Claims that match someone, on PostgreSQL (``sqlite_claims`` on SQLite): a
customer's unproven phone/email that a proven identity of another customer
has, seen from either side, and an agent's dismissal of that hint.

Lock: a dismissal holds the claim's row ``FOR UPDATE`` from the check that
it is open to its writes, so of two agents dismissing it at once one
succeeds and the other finds it dismissed."""

from __future__ import annotations

from datetime import datetime

from router.identity.postgres_rows import Record, _claim
from router.identity.rules import check_dismissable, marks_shared, widely_shared
from router.identity.types import KeyRef
from router.models import ClaimMatch, IdentityClaim, new_id
from router.store.errors import ConflictError, NotFound
from router.store.pg_engine import PgConn, as_json

# what both queries select: the claim, its claimant, one holder and the holder's
# proven identities with the key (one row per claim and holder)
_SELECT = (
    "SELECT c.id, c.customer_id, c.kind, c.value, c.source, c.raw, c.message_id, c.created_at, c.seq,"
    " cc.display_name AS claimant_name, i.customer_id AS holder_id, hc.display_name AS holder_name,"
    " array_agg(DISTINCT i.kind) AS holder_channels"
    " FROM identity_claims c"
    " JOIN identities i ON i.key_kind = c.kind AND i.key_value = c.value AND i.verified"
    " AND i.customer_id <> c.customer_id"
    " JOIN customers cc ON cc.id = c.customer_id AND cc.merged_into IS NULL"
    " JOIN customers hc ON hc.id = i.customer_id AND hc.merged_into IS NULL"
    " WHERE c.verified_at IS NULL AND c.dismissed_at IS NULL"
)
_GROUP = " GROUP BY c.id, cc.display_name, i.customer_id, hc.display_name"
# two queries rather than one with OR, so each side is found through its index
_AS_CLAIMANT = _SELECT + " AND c.customer_id = $1" + _GROUP
_AS_HOLDER = _SELECT + " AND i.customer_id = $1" + _GROUP


def _match(r: Record) -> ClaimMatch:
    claim = IdentityClaim(
        id=r["id"], customer_id=r["customer_id"], kind=r["kind"], value=r["value"], source=r["source"],
        raw=r["raw"], message_id=r["message_id"], created_at=r["created_at"], verified_at=None,
    )
    return ClaimMatch(claim=claim, claimant_name=r["claimant_name"], holder_id=r["holder_id"],
                      holder_name=r["holder_name"], holder_channels=sorted(r["holder_channels"]))


async def key_widely_shared(conn: PgConn, key: KeyRef, max_profiles: int) -> bool:
    """A key of more than ``max_profiles`` customers (proven or claimed), or one
    the business's own data marks shared, says nothing about who is who."""
    sources = await conn.fetch("SELECT source FROM identity_claims WHERE kind = $1 AND value = $2",
                               key.kind, key.value)
    marked = any(marks_shared(r["source"]) for r in sources)
    sharers = 0 if marked else await conn.fetchval(
        "SELECT count(*) FROM (SELECT customer_id FROM identities WHERE key_kind = $1 AND key_value = $2"
        " UNION SELECT customer_id FROM identity_claims WHERE kind = $1 AND value = $2) AS sharers",
        key.kind, key.value,
    )
    return widely_shared(int(sharers), max_profiles, marked_shared=marked)


async def claim_matches(conn: PgConn, customer_id: str, max_profiles: int) -> list[ClaimMatch]:
    """The customer's claims that another customer holds, and other customers'
    claims of keys this customer holds; oldest claim first."""
    rows = [r for r in [*await conn.fetch(_AS_CLAIMANT, customer_id), *await conn.fetch(_AS_HOLDER, customer_id)]
            if not marks_shared(r["source"])]
    rows.sort(key=lambda r: (r["created_at"], r["seq"], r["holder_id"]))
    verdicts: dict[KeyRef, bool] = {}
    found: list[ClaimMatch] = []
    for row in rows:
        key = KeyRef(row["kind"], row["value"])
        if key not in verdicts:
            verdicts[key] = await key_widely_shared(conn, key, max_profiles)
        if not verdicts[key]:
            found.append(_match(row))
    return found


async def customer_claims(conn: PgConn, customer_id: str) -> list[IdentityClaim]:
    found = await conn.fetch("SELECT * FROM identity_claims WHERE customer_id = $1 ORDER BY created_at, seq",
                             customer_id)
    return [_claim(r) for r in found]


async def _check_open(conn: PgConn, customer_id: str, claim_id: str) -> None:
    """``NotFound``/``ConflictError`` unless the claim is the customer's,
    unproven and not dismissed; its row is locked from here to the commit."""
    row = await conn.fetchrow("SELECT verified_at, dismissed_at, dismissed_by FROM identity_claims"
                              " WHERE id = $1 AND customer_id = $2 FOR UPDATE", claim_id, customer_id)
    if row is None:
        raise NotFound(f"claim {claim_id} of customer {customer_id}")
    check_dismissable(claim_id, row["verified_at"], row["dismissed_at"], row["dismissed_by"])


async def dismiss_claim(conn: PgConn, customer_id: str, claim_id: str, actor: str, reason: str,
                        max_profiles: int, now: datetime) -> list[ClaimMatch]:
    """Hide the hints of one claim on every panel; the audit log keeps who and
    why, one entry per holder so each holder's log shows it too."""
    await _check_open(conn, customer_id, claim_id)
    matches = [m for m in await claim_matches(conn, customer_id, max_profiles) if m.claim.id == claim_id]
    if not matches:
        raise ConflictError(f"claim {claim_id} matches no other customer: there is no hint to dismiss")
    await conn.execute("UPDATE identity_claims SET dismissed_at = $1, dismissed_by = $2 WHERE id = $3",
                       now, actor, claim_id)
    claim = matches[0].claim
    details = {"claim_id": claim.id, "kind": claim.kind, "value": claim.value, "claim_source": claim.source}
    await conn.executemany(
        "INSERT INTO identity_audit (id, action, customer_id, other_customer_id, source, actor, reason, details,"
        " created_at) VALUES ($1, 'claim_dismissed', $2, $3, 'agent', $4, $5, $6, $7)",
        [(new_id("aud"), customer_id, match.holder_id, actor, reason, as_json(details), now) for match in matches],
    )
    return matches
