"""One-time codes that prove a claimed phone/email: the SQLite store's SQL
for them, run on the writer's connection like the rest of ``sqlite``."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from router.identity.rules import CodeOutcome, code_outcome, code_sends, offered, past_daily_cap, proven_owner
from router.identity.sqlite_merge import _merge
from router.identity.sqlite_rows import _row_of
from router.identity.types import KeyRef, MergeRequest, VerificationCheck, VerificationStart
from router.models import MergeRecord, Verification, new_id
from router.store import rows


def as_verification(r: sqlite3.Row) -> Verification:
    return Verification(
        id=r["id"], customer_id=r["customer_id"], kind=r["kind"], value=r["value"], channel=r["channel"],
        status=r["status"], attempts=r["attempts"], sends=r["sends"], created_at=rows.from_ts(r["created_at"]),
        last_sent_at=rows.from_ts(r["last_sent_at"]), expires_at=rows.from_ts(r["expires_at"]),
        verified_at=rows.parse_ts(r["verified_at"]), conversation_id=r["conversation_id"], origin=r["origin"],
    )


def start_verification(conn: sqlite3.Connection, start: VerificationStart, now: datetime) -> Verification:
    stamp = rows.ts(now)
    # the latest code, live or dead: it throttles the next (rules.code_sends); the pending one
    # first, which a code of the same instant must replace
    row = rows.fetch_one(conn, "SELECT * FROM identity_verifications WHERE customer_id = ?"
                         " ORDER BY status = 'pending' DESC, created_at DESC, rowid DESC LIMIT 1", (start.customer_id,))
    sends = code_sends(as_verification(row) if row is not None else None, start, now)
    if row is not None and row["status"] == "pending":
        # one code in flight per customer: a new one replaces the old
        conn.execute("UPDATE identity_verifications SET status = 'expired' WHERE id = ?", (row["id"],))
    since = rows.ts(now - timedelta(days=1))
    channel = "" if past_daily_cap(start, lambda: offered_codes(conn, start.key, since)) else start.channel
    verification_id = new_id("ver")
    conn.execute(
        "INSERT INTO identity_verifications (id, customer_id, kind, value, channel, code_hash, status, sends,"
        " created_at, last_sent_at, expires_at, conversation_id, origin)"
        " VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)",
        (verification_id, start.customer_id, start.key.kind, start.key.value, channel, start.code_hash, sends,
         stamp, stamp, rows.ts(now + start.ttl), start.conversation_id, start.origin),
    )
    return as_verification(_row_of(conn, "identity_verifications", verification_id))


def check_verification(
    conn: sqlite3.Connection, check: VerificationCheck, now: datetime
) -> tuple[Verification, MergeRecord | None] | None:
    row = rows.fetch_one(conn, "SELECT * FROM identity_verifications WHERE customer_id = ? AND status = 'pending'",
                  (check.customer_id,))
    if row is None:
        return None
    outcome = code_outcome(as_verification(row), row["code_hash"], check, now)
    if outcome is CodeOutcome.IGNORED:
        return None
    if outcome is CodeOutcome.RIGHT:
        return _verified(conn, row, check, rows.ts(now))
    if outcome is CodeOutcome.EXPIRED:
        conn.execute("UPDATE identity_verifications SET status = 'expired' WHERE id = ?", (row["id"],))
    else:
        status = "failed" if outcome is CodeOutcome.FAILED else "pending"
        conn.execute("UPDATE identity_verifications SET attempts = attempts + 1, status = ? WHERE id = ?",
                     (status, row["id"]))
    return as_verification(_row_of(conn, "identity_verifications", row["id"])), None


def _verified(
    conn: sqlite3.Connection, row: sqlite3.Row, check: VerificationCheck, now: str
) -> tuple[Verification, MergeRecord | None]:
    """The code proves the key is the identity's that typed it: the customer
    joins the key's one owner (a verified identity holds the key: one linked
    without proof owns nothing), and only that identity becomes verified;
    every other keeps its state, so the proof shows nobody linked without one
    the other side's history. The claim is proven after the merge's snapshot,
    so an unmerge gives back the claim as it was (unproven)."""
    key = KeyRef(row["kind"], row["value"])
    conn.execute("UPDATE identity_verifications SET status = 'verified', verified_at = ? WHERE id = ?",
                 (now, row["id"]))
    identities = rows.fetch_all(conn, "SELECT DISTINCT customer_id, verified FROM identities WHERE key_kind = ?"
                                " AND key_value = ?", (key.kind, key.value))
    merge, survivor = None, check.customer_id
    owner = proven_owner([dict(i) for i in identities], check.customer_id)
    if owner is not None:
        reason = f"{key.kind} {key.value} proven by a one-time code sent to it"
        merge = _merge(conn, MergeRequest(owner, check.customer_id, "code", None, reason, check.attributes), now)
        survivor = owner
    conn.execute("UPDATE identity_claims SET verified_at = ? WHERE customer_id = ? AND kind = ? AND value = ?",
                 (now, survivor, key.kind, key.value))
    if check.sender is not None:
        conn.execute("UPDATE identities SET verified = 1 WHERE kind = ? AND value = ? AND customer_id = ?",
                     (check.sender.kind, check.sender.value, survivor))
    verification = as_verification(_row_of(conn, "identity_verifications", row["id"]))
    return verification, merge


def conversation_verifications(conn: sqlite3.Connection, conversation_id: str) -> list[Verification]:
    found = rows.fetch_all(
        conn, "SELECT * FROM identity_verifications WHERE conversation_id = ? ORDER BY created_at, rowid",
        (conversation_id,),
    )
    return [as_verification(r) for r in found]


def offered_codes(conn: sqlite3.Connection, key: KeyRef, since: str) -> int:
    """The codes to ``key`` since ``since`` that count toward its daily cap (``rules.offered``)."""
    found = conn.execute("SELECT origin, channel FROM identity_verifications WHERE kind = ? AND value = ?"
                         " AND created_at >= ?", (key.kind, key.value, since))
    return sum(1 for origin, channel in found if offered(origin, channel))


def decline_verification(conn: sqlite3.Connection, verification_id: str) -> Verification | None:
    changed = conn.execute("UPDATE identity_verifications SET status = 'declined' WHERE id = ? AND status = 'pending'",
                           (verification_id,)).rowcount
    return as_verification(_row_of(conn, "identity_verifications", verification_id)) if changed else None
