"""Merging two customers and undoing it exactly, on PostgreSQL: the SQL of one
transaction each (``sqlite_merge`` on SQLite). A merge keeps a snapshot of
what it moved; an unmerge puts it back.

Locks (``router.identity.store``, in ``router.store.base``'s order): both
customers' rows ``FOR UPDATE`` in id order before anything is read, so two
merges of one pair (either way round) run one after the other and the
second finds a customer merged already; an unmerge takes the same two, then
the merge record's row. Then both take the two customers' conversations
``FOR UPDATE`` (by id) before reading them or the messages in them, as
every writer of a message into a conversation locks the conversation
first. Claims and identities are written before messages and
conversations."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from router.identity import postgres_unmerge
from router.identity.postgres_rows import (
    _audit,
    _live_customer,
    _merge_record,
    _reinsert,
    _restore,
    _rows,
    _snapshot_rows,
)
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
from router.identity.types import MergeRequest
from router.models import MergeRecord, new_id
from router.store.errors import ConflictError, NotFound
from router.store.pg_engine import PgConn, as_json
from router.store.rows import ts

log = logging.getLogger(__name__)


async def lock_customers(conn: PgConn, customer_ids: Sequence[str]) -> None:
    """The customers' rows ``FOR UPDATE``, in id order (``ORDER BY`` sorts
    before rows are locked), to the end of the transaction."""
    await conn.execute("SELECT 1 FROM customers WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE",
                       sorted(set(customer_ids)))


async def lock_conversations(conn: PgConn, customer_ids: Sequence[str]) -> None:
    """The customers' conversations ``FOR UPDATE``, in id order: what the
    merge reads of them (which are open, which is older, when each was
    touched) stays true to its writes, and a message a writer put in one
    (an agent's reply, an inbound message; they lock the conversation
    first) is committed before the merge reads the messages it moves, or
    written after it into what the merge left. No conversation of theirs
    can be opened meanwhile: opening one locks its customer first."""
    await conn.execute("SELECT 1 FROM conversations WHERE customer_id = ANY($1::text[]) ORDER BY id FOR UPDATE",
                       sorted(set(customer_ids)))


async def _fold_plan(conn: PgConn, survivor_id: str, merged_id: str, now: datetime) -> dict[str, Any]:
    """Both customers have an open conversation: one will be folded into the
    other (``rules.fold`` chooses; ``_fold_messages``, ``_fold_conversations``),
    so the merged customer keeps one open conversation and the agent already
    on it keeps it. What is read here is the snapshot's; nothing is written yet."""
    both = await _snapshot_rows(conn, "conversations", "customer_id IN ($1, $2) ORDER BY created_at, seq",
                                (survivor_id, merged_id))
    # the rules order by time: compared as times, not as PostgreSQL's text of them
    timed = [{**c, "created_at": datetime.fromisoformat(c["created_at"])} for c in both]
    pair = fold(open_ones(timed))
    if pair is None:
        return {}
    kept, folded = (next(c for c in both if c["id"] == p["id"]) for p in pair)
    moved = await _rows(conn, "SELECT id FROM messages WHERE conversation_id = $1", (folded["id"],))
    notes = await _rows(conn, "SELECT id FROM notes WHERE conversation_id = $1", (folded["id"],))
    return {"kept": kept, "folded": folded, "moved": [m["id"] for m in moved], "notes": [n["id"] for n in notes],
            "stamp": ts(now)}


async def _fold_messages(conn: PgConn, plan: dict[str, Any]) -> None:
    """The folded conversation's messages, and the agents' notes beside them
    (with their mentions), to the kept one. Under the conversations' locks: a
    note written there meanwhile waits at its foreign key's share lock and is
    stored after the merge, beside the folded conversation (closed)."""
    if plan:
        for table in ("messages", "notes", "note_mentions"):
            await conn.execute(f"UPDATE {table} SET conversation_id = $1 WHERE conversation_id = $2",
                               plan["kept"]["id"], plan["folded"]["id"])


async def _fold_conversations(conn: PgConn, plan: dict[str, Any], now: datetime) -> None:
    if not plan:
        return
    kept, folded = plan["kept"], plan["folded"]
    await conn.execute(
        "UPDATE conversations SET status = 'resolved', resolved_at = $1, updated_at = $1, snoozed_until = NULL,"
        " route_reason = $2"
        " WHERE id = $3", now, f"merged into {kept['id']}", folded["id"],
    )
    latest, text = folded_preview(*(
        {"last_message_at": datetime.fromisoformat(c["last_message_at"]), "last_message_text": c["last_message_text"]}
        for c in (kept, folded)))
    await conn.execute(
        "UPDATE conversations SET last_message_at = $1, last_message_text = $2, updated_at = $3 WHERE id = $4",
        latest, text, now, kept["id"],
    )


