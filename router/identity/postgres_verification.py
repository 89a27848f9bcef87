"""One-time codes that prove a claimed phone/email, on PostgreSQL
(``sqlite_verification`` on SQLite), and where a code for a key can be sent.

Locks (``router.identity.store``): a start takes the customer's codes'
advisory lock (kind 2) and then the key's daily cap's (kind 3) before it
reads anything; a check takes the pending code's row ``FOR UPDATE`` and
reads it again, still pending, before it counts the attempt; a right
code's merge then locks the customers as ``_merge`` does (a code comes
before customers in ``router.store.base``'s order)."""

from __future__ import annotations

from datetime import datetime, timedelta

from router.identity.postgres_merge import _merge
from router.identity.postgres_rows import Record, _row_of
from router.identity.rules import CodeOutcome, code_outcome, code_sends, offered, past_daily_cap, proven_owner
from router.identity.types import KeyRef, MergeRequest, VerificationCheck, VerificationStart
from router.models import MergeRecord, Message, Verification, new_id
from router.store import rows
from router.store.pg_engine import CUSTOMER_CODES, KEY_DAILY_CAP, PgConn, advisory_lock, rows_changed

_PENDING = "SELECT * FROM identity_verifications WHERE customer_id = $1 AND status = 'pending'"


def as_verification(r: Record) -> Verification:
    return Verification(
        id=r["id"], customer_id=r["customer_id"], kind=r["kind"], value=r["value"], channel=r["channel"],
        status=r["status"], attempts=r["attempts"], sends=r["sends"], created_at=rows.from_ts(r["created_at"]),
        last_sent_at=rows.from_ts(r["last_sent_at"]), expires_at=rows.from_ts(r["expires_at"]),
        verified_at=rows.parse_ts(r["verified_at"]), conversation_id=r["conversation_id"], origin=r["origin"],
    )


def key_lock(key: KeyRef) -> str:
    """A key's advisory lock key (kinds 3 and 4, ``router.store.base``): ``kind || ':' || value``."""
    return f"{key.kind}:{key.value}"


async def start_verification(conn: PgConn, start: VerificationStart, now: datetime) -> Verification:
    # a customer's codes have no row to lock before the first, and a key's codes of the day
    # are a count: both are advisory locks, taken before either is read
    await advisory_lock(conn, CUSTOMER_CODES, start.customer_id)
    await advisory_lock(conn, KEY_DAILY_CAP, key_lock(start.key))
    # the latest code, live or dead: it throttles the next (rules.code_sends); the pending one
    # first, which a code of the same instant must replace
    row = await conn.fetchrow("SELECT * FROM identity_verifications WHERE customer_id = $1"
                              " ORDER BY status = 'pending' DESC, created_at DESC, id DESC LIMIT 1", start.customer_id)
    sends = code_sends(as_verification(row) if row is not None else None, start, now)
    if row is not None and row["status"] == "pending":
        # one code in flight per customer: a new one replaces the old
        await conn.execute("UPDATE identity_verifications SET status = 'expired' WHERE id = $1", row["id"])
    sent_today = await offered_codes(conn, start.key, now - timedelta(days=1)) if start.daily_cap is not None else 0
    channel = "" if past_daily_cap(start, lambda: sent_today) else start.channel
    verification_id = new_id("ver")
    await conn.execute(
        "INSERT INTO identity_verifications (id, customer_id, kind, value, channel, code_hash, status, sends,"
        " created_at, last_sent_at, expires_at, conversation_id, origin)"
        " VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $8, $9, $10, $11)",
        verification_id, start.customer_id, start.key.kind, start.key.value, channel, start.code_hash, sends,
        now, now + start.ttl, start.conversation_id, start.origin,
    )
    return as_verification(await _row_of(conn, "identity_verifications", verification_id))


