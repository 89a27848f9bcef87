"""Merging two customers and undoing it exactly: the SQL of one transaction
each, on the writer's connection. A merge keeps a snapshot of what it moved;
an unmerge puts it back."""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

from router.identity import sqlite_unmerge
from router.identity.rules import (
    check_undoable,
    fold,
    folded_preview,
    merge_attributes,
    merged_name,
    moved_verified,
    open_ones,
    other_open,
    untouched_since,
)
from router.identity.sqlite_rows import _audit, _live_customer, _merge_record, _restore, _rows
from router.identity.types import MergeRequest
from router.models import MergeRecord, new_id
from router.store.errors import ConflictError, NotFound
from router.store.rows import fetch_one as _one
from router.store.rows import from_ts as _ts

log = logging.getLogger(__name__)


def _fold_open_conversations(conn: sqlite3.Connection, survivor_id: str, merged_id: str, now: str) -> dict[str, Any]:
    """Both customers have an open conversation: one's messages go to the
    other (``rules.fold``: the one an agent is on, else the queued one, else
    the older), which is closed, so the merged customer keeps one open
    conversation and the agent already on it keeps it."""
    both = _rows(conn, "SELECT * FROM conversations WHERE customer_id IN (?, ?) ORDER BY created_at, rowid",
                 (survivor_id, merged_id))
    pair = fold(open_ones(both))
    if pair is None:
        return {}
    kept, folded = pair
    moved = _rows(conn, "SELECT id FROM messages WHERE conversation_id = ?", (folded["id"],))
    conn.execute("UPDATE messages SET conversation_id = ? WHERE conversation_id = ?", (kept["id"], folded["id"]))
    # the agents' notes (and their mentions) follow the thread they were written beside
    notes = _rows(conn, "SELECT id FROM notes WHERE conversation_id = ?", (folded["id"],))
    conn.execute("UPDATE notes SET conversation_id = ? WHERE conversation_id = ?", (kept["id"], folded["id"]))
    conn.execute("UPDATE note_mentions SET conversation_id = ? WHERE conversation_id = ?", (kept["id"], folded["id"]))
    conn.execute(
        "UPDATE conversations SET status = 'resolved', resolved_at = ?, updated_at = ?, snoozed_until = NULL,"
        " route_reason = ?"
        " WHERE id = ?", (now, now, f"merged into {kept['id']}", folded["id"]),
    )
    latest, text = folded_preview(kept, folded)
    conn.execute(
        "UPDATE conversations SET last_message_at = ?, last_message_text = ?, updated_at = ? WHERE id = ?",
        (latest, text, now, kept["id"]),
    )
    return {"kept": kept, "folded": folded, "moved": [m["id"] for m in moved], "notes": [n["id"] for n in notes],
            "stamp": now}


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
        "UPDATE customers SET attributes = ?, attribute_meta = ?, display_name = ?, updated_at = ? WHERE id = ?",
        (json.dumps(attrs, ensure_ascii=False), json.dumps(meta),
         merged_name(survivor["display_name"], merged["display_name"]), now, survivor["id"]),
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
    # the reason is an agent's free words about a customer: in the audit, not the log
    log.info("customer %s merged into %s (%s)", merged["id"], survivor["id"], req.source)
    return record


def _move_to_survivor(conn: sqlite3.Connection, req: MergeRequest, snapshot: dict[str, Any], now: str) -> None:
    survivor_id, merged_id = req.survivor_id, req.merged_id
    conn.executemany(
        "UPDATE identities SET customer_id = ?, source = ?, link_reason = ?, verified = ? WHERE kind = ? AND value = ?",
        [(survivor_id, req.source, req.reason, int(moved_verified(req.verified, bool(i["verified"]))), i["kind"],
          i["value"]) for i in snapshot["identities"]],
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


def _unmerge(conn: sqlite3.Connection, merge_id: str, actor: str | None, reason: str, now: str) -> MergeRecord:
    row = _one(conn, "SELECT * FROM customer_merges WHERE id = ?", (merge_id,))
    if row is None:
        raise NotFound(f"merge {merge_id}")
    involving = _rows(
        conn, "SELECT id, created_at, undone_at FROM customer_merges WHERE survivor_id IN (?, ?)"
        " OR merged_id IN (?, ?) ORDER BY rowid",
        (row["survivor_id"], row["merged_id"], row["survivor_id"], row["merged_id"]),
    )
    check_undoable(dict(row), involving)
    snapshot = json.loads(row["snapshot"])
    changed = _move_back(conn, snapshot)
    changed |= sqlite_unmerge.return_later_messages(conn, snapshot, row["created_at"])
    sqlite_unmerge.settle(conn, changed, now)
    conn.execute("UPDATE customer_merges SET undone_at = ? WHERE id = ?", (now, merge_id))
    _audit(conn, "unmerge", row["survivor_id"], row["merged_id"], "agent" if actor else "rule", actor, reason,
           {"merge_id": merge_id}, now)
    log.info("merge %s undone (%s and %s apart again)", merge_id, row["survivor_id"], row["merged_id"])
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
        # a snapshot from before notes were moved has none
        back = [(folded_id, n) for n in fold.get("notes", [])]
        conn.executemany("UPDATE notes SET conversation_id = ? WHERE id = ?", back)
        conn.executemany("UPDATE note_mentions SET conversation_id = ? WHERE note_id = ?", back)
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
    if untouched_since(current["updated_at"] if current is not None else None, snapshot["stamp"]):
        _restore(conn, "customers", survivor)
    return changed


def _unfold(conn: sqlite3.Connection, fold: dict[str, Any]) -> set[str]:
    kept, folded = fold["kept"], fold["folded"]
    owner_open = other_open(_rows(conn, "SELECT id, status FROM conversations WHERE customer_id = ? ORDER BY rowid",
                                  (folded["customer_id"],)), folded["id"])
    changed: set[str] = set()
    if owner_open is None:
        _restore(conn, "conversations", folded)
    else:
        # the folded conversation's owner opened another since: reopening it would
        # give them two; its messages still go back to it, closed
        log.warning("conversation %s stays resolved: %s has %s open", folded["id"], folded["customer_id"],
                    owner_open)
        conn.execute("UPDATE conversations SET customer_id = ? WHERE id = ?", (folded["customer_id"], folded["id"]))
        changed = {folded["id"]}
    current = _one(conn, "SELECT updated_at FROM conversations WHERE id = ?", (kept["id"],))
    if untouched_since(current["updated_at"] if current is not None else None, fold["stamp"]):
        _restore(conn, "conversations", kept)
    else:
        # changed since the merge (a message, an agent): what it says about its
        # messages (channel, last words) is summed up again once they are back
        changed.add(kept["id"])
    return changed
