"""Create or update a customer by id or by keys (a CRM's write, an import's
row), in one transaction of the SQLite store's writer: the reads the rules of
router/identity/rules_upsert.py ask for, and the writes they decide. A key
set aside as shared is noted as a claim with source ``…:shared``."""

from __future__ import annotations

import json
import sqlite3

from router.identity import rules_upsert
from router.identity.rules import GIVEN_BY, check_live, marks_shared
from router.identity.rules_upsert import Aside
from router.identity.sqlite_live import live_end
from router.identity.types import SHARED_KEY_SOURCE, CustomerUpsert, KeyRef
from router.models import new_id


def key_holders(conn: sqlite3.Connection, key: KeyRef) -> tuple[str, ...]:
    """The customers holding ``key``: linked to it, or given it by an import or a CRM for someone else."""
    linked = conn.execute("SELECT customer_id FROM identities WHERE key_kind = ? AND key_value = ?",
                          (key.kind, key.value)).fetchall()
    claims = conn.execute("SELECT customer_id, source FROM identity_claims WHERE kind = ? AND value = ?",
                          (key.kind, key.value)).fetchall()
    return tuple(sorted({str(r[0]) for r in linked} | {str(r[0]) for r in claims if marks_shared(r[1])}))


def _owners(conn: sqlite3.Connection, key: KeyRef) -> set[str]:
    rows = conn.execute("SELECT DISTINCT customer_id FROM identities WHERE key_kind = ? AND key_value = ?",
                        (key.kind, key.value)).fetchall()
    return {str(r[0]) for r in rows}


def _external_id(conn: sqlite3.Connection, customer_id: str) -> str | None:
    row = conn.execute("SELECT value FROM identities WHERE customer_id = ? AND key_kind = 'external'",
                       (customer_id,)).fetchone()
    return str(row[0]) if row is not None else None


def _live(conn: sqlite3.Connection, customer_id: str) -> str:
    row = conn.execute("SELECT id, merged_into FROM customers WHERE id = ?", (customer_id,)).fetchone()
    check_live(customer_id, row[1] if row is not None else None, found=row is not None)
    return str(row[0])


def _live_end(conn: sqlite3.Connection, customer_id: str) -> str:
    row = live_end(conn, customer_id)
    assert row is not None  # identities name customers (a foreign key); customers are never deleted
    return str(row["id"])


def _link(conn: sqlite3.Connection, customer_id: str, upsert: CustomerUpsert, usable: list[KeyRef], aside: Aside,
          now: str) -> None:
    for key in usable:
        conn.execute(
            "INSERT OR IGNORE INTO identities (kind, value, customer_id, verified, source, created_at, key_kind,"
            " key_value, link_reason) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?)",
            (key.kind, key.value, customer_id, upsert.source, now, key.kind, key.value, f"{GIVEN_BY}{upsert.source}"),
        )
    for key, reason in aside:
        note_shared(conn, customer_id, key, upsert.source, reason, now)


def note_shared(conn: sqlite3.Connection, customer_id: str, key: KeyRef, source: str, reason: str, now: str) -> None:
    """``key`` noted on the customer as shared (``source:shared``): a marker, never a lookup key."""
    source, raw = source + SHARED_KEY_SOURCE, reason[:256]
    claimed = conn.execute("SELECT id, source FROM identity_claims WHERE customer_id = ? AND kind = ?"
                           " AND value = ?", (customer_id, key.kind, key.value)).fetchone()
    if claimed is None:
        conn.execute("INSERT INTO identity_claims (id, customer_id, kind, value, source, raw, created_at)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?)", (new_id("clm"), customer_id, key.kind, key.value, source,
                                                       raw, now))
    elif not marks_shared(claimed[1]):
        # a claim the customer typed for the same key becomes the marker: ignored, the
        # key would not read as shared, and a later write by it could land here
        conn.execute("UPDATE identity_claims SET source = ?, raw = ? WHERE id = ?", (source, raw, claimed[0]))


def _set_attributes(conn: sqlite3.Connection, customer_id: str, upsert: CustomerUpsert, now: str) -> None:
    row = conn.execute("SELECT display_name, attributes, attribute_meta FROM customers WHERE id = ?",
                       (customer_id,)).fetchone()
    name, attrs, meta = rules_upsert.written_profile(row[0], json.loads(row[1]), json.loads(row[2]), upsert, now)
    conn.execute(
        "UPDATE customers SET attributes = ?, attribute_meta = ?, display_name = ?, updated_at = ? WHERE id = ?",
        (json.dumps(attrs, ensure_ascii=False), json.dumps(meta), name, now, customer_id),
    )


def upsert_customer(conn: sqlite3.Connection, upsert: CustomerUpsert, now: str
                    ) -> tuple[str, bool, tuple[tuple[KeyRef, str], ...]]:
    """``(customer id, created, keys set aside with their reasons)``; the
    rules of router/identity/rules_upsert.py decide, this reads and writes."""
    usable: list[KeyRef] = []
    aside: Aside = []
    if upsert.customer_id is not None:
        customer_id, created = _live(conn, upsert.customer_id), False
    else:
        holders = {k: key_holders(conn, k) for k in upsert.keys if rules_upsert.may_be_shared(k)}
        usable, aside = rules_upsert.sort_keys(upsert, holders)
        owners = {key: _owners(conn, key) for key in usable}
        found = rules_upsert.keys_customer(owners)
        if found is not None and (live := _live_end(conn, found)) != found:
            # identities left on a merged customer (a store written before that was refused): the live end's
            owners = {key: {live if c == found else c for c in ids} for key, ids in owners.items()}
            found = live
        if found is not None:
            theirs = _external_id(conn, found)
            found, usable, clashed = rules_upsert.external_clash(upsert, usable, owners, found, theirs)
            aside += clashed
        rules_upsert.check_named(usable, aside)
        created = found is None
        customer_id = found or _new(conn, upsert.display_name, now)
    _link(conn, customer_id, upsert, usable, aside, now)
    _set_attributes(conn, customer_id, upsert, now)
    return customer_id, created, tuple(aside)


def _new(conn: sqlite3.Connection, name: str | None, now: str) -> str:
    customer_id = new_id("cus")
    conn.execute("INSERT INTO customers (id, display_name, created_at, updated_at) VALUES (?, ?, ?, ?)",
                 (customer_id, name, now, now))
    return customer_id