async def _merge(conn: PgConn, req: MergeRequest, now: datetime) -> MergeRecord:
    if req.survivor_id == req.merged_id:
        raise ConflictError("a customer cannot be merged with itself")
    await lock_customers(conn, (req.survivor_id, req.merged_id))
    survivor = await _live_customer(conn, req.survivor_id)
    merged = await _live_customer(conn, req.merged_id)
    await lock_conversations(conn, (req.survivor_id, req.merged_id))
    snapshot: dict[str, Any] = {
        "survivor": survivor,
        "merged": merged,
        "identities": await _snapshot_rows(conn, "identities", "customer_id = $1", (merged["id"],)),
        "claims": await _snapshot_rows(conn, "identity_claims", "customer_id = $1", (merged["id"],)),
        "conversations": [r["id"] for r in await _rows(
            conn, "SELECT id FROM conversations WHERE customer_id = $1", (merged["id"],))],
        "messages": await _rows(conn, "SELECT id, conversation_id FROM messages WHERE customer_id = $1",
                                (merged["id"],)),
        "fold": await _fold_plan(conn, survivor["id"], merged["id"], now),
    }
    await _move_to_survivor(conn, req, snapshot, now)
    attrs, meta = merge_attributes(
        (survivor["attributes"], survivor["attribute_meta"]), (merged["attributes"], merged["attribute_meta"]),
        req.attributes,
    )
    await conn.execute(
        "UPDATE customers SET attributes = $1, attribute_meta = $2, display_name = $3, updated_at = $4 WHERE id = $5",
        as_json(attrs), as_json(meta), merged_name(survivor["display_name"], merged["display_name"]), now,
        survivor["id"],
    )
    await conn.execute("UPDATE customers SET merged_into = $1, updated_at = $2 WHERE id = $3",
                       survivor["id"], now, merged["id"])
    snapshot["stamp"] = ts(now)
    record = MergeRecord(id=new_id("mrg"), survivor_id=survivor["id"], merged_id=merged["id"], source=req.source,
                         actor=req.actor, reason=req.reason, created_at=now)
    await conn.execute(
        "INSERT INTO customer_merges (id, survivor_id, merged_id, source, actor, reason, snapshot, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        record.id, record.survivor_id, record.merged_id, req.source, req.actor, req.reason, as_json(snapshot), now,
    )
    details = {"merge_id": record.id, "conversations": len(snapshot["conversations"]),
               "messages": len(snapshot["messages"]), "folded": snapshot["fold"].get("folded", {}).get("id")}
    await _audit(conn, "merge", survivor["id"], merged["id"], req.source, req.actor, req.reason, details, now)
    # the reason is an agent's free words about a customer: in the audit, not the log
    log.info("customer %s merged into %s (%s)", merged["id"], survivor["id"], req.source)
    return record


async def _move_to_survivor(conn: PgConn, req: MergeRequest, snapshot: dict[str, Any], now: datetime) -> None:
    """Everything of the merged customer to the survivor, and the fold, in
    the lock order's tables order: claims, messages, conversations."""
    survivor_id, merged_id = req.survivor_id, req.merged_id
    await conn.executemany(
        "UPDATE identities SET customer_id = $1, source = $2, link_reason = $3, verified = $4"
        " WHERE kind = $5 AND value = $6",
        [(survivor_id, req.source, req.reason, moved_verified(req.verified, bool(i["verified"])), i["kind"],
          i["value"]) for i in snapshot["identities"]],
    )
    # a claim the survivor made too stays once (the merged one's is in the snapshot)
    await conn.execute(
        "DELETE FROM identity_claims AS m WHERE customer_id = $1 AND EXISTS (SELECT 1 FROM identity_claims s"
        " WHERE s.customer_id = $2 AND s.kind = m.kind AND s.value = m.value)", merged_id, survivor_id,
    )
    await conn.execute("UPDATE identity_claims SET customer_id = $1 WHERE customer_id = $2", survivor_id, merged_id)
    await _fold_messages(conn, snapshot["fold"])
    await conn.execute("UPDATE messages SET customer_id = $1 WHERE customer_id = $2", survivor_id, merged_id)
    await _fold_conversations(conn, snapshot["fold"], now)
    await conn.execute("UPDATE conversations SET customer_id = $1 WHERE customer_id = $2", survivor_id, merged_id)


async def _restore_claim(conn: PgConn, claim: dict[str, Any]) -> None:
    if await conn.fetchval("SELECT 1 FROM identity_claims WHERE id = $1", claim["id"]) is not None:
        await _restore(conn, "identity_claims", claim)
        return
    await _reinsert(conn, "identity_claims", claim)