async def check_verification(
    conn: PgConn, check: VerificationCheck, now: datetime
) -> tuple[Verification, MergeRecord | None] | None:
    # the attempts counted are the ones read under the row's lock: parallel wrong guesses
    # each see the one before (READ COMMITTED re-reads a row it waited for, still pending)
    row = await conn.fetchrow(_PENDING + " FOR UPDATE", check.customer_id)
    if row is None:
        return None
    outcome = code_outcome(as_verification(row), row["code_hash"], check, now)
    if outcome is CodeOutcome.IGNORED:
        return None
    if outcome is CodeOutcome.RIGHT:
        return await _verified(conn, row, check, now)
    if outcome is CodeOutcome.EXPIRED:
        await conn.execute("UPDATE identity_verifications SET status = 'expired' WHERE id = $1", row["id"])
    else:
        status = "failed" if outcome is CodeOutcome.FAILED else "pending"
        await conn.execute("UPDATE identity_verifications SET attempts = attempts + 1, status = $1 WHERE id = $2",
                           status, row["id"])
    return as_verification(await _row_of(conn, "identity_verifications", row["id"])), None


async def _verified(
    conn: PgConn, row: Record, check: VerificationCheck, now: datetime
) -> tuple[Verification, MergeRecord | None]:
    """The code proves the key is the identity's that typed it: the customer
    joins the key's one owner (a verified identity holds the key: one linked
    without proof owns nothing), and only that identity becomes verified;
    every other keeps its state, so the proof shows nobody linked without one
    the other side's history. The claim is proven after the merge's snapshot,
    so an unmerge gives back the claim as it was (unproven)."""
    key = KeyRef(row["kind"], row["value"])
    await conn.execute("UPDATE identity_verifications SET status = 'verified', verified_at = $1 WHERE id = $2",
                       now, row["id"])
    identities = await conn.fetch("SELECT DISTINCT customer_id, verified FROM identities WHERE key_kind = $1"
                                  " AND key_value = $2", key.kind, key.value)
    merge, survivor = None, check.customer_id
    owner = proven_owner([dict(i) for i in identities], check.customer_id)
    if owner is not None:
        reason = f"{key.kind} {key.value} proven by a one-time code sent to it"
        merge = await _merge(conn, MergeRequest(owner, check.customer_id, "code", None, reason, check.attributes),
                             now)
        survivor = owner
    await conn.execute("UPDATE identity_claims SET verified_at = $1 WHERE customer_id = $2 AND kind = $3"
                       " AND value = $4", now, survivor, key.kind, key.value)
    if check.sender is not None:
        await conn.execute("UPDATE identities SET verified = true WHERE kind = $1 AND value = $2 AND customer_id = $3",
                           check.sender.kind, check.sender.value, survivor)
    verification = as_verification(await _row_of(conn, "identity_verifications", row["id"]))
    return verification, merge


async def conversation_verifications(conn: PgConn, conversation_id: str) -> list[Verification]:
    found = await conn.fetch(
        "SELECT * FROM identity_verifications WHERE conversation_id = $1 ORDER BY created_at, seq", conversation_id,
    )
    return [as_verification(r) for r in found]


async def offered_codes(conn: PgConn, key: KeyRef, since: datetime) -> int:
    """The codes to ``key`` since ``since`` that count toward its daily cap (``rules.offered``)."""
    found = await conn.fetch("SELECT origin, channel FROM identity_verifications WHERE kind = $1 AND value = $2"
                             " AND created_at >= $3", key.kind, key.value, since)
    return sum(1 for r in found if offered(r["origin"], r["channel"]))


async def decline_verification(conn: PgConn, verification_id: str) -> Verification | None:
    changed = await conn.execute(
        "UPDATE identity_verifications SET status = 'declined' WHERE id = $1 AND status = 'pending'", verification_id)
    if not rows_changed(changed):
        return None
    return as_verification(await _row_of(conn, "identity_verifications", verification_id))


async def key_contacts(conn: PgConn, key: KeyRef, limit: int) -> list[Message]:
    """The latest inbound messages of verified identities holding ``key``."""
    found = await conn.fetch(
        "SELECT m.* FROM identities i JOIN messages m ON m.customer_id = i.customer_id AND m.sender_kind = i.kind"
        # the identity's own messages (core.identity: its stored form, when the sender was written otherwise)
        " AND COALESCE(m.core->>'identity', m.sender_value) = i.value"
        # only an identity proven to be its customer's holds the key for a code (invariant 9)
        " AND m.direction = 'in' WHERE i.key_kind = $1 AND i.key_value = $2 AND i.verified"
        " ORDER BY m.created_at DESC, m.seq DESC LIMIT $3",
        key.kind, key.value, limit,
    )
    return [rows.message_row(r) for r in found]
