"""The embedded store: SQLite in WAL mode.

Each connection lives on its own thread (the aiosqlite pattern), and every
store method is one function run there: a whole transaction costs one hop off
the event loop instead of one per statement. One writer connection (SQLite
has one writer at a time anyway) and one reader, which WAL lets run beside it.
The service runs the writer in a child process instead (``store.writer``),
for the GIL's sake under high message rates (see ``_Connection``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import logging
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from router.accounts.sqlite import SQLiteAccounts
from router.conversations.sqlite import SQLiteConversations
from router.ingest.sqlite import SQLiteIngest
from router.models import (
    AuditEntry,
    ChannelIdentity,
    ClaimMatch,
    ConversationView,
    Customer,
    IdentityClaim,
    IdentityRef,
    MergeRecord,
    Message,
    Verification,
    new_id,
)
from router.outbox.sqlite import SQLiteOutbox
from router.routing.sqlite import SQLiteRouting
from router.store import (
    sqlite_claims,
    sqlite_proven,
    sqlite_unmerge,
    sqlite_upsert,
    sqlite_verification,
)
from router.store.base import (
    ClaimPlan,
    CustomerUpsert,
    IdentityPlan,
    KeyRef,
    MergeRequest,
    Store,
    Upserted,
    VerificationCheck,
    VerificationStart,
    merge_attributes,
)
from router.store.checkpoint import checkpoint_regularly
from router.store.engine import CLOSE_TIMEOUT, WriterMode
from router.store.engine import Connection as _Connection
from router.store.engine import close_quietly as _closed
from router.store.engine import truncate_wal as _truncate_wal
from router.store.errors import ConflictError, NotFound, StoreError, StoreUnavailable
from router.store.faults import Episode
from router.store.migrations import MIGRATIONS
from router.store.rows import CONVERSATION_SELECT as _CONV_SELECT
from router.store.rows import conversation_row as _conversation
from router.store.rows import execute as _execute
from router.store.rows import fetch_all as _all
from router.store.rows import fetch_one as _one
from router.store.rows import from_ts as _ts
from router.store.rows import message_row as _message
from router.store.rows import parse_ts, ts
from router.store.sqlite_db import Synchronous

log = logging.getLogger(__name__)

T = TypeVar("T")
CHECKPOINT_INTERVAL = 1.0  # seconds
BULK_CHUNK = 50_000  # rows per transaction of bulk_load


def _customer(row: sqlite3.Row) -> Customer:
    return Customer(
        id=row["id"],
        display_name=row["display_name"],
        attributes=json.loads(row["attributes"]),
        created_at=_ts(row["created_at"]),
        updated_at=_ts(row["updated_at"]),
        merged_into=row["merged_into"],
    )


def _customer_by_identity(conn: sqlite3.Connection, ref: IdentityRef) -> Customer | None:
    row = _one(
        conn,
        "SELECT c.* FROM identities i JOIN customers c ON c.id = i.customer_id WHERE i.kind = ? AND i.value = ?",
        (ref.kind, ref.value),
    )
    return None if row is None else _customer(row)


def _migrate(conn: sqlite3.Connection, path: str) -> None:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"{path} has schema version {version}, newer than this omnirouter ({len(MIGRATIONS)}); upgrade omnirouter"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        log.info("applying schema migration %d to %s", number, path)
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")


# -- the units of work, each run on the writer's or reader's thread -----------------


def _secret(conn: sqlite3.Connection, key: str, fresh: bytes) -> bytes:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING", (key, fresh))
    row = _one(conn, "SELECT value FROM meta WHERE key = ?", (key,))
    assert row is not None
    return bytes(row[0])


def _resolve_identity(
    conn: sqlite3.Connection, plan: IdentityPlan, name: str | None, now: str, message_id: str | None = None
) -> Customer:
    found = _customer_by_identity(conn, plan.identity)
    if found is None:
        customer_id = _link_new_identity(conn, plan, name, now)
    elif not plan.claims and not plan.proven and (not name or name == found.display_name):
        return found
    else:
        customer_id = found.id
    if plan.claims:
        customer_id = _record_claims(conn, customer_id, plan, message_id, now)
    if plan.proven:
        customer_id = sqlite_proven.record_proven(conn, customer_id, plan, message_id, now, _merge)
    if name:
        conn.execute(
            "UPDATE customers SET display_name = ?, updated_at = ? WHERE id = ? AND display_name IS NOT ?",
            (name, now, customer_id, name),
        )
    row = _one(conn, "SELECT * FROM customers WHERE id = ?", (customer_id,))
    assert row is not None
    return _customer(row)


def _identity(r: sqlite3.Row) -> ChannelIdentity:
    return ChannelIdentity(
        customer_id=r["customer_id"],
        ref=IdentityRef(kind=r["kind"], value=r["value"]),
        verified=bool(r["verified"]),
        source=r["source"],
        created_at=_ts(r["created_at"]),
        key=f"{r['key_kind']}:{r['key_value']}" if r["key_kind"] else None,
        link_reason=r["link_reason"],
    )


def _audit_entry(r: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        id=r["id"], action=r["action"], customer_id=r["customer_id"], other_customer_id=r["other_customer_id"],
        source=r["source"], actor=r["actor"], reason=r["reason"], details=json.loads(r["details"]),
        created_at=_ts(r["created_at"]),
    )


# /healthz's probe: a row rewritten, so a page goes to the WAL like a message's
_PROBE = ("INSERT INTO meta (key, value) VALUES ('health:probe', ?)"
          " ON CONFLICT (key) DO UPDATE SET value = excluded.value")


# -- identity: keys, claims, merges ---------------------------------------------------


def _plain(ref: IdentityRef) -> IdentityPlan:
    return IdentityPlan(identity=ref)


def _key_sharers(conn: sqlite3.Connection, key: KeyRef, limit: int) -> list[str]:
    """Profiles having ``key``, proven or claimed (at most ``limit``)."""
    rows = _all(
        conn,
        "SELECT customer_id FROM identities WHERE key_kind = ? AND key_value = ?"
        " UNION SELECT customer_id FROM identity_claims WHERE kind = ? AND value = ? LIMIT ?",
        (key.kind, key.value, key.kind, key.value, limit),
    )
    return [r[0] for r in rows]


def _key_owner(conn: sqlite3.Connection, key: KeyRef, max_profiles: int) -> str | None:
    """The one profile with a proven identity of ``key``, unless the key is
    too widely shared (more than ``max_profiles``) or owned by several."""
    if len(_key_sharers(conn, key, max_profiles + 1)) > max_profiles:
        log.info("%s %s is shared by more than %d profiles: not used for matching", key.kind, key.value, max_profiles)
        return None
    owners = _all(
        conn, "SELECT DISTINCT customer_id FROM identities WHERE key_kind = ? AND key_value = ? LIMIT 2",
        (key.kind, key.value),
    )
    return owners[0][0] if len(owners) == 1 else None


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
    owner = _key_owner(conn, plan.key, plan.max_profiles) if plan.match and plan.key else None
    source, reason = "channel", None
    if owner is None:
        owner = _new_customer(conn, name, now)
    else:
        assert plan.key is not None
        source, reason = "rule", f"same {plan.key.kind} {plan.key.value} as a linked identity (auto_merge)"
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
        if proven is not None:
            continue  # the customer writes from it: nothing to claim
        conn.execute(
            "INSERT OR IGNORE INTO identity_claims (id, customer_id, kind, value, source, raw, message_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (new_id("clm"), customer_id, key.kind, key.value, claim.source, claim.raw, message_id, now),
        )
        if key.kind in plan.merge_claims:
            customer_id = _merge_by_claim(conn, customer_id, claim, plan, now)
    return customer_id


def _merge_by_claim(conn: sqlite3.Connection, customer_id: str, claim: ClaimPlan, plan: IdentityPlan, now: str) -> str:
    owner = _key_owner(conn, claim.key, plan.max_profiles)
    if owner is None or owner == customer_id:
        return customer_id
    reason = f"claimed {claim.key.kind} {claim.key.value} ({claim.source}) merges by config (merge_claims)"
    # unproven: the moved identities are marked unverified, so neither side sees the other's history
    _merge(conn, MergeRequest(owner, customer_id, "rule", None, reason, plan.attributes, verified=False), now)
    return owner


def _claim(r: sqlite3.Row) -> IdentityClaim:
    return IdentityClaim(
        id=r["id"], customer_id=r["customer_id"], kind=r["kind"], value=r["value"], source=r["source"], raw=r["raw"],
        message_id=r["message_id"], created_at=_ts(r["created_at"]), verified_at=parse_ts(r["verified_at"]),
    )


def _audit(
    conn: sqlite3.Connection, action: str, customer_id: str, other: str | None, source: str, actor: str | None,
    reason: str, details: dict[str, Any], now: str,
) -> None:
    conn.execute(
        "INSERT INTO identity_audit (id, action, customer_id, other_customer_id, source, actor, reason, details,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (new_id("aud"), action, customer_id, other, source, actor, reason, json.dumps(details, ensure_ascii=False),
         now),
    )


def _rows(conn: sqlite3.Connection, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    return [dict(r) for r in _all(conn, sql, params)]


def _row(conn: sqlite3.Connection, sql: str, params: Any = ()) -> dict[str, Any]:
    found = _one(conn, sql, params)
    if found is None:
        raise NotFound(str(params[0]) if params else sql)
    return dict(found)


def _restore(conn: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    """Put a row back exactly as snapshotted, in place (an UPDATE keeps its
    rowid, and with it the order of equal timestamps). Column names come from
    our own schema, never from input."""
    sets = ", ".join(f"{col} = ?" for col in row if col != "id")
    conn.execute(f"UPDATE {table} SET {sets} WHERE id = ?", (*(v for k, v in row.items() if k != "id"), row["id"]))


def _live_customer(conn: sqlite3.Connection, customer_id: str) -> dict[str, Any]:
    row = _one(conn, "SELECT * FROM customers WHERE id = ?", (customer_id,))
    if row is None:
        raise NotFound(f"customer {customer_id}")
    if row["merged_into"] is not None:
        raise ConflictError(f"customer {customer_id} was merged into {row['merged_into']}")
    return dict(row)


def _fold_open_conversations(conn: sqlite3.Connection, survivor_id: str, merged_id: str, now: str) -> dict[str, Any]:
    """Both customers have an open conversation: the newer one's messages go
    to the older one, and the newer one is closed, so the merged customer keeps
    one open conversation (and the agent already on the older keeps it)."""
    opened = _rows(
        conn, "SELECT * FROM conversations WHERE customer_id IN (?, ?) AND status != 'resolved'"
        " ORDER BY created_at, rowid", (survivor_id, merged_id),
    )
    if len(opened) < 2:
        return {}
    kept, folded = opened[0], opened[1]
    moved = _rows(conn, "SELECT id FROM messages WHERE conversation_id = ?", (folded["id"],))
    conn.execute("UPDATE messages SET conversation_id = ? WHERE conversation_id = ?", (kept["id"], folded["id"]))
    conn.execute(
        "UPDATE conversations SET status = 'resolved', resolved_at = ?, updated_at = ?, route_reason = ?"
        " WHERE id = ?", (now, now, f"merged into {kept['id']}", folded["id"]),
    )
    latest = max(kept["last_message_at"], folded["last_message_at"])
    text = kept["last_message_text"] if latest == kept["last_message_at"] else folded["last_message_text"]
    conn.execute(
        "UPDATE conversations SET last_message_at = ?, last_message_text = ?, updated_at = ? WHERE id = ?",
        (latest, text, now, kept["id"]),
    )
    return {"kept": kept, "folded": folded, "moved": [m["id"] for m in moved], "stamp": now}


def _merge(conn: sqlite3.Connection, req: MergeRequest, now: str) -> MergeRecord:
    if req.survivor_id == req.merged_id:
        raise ConflictError("a customer cannot be merged with itself")
    survivor = _live_customer(conn, req.survivor_id)
    merged = _live_customer(conn, req.merged_id)
    snapshot: dict[str, Any] = {
        "survivor": survivor,
        "merged": merged,
        "identities": _rows(conn, "SELECT * FROM identities WHERE customer_id = ?", (merged["id"],)),
        "claims": _rows(conn, "SELECT * FROM identity_claims WHERE customer_id = ?", (merged["id"],)),
        "conversations": [r["id"] for r in _rows(
            conn, "SELECT id FROM conversations WHERE customer_id = ?", (merged["id"],))],
        "messages": _rows(conn, "SELECT id, conversation_id FROM messages WHERE customer_id = ?", (merged["id"],)),
        "fold": _fold_open_conversations(conn, survivor["id"], merged["id"], now),
    }
    _move_to_survivor(conn, req, snapshot, now)
    attrs, meta = merge_attributes(
        (json.loads(survivor["attributes"]), json.loads(survivor["attribute_meta"])),
        (json.loads(merged["attributes"]), json.loads(merged["attribute_meta"])),
        req.attributes,
    )
    conn.execute(
        "UPDATE customers SET attributes = ?, attribute_meta = ?, display_name = COALESCE(display_name, ?),"
        " updated_at = ? WHERE id = ?",
        (json.dumps(attrs, ensure_ascii=False), json.dumps(meta), merged["display_name"], now, survivor["id"]),
    )
    conn.execute(
        "UPDATE customers SET merged_into = ?, updated_at = ? WHERE id = ?", (survivor["id"], now, merged["id"])
    )
    snapshot["stamp"] = now
    record = MergeRecord(id=new_id("mrg"), survivor_id=survivor["id"], merged_id=merged["id"], source=req.source,
                         actor=req.actor, reason=req.reason, created_at=_ts(now))
    conn.execute(
        "INSERT INTO customer_merges (id, survivor_id, merged_id, source, actor, reason, snapshot, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (record.id, record.survivor_id, record.merged_id, req.source, req.actor, req.reason,
         json.dumps(snapshot, ensure_ascii=False), now),
    )
    details = {"merge_id": record.id, "conversations": len(snapshot["conversations"]),
               "messages": len(snapshot["messages"]), "folded": snapshot["fold"].get("folded", {}).get("id")}
    _audit(conn, "merge", survivor["id"], merged["id"], req.source, req.actor, req.reason, details, now)
    log.info("customer %s merged into %s (%s): %s", merged["id"], survivor["id"], req.source, req.reason)
    return record


def _move_to_survivor(conn: sqlite3.Connection, req: MergeRequest, snapshot: dict[str, Any], now: str) -> None:
    survivor_id, merged_id = req.survivor_id, req.merged_id
    verified = None if req.verified is None else int(req.verified)
    conn.execute(
        "UPDATE identities SET customer_id = ?, source = ?, link_reason = ?, verified = COALESCE(?, verified)"
        " WHERE customer_id = ?", (survivor_id, req.source, req.reason, verified, merged_id),
    )
    # a claim the survivor made too stays once (the merged one's is in the snapshot)
    conn.execute(
        "DELETE FROM identity_claims AS m WHERE customer_id = ? AND EXISTS (SELECT 1 FROM identity_claims s"
        " WHERE s.customer_id = ? AND s.kind = m.kind AND s.value = m.value)", (merged_id, survivor_id),
    )
    conn.execute("UPDATE identity_claims SET customer_id = ? WHERE customer_id = ?", (survivor_id, merged_id))
    conn.execute("UPDATE conversations SET customer_id = ? WHERE customer_id = ?", (survivor_id, merged_id))
    conn.execute("UPDATE messages SET customer_id = ? WHERE customer_id = ?", (survivor_id, merged_id))


def _restore_claim(conn: sqlite3.Connection, claim: dict[str, Any]) -> None:
    if _one(conn, "SELECT 1 FROM identity_claims WHERE id = ?", (claim["id"],)) is not None:
        _restore(conn, "identity_claims", claim)
        return
    cols = ", ".join(claim)
    marks = ", ".join("?" for _ in claim)
    conn.execute(f"INSERT INTO identity_claims ({cols}) VALUES ({marks})", tuple(claim.values()))


def _upsert_customer(conn: sqlite3.Connection, upsert: CustomerUpsert, now: str) -> Upserted:
    customer_id, created, set_aside = sqlite_upsert.upsert_customer(conn, upsert, now)
    found = _one(conn, "SELECT * FROM customers WHERE id = ?", (customer_id,))
    assert found is not None
    return Upserted(_customer(found), created, set_aside)


def _merge_record(r: sqlite3.Row) -> MergeRecord:
    return MergeRecord(
        id=r["id"], survivor_id=r["survivor_id"], merged_id=r["merged_id"], source=r["source"], actor=r["actor"],
        reason=r["reason"], created_at=_ts(r["created_at"]), undone_at=parse_ts(r["undone_at"]),
    )


def _unmerge(conn: sqlite3.Connection, merge_id: str, actor: str | None, reason: str, now: str) -> MergeRecord:
    row = _one(conn, "SELECT * FROM customer_merges WHERE id = ?", (merge_id,))
    if row is None:
        raise NotFound(f"merge {merge_id}")
    if row["undone_at"] is not None:
        raise ConflictError(f"merge {merge_id} was undone already")
    later = _one(
        conn, "SELECT id FROM customer_merges WHERE undone_at IS NULL AND id != ? AND created_at >= ?"
        " AND (survivor_id IN (?, ?) OR merged_id IN (?, ?)) ORDER BY created_at DESC LIMIT 1",
        (merge_id, row["created_at"], row["survivor_id"], row["merged_id"], row["survivor_id"], row["merged_id"]),
    )
    if later is not None:
        raise ConflictError(f"undo the later merge {later['id']} first")
    snapshot = json.loads(row["snapshot"])
    changed = _move_back(conn, snapshot)
    changed |= sqlite_unmerge.return_later_messages(conn, snapshot, row["created_at"])
    sqlite_unmerge.settle(conn, changed, now)
    conn.execute("UPDATE customer_merges SET undone_at = ? WHERE id = ?", (now, merge_id))
    _audit(conn, "unmerge", row["survivor_id"], row["merged_id"], "agent" if actor else "rule", actor, reason,
           {"merge_id": merge_id}, now)
    log.info("merge %s undone (%s and %s apart again): %s", merge_id, row["survivor_id"], row["merged_id"], reason)
    found = _one(conn, "SELECT * FROM customer_merges WHERE id = ?", (merge_id,))
    assert found is not None
    return _merge_record(found)


def _move_back(conn: sqlite3.Connection, snapshot: dict[str, Any]) -> set[str]:
    """Everything back as the snapshot has it; returns the conversations
    changed since the merge, so not restored whole (to be summed up again)."""
    merged, survivor, fold = snapshot["merged"], snapshot["survivor"], snapshot["fold"]
    merged_id = merged["id"]
    folded_id = fold.get("folded", {}).get("id")
    for conversation_id in snapshot["conversations"]:
        if conversation_id != folded_id:
            conn.execute("UPDATE conversations SET customer_id = ? WHERE id = ?", (merged_id, conversation_id))
    changed = _unfold(conn, fold) if fold else set()
    if fold:
        conn.executemany("UPDATE messages SET conversation_id = ? WHERE id = ?",
                         [(folded_id, m) for m in fold["moved"]])
    conn.executemany(
        "UPDATE messages SET customer_id = ?, conversation_id = ? WHERE id = ?",
        [(merged_id, m["conversation_id"], m["id"]) for m in snapshot["messages"]],
    )
    for identity in snapshot["identities"]:
        conn.execute(
            "UPDATE identities SET customer_id = ?, verified = ?, source = ?, link_reason = ?"
            " WHERE kind = ? AND value = ?",
            (merged_id, identity["verified"], identity["source"], identity["link_reason"], identity["kind"],
             identity["value"]),
        )
    for claim in snapshot["claims"]:
        _restore_claim(conn, claim)
    _restore(conn, "customers", merged)
    current = _one(conn, "SELECT updated_at FROM customers WHERE id = ?", (survivor["id"],))
    # the survivor's profile as it was, unless someone changed it since the merge
    if current is not None and current["updated_at"] == snapshot["stamp"]:
        _restore(conn, "customers", survivor)
    return changed


def _unfold(conn: sqlite3.Connection, fold: dict[str, Any]) -> set[str]:
    kept, folded = fold["kept"], fold["folded"]
    owner_open = _one(
        conn, "SELECT id FROM conversations WHERE customer_id = ? AND status != 'resolved' AND id != ?",
        (folded["customer_id"], folded["id"]),
    )
    changed: set[str] = set()
    if owner_open is None:
        _restore(conn, "conversations", folded)
    else:
        # the folded conversation's owner opened another since: reopening it would
        # give them two; its messages still go back to it, closed
        log.warning("conversation %s stays resolved: %s has %s open", folded["id"], folded["customer_id"],
                    owner_open["id"])
        conn.execute("UPDATE conversations SET customer_id = ? WHERE id = ?", (folded["customer_id"], folded["id"]))
        changed = {folded["id"]}
    current = _one(conn, "SELECT updated_at FROM conversations WHERE id = ?", (kept["id"],))
    if current is not None and current["updated_at"] == fold["stamp"]:
        _restore(conn, "conversations", kept)
    else:
        # changed since the merge (a message, an agent): what it says about its
        # messages (channel, last words) is summed up again once they are back
        changed.add(kept["id"])
    return changed


# -- identity: one-time codes ------------------------------------------------------------


def _bulk_load(conn: sqlite3.Connection, customers: list[tuple[str, str | None, str]],
               identities: list[tuple[str, str, str, str | None, str | None, str]]) -> None:
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO customers (id, display_name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)", customers
    )
    conn.executemany(
        "INSERT INTO identities (kind, value, customer_id, key_kind, key_value, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)", identities,
    )
    conn.execute("COMMIT")


def _after_bulk_load(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")


def _chunks(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(rows)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _row_of(conn: sqlite3.Connection, table: str, row_id: str) -> sqlite3.Row:
    row = _one(conn, f"SELECT * FROM {table} WHERE id = ?", (row_id,))
    if row is None:
        raise NotFound(f"{table} {row_id}")
    return row


def _key_contacts(conn: sqlite3.Connection, key: KeyRef, limit: int) -> list[Message]:
    rows = _all(
        conn,
        "SELECT m.* FROM identities i JOIN messages m ON m.customer_id = i.customer_id AND m.sender_kind = i.kind"
        # the identity's own messages (extras.identity: its stored form, when the sender was written otherwise)
        " AND COALESCE(json_extract(m.extras, '$.identity'), m.sender_value) = i.value"
        # only an identity proven to be its customer's holds the key for a code (invariant 9)
        " AND m.direction = 'in' WHERE i.key_kind = ? AND i.key_value = ? AND i.verified = 1"
        " ORDER BY m.created_at DESC LIMIT ?",
        (key.kind, key.value, limit),
    )
    return [_message(r) for r in rows]


class SQLiteStore(SQLiteAccounts, SQLiteOutbox, SQLiteIngest, SQLiteConversations, SQLiteRouting, Store):
    def __init__(self, path: str | Path, synchronous: Synchronous = "normal", writer: WriterMode = "thread") -> None:
        self.path = str(path)
        self.synchronous = synchronous
        # separate connections to ":memory:" are separate databases: there, nothing leaves the process
        self.writer_mode: WriterMode = "thread" if self.path == ":memory:" else writer
        self._writer: _Connection | None = None
        self._reader: _Connection | None = None
        self._checkpointer: _Connection | None = None
        self._checkpoints: asyncio.Task[None] | None = None
        # writes failing: one log line as it starts, one as it ends; /healthz fails meanwhile
        self.outage = Episode("sqlite store: writes are failing", log)

    # -- lifecycle ------------------------------------------------------------
    async def open(self) -> None:
        if self.path != ":memory:":
            folder = Path(self.path).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a file in the way, no permission: the store's own fault, said as such
                why = "a file is in the way" if folder.is_file() else exc.strerror
                raise StoreUnavailable(f"its folder {folder} cannot be created ({why})") from exc
        writer = _Connection(self.path, self.synchronous, "writer", process=self.writer_mode == "process",
                             episode=self.outage)
        try:
            await writer.open()
            await writer.run_alone(functools.partial(_migrate, path=self.path))
        except BaseException:
            await _closed(writer)
            raise
        self._writer = writer
        self._reader = _Connection(self.path, self.synchronous, "reader")
        await self._reader.open(read_only=True)
        self._checkpointer = _Connection(self.path, self.synchronous, "checkpoint")
        await self._checkpointer.open(read_only=True)
        self._checkpoints = asyncio.create_task(
            checkpoint_regularly(self._checkpointer.call, CHECKPOINT_INTERVAL), name="sqlite-checkpoint"
        )

    async def ping(self) -> None:
        """A real write (a page into the WAL), and no write failing lately:
        "ok" must mean a message could be stored now."""
        await self._w.call(_execute, _PROBE, (ts(datetime.now(UTC)),))
        if (reason := self.outage.reason) is not None:
            raise StoreUnavailable(reason)

    async def close(self) -> None:
        """Bounded whatever the disk does: each step's failure is logged and
        the next one still runs (a writer process left open would keep the
        server from exiting)."""
        if self._checkpoints is not None:
            self._checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoints
            self._checkpoints = None
        if self._writer is not None:
            try:
                await asyncio.wait_for(self._writer.run_alone(_truncate_wal), CLOSE_TIMEOUT)
            except (StoreError, TimeoutError) as exc:
                log.warning("sqlite store: the WAL was not folded into the database on close: %s", exc)
        for conn in (self._checkpointer, self._reader, self._writer):
            if conn is not None:
                await _closed(conn)
        self._checkpointer = self._reader = self._writer = None

    @property
    def _w(self) -> _Connection:
        if self._writer is None:
            raise RuntimeError("store is not open")
        return self._writer

    @property
    def _r(self) -> _Connection:
        if self._reader is None:
            raise RuntimeError("store is not open")
        return self._reader

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

    # -- secrets -----------------------------------------------------------
    async def secret(self, name: str) -> bytes:
        return await self._w.call(_secret, f"secret:{name}", secrets.token_bytes(32))

    async def resolve_identity(
        self, ref: IdentityRef, display_name: str | None, now: datetime, plan: IdentityPlan | None = None
    ) -> Customer:
        plan = plan or _plain(ref)
        # the common case, a returning customer, needs no write transaction
        found = await self._r.call(_customer_by_identity, plan.identity)
        if found is not None and not plan.claims and (not display_name or display_name == found.display_name):
            return found
        return await self._w.call(_resolve_identity, plan, display_name, ts(now))

    async def find_identity(self, ref: IdentityRef) -> Customer | None:
        return await self._r.call(_customer_by_identity, ref)

    # -- customers ----------------------------------------------------------------
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

    async def customer_conversations(self, customer_id: str) -> list[ConversationView]:
        rows = await self._r.call(
            _all, _CONV_SELECT + " WHERE c.customer_id = ? ORDER BY c.created_at DESC", (customer_id,)
        )
        return [_conversation(r) for r in rows]

    # -- identity: claims, merges, audit ---------------------------------------------------
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