async def _unmerge(conn: PgConn, merge_id: str, actor: str | None, reason: str, now: datetime) -> MergeRecord:
    # the pair never changes, so it can be read before the locks; everything else is read under them
    pair = await conn.fetchrow("SELECT survivor_id, merged_id FROM customer_merges WHERE id = $1", merge_id)
    if pair is None:
        raise NotFound(f"merge {merge_id}")
    await lock_customers(conn, (pair["survivor_id"], pair["merged_id"]))
    row = await conn.fetchrow("SELECT * FROM customer_merges WHERE id = $1 FOR UPDATE", merge_id)
    assert row is not None  # merge records are never deleted
    await lock_conversations(conn, (row["survivor_id"], row["merged_id"]))
    involving = await _rows(
        conn, "SELECT id, created_at, undone_at FROM customer_merges WHERE survivor_id IN ($1, $2)"
        " OR merged_id IN ($1, $2) ORDER BY seq", (row["survivor_id"], row["merged_id"]),
    )
    check_undoable(dict(row), involving)
    snapshot = json.loads(row["snapshot"])
    changed = await _move_back(conn, snapshot)
    changed |= await postgres_unmerge.return_later_messages(conn, snapshot, row["created_at"])
    await postgres_unmerge.settle(conn, changed, now)
    await conn.execute("UPDATE customer_merges SET undone_at = $1 WHERE id = $2", now, merge_id)
    await _audit(conn, "unmerge", row["survivor_id"], row["merged_id"], "agent" if actor else "rule", actor, reason,
                 {"merge_id": merge_id}, now)
    log.info("merge %s undone (%s and %s apart again)", merge_id, row["survivor_id"], row["merged_id"])
    found = await conn.fetchrow("SELECT * FROM customer_merges WHERE id = $1", merge_id)
    assert found is not None
    return _merge_record(found)


async def _move_back(conn: PgConn, snapshot: dict[str, Any]) -> set[str]:
    """Everything back as the snapshot has it; returns the conversations
    changed since the merge, so not restored whole (to be summed up again)."""
    merged, survivor, fold_ = snapshot["merged"], snapshot["survivor"], snapshot["fold"]
    merged_id = merged["id"]
    folded_id = fold_.get("folded", {}).get("id")
    for identity in snapshot["identities"]:
        await conn.execute(
            "UPDATE identities SET customer_id = $1, verified = $2, source = $3, link_reason = $4"
            " WHERE kind = $5 AND value = $6",
            merged_id, bool(identity["verified"]), identity["source"], identity["link_reason"], identity["kind"],
            identity["value"],
        )
    for claim in snapshot["claims"]:
        await _restore_claim(conn, claim)
    if fold_:
        await conn.executemany("UPDATE messages SET conversation_id = $1 WHERE id = $2",
                               [(folded_id, m) for m in fold_["moved"]])
        # a snapshot from before notes were moved has none
        back = [(folded_id, n) for n in fold_.get("notes", [])]
        await conn.executemany("UPDATE notes SET conversation_id = $1 WHERE id = $2", back)
        await conn.executemany("UPDATE note_mentions SET conversation_id = $1 WHERE note_id = $2", back)
    await conn.executemany(
        "UPDATE messages SET customer_id = $1, conversation_id = $2 WHERE id = $3",
        [(merged_id, m["conversation_id"], m["id"]) for m in snapshot["messages"]],
    )
    for conversation_id in snapshot["conversations"]:
        if conversation_id != folded_id:
            await conn.execute("UPDATE conversations SET customer_id = $1 WHERE id = $2", merged_id, conversation_id)
    changed = await _unfold(conn, fold_) if fold_ else set()
    await _restore(conn, "customers", merged)
    current = await conn.fetchval("SELECT updated_at FROM customers WHERE id = $1", survivor["id"])
    # the survivor's profile as it was, unless someone changed it since the merge
    if untouched_since(ts(current) if current is not None else None, snapshot["stamp"]):
        await _restore(conn, "customers", survivor)
    return changed


async def _unfold(conn: PgConn, fold_: dict[str, Any]) -> set[str]:
    kept, folded = fold_["kept"], fold_["folded"]
    owner_open = other_open(await _rows(
        conn, "SELECT id, status FROM conversations WHERE customer_id = $1 ORDER BY seq",
        (folded["customer_id"],)), folded["id"])
    changed: set[str] = set()
    if owner_open is None:
        await _restore(conn, "conversations", folded)
    else:
        # the folded conversation's owner opened another since: reopening it would
        # give them two; its messages still go back to it, closed
        log.warning("conversation %s stays resolved: %s has %s open", folded["id"], folded["customer_id"],
                    owner_open)
        await conn.execute("UPDATE conversations SET customer_id = $1 WHERE id = $2", folded["customer_id"],
                           folded["id"])
        changed = {folded["id"]}
    current = await conn.fetchval("SELECT updated_at FROM conversations WHERE id = $1", kept["id"])
    if untouched_since(ts(current) if current is not None else None, fold_["stamp"]):
        await _restore(conn, "conversations", kept)
    else:
        # changed since the merge (a message, an agent): what it says about its
        # messages (channel, last words) is summed up again once they are back
        changed.add(kept["id"])
    return changed
