"""Create or update a customer by id or by keys (a CRM's write, an import's
row), in one transaction of the SQLite store's writer.

A write by key lands on the one customer the keys name, or on nobody: a
phone/email held by several customers (a family's phone, an office line)
names nobody. A CRM's write is refused then; an import's row is applied
without that key, and the key is noted as shared (a claim with source
``…:shared``), so that no later write by it lands on either of them."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from router.identity.errors import KeyShared
from router.identity.types import SHARED_KEY_SOURCE, CustomerUpsert, KeyRef
from router.models import new_id
from router.store.errors import ConflictError, NotFound

PERSON_KEYS = ("phone", "email")


def key_holders(conn: sqlite3.Connection, key: KeyRef) -> tuple[str, ...]:
    """The customers holding ``key``: linked to it, or given it by an import or a CRM for someone else."""
    rows = conn.execute(
        "SELECT customer_id FROM identities WHERE key_kind = ? AND key_value = ?"
        " UNION SELECT customer_id FROM identity_claims WHERE kind = ? AND value = ? AND source LIKE ?"
        " ORDER BY 1", (key.kind, key.value, key.kind, key.value, f"%{SHARED_KEY_SOURCE}"),
    ).fetchall()
    return tuple(str(r[0]) for r in rows)


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
    if row is None:
        raise NotFound(f"customer {customer_id}")
    if row[1] is not None:
        raise ConflictError(f"customer {customer_id} was merged into {row[1]}")
    return str(row[0])


class _Target:
    """Which customer a write by keys is for, and the keys set aside."""

    def __init__(self, upsert: CustomerUpsert) -> None:
        self.upsert = upsert
        self.usable: list[KeyRef] = []
        self.set_aside: list[tuple[KeyRef, str]] = []

    def aside(self, key: KeyRef, reason: str) -> None:
        if self.upsert.shared_keys == "refuse":
            raise ConflictError(reason)
        self.set_aside.append((key, reason))

    def sort(self, conn: sqlite3.Connection) -> None:
        for key in self.upsert.keys:
            holders = key_holders(conn, key) if key.kind in PERSON_KEYS else ()
            if len(holders) > 1:
                if self.upsert.shared_keys == "refuse":
                    raise KeyShared(key, holders)
                self.set_aside.append((key, f"held by {len(holders)} customers ({', '.join(holders)})"))
            else:
                self.usable.append(key)

    def find(self, conn: sqlite3.Connection) -> str | None:
        owners = {key: _owners(conn, key) for key in self.usable}
        found = set().union(*owners.values())
        if len(found) > 1:
            held = "; ".join(f"{k.kind} {k.value}: {', '.join(sorted(ids))}" for k, ids in owners.items() if ids)
            raise ConflictError(f"these keys belong to different customers ({held}); merge them first or use the id")
        if not found:
            return None
        customer_id = found.pop()
        given = next((k.value for k in self.usable if k.kind == "external"), None)
        theirs = _external_id(conn, customer_id)
        if given is None or theirs in (None, given):
            return customer_id
        # a customer has one id in the CRM: the row's phone/email is another
        # customer's (a family's phone), or two records of the CRM collide
        reason = f"customer {customer_id} has external id {theirs!r} already, not {given!r}"
        for key in [k for k in self.usable if customer_id in owners[k]]:
            self.aside(key, f"{reason}: the {key.kind} is theirs")
            self.usable.remove(key)
        return None


def _link(conn: sqlite3.Connection, customer_id: str, upsert: CustomerUpsert, target: _Target, now: str) -> None:
    for key in target.usable:
        conn.execute(
            "INSERT OR IGNORE INTO identities (kind, value, customer_id, verified, source, created_at, key_kind,"
            " key_value, link_reason) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?)",
            (key.kind, key.value, customer_id, upsert.source, now, key.kind, key.value, f"given by {upsert.source}"),
        )
    for key, reason in target.set_aside:
        conn.execute(
            # a claim the customer typed for the same key becomes the marker: ignored, the
            # key would not read as shared, and a later write by it could land here
            "INSERT INTO identity_claims (id, customer_id, kind, value, source, raw, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (customer_id, kind, value) DO UPDATE"
            " SET source = excluded.source, raw = excluded.raw WHERE source NOT LIKE '%' || ?",
            (new_id("clm"), customer_id, key.kind, key.value, upsert.source + SHARED_KEY_SOURCE, reason[:256], now,
             SHARED_KEY_SOURCE),
        )


def _set_attributes(conn: sqlite3.Connection, customer_id: str, upsert: CustomerUpsert, now: str) -> None:
    row = conn.execute("SELECT attributes, attribute_meta FROM customers WHERE id = ?", (customer_id,)).fetchone()
    attrs: dict[str, Any] = json.loads(row[0])
    meta: dict[str, Any] = json.loads(row[1])
    for name, value in upsert.attributes:
        if value is None:
            attrs.pop(name, None)
            meta.pop(name, None)
        else:
            attrs[name] = value
            meta[name] = {"at": now, "source": upsert.source}
    conn.execute(
        "UPDATE customers SET attributes = ?, attribute_meta = ?, display_name = COALESCE(?, display_name),"
        " updated_at = ? WHERE id = ?",
        (json.dumps(attrs, ensure_ascii=False), json.dumps(meta), upsert.display_name, now, customer_id),
    )


def upsert_customer(conn: sqlite3.Connection, upsert: CustomerUpsert, now: str
                    ) -> tuple[str, bool, tuple[tuple[KeyRef, str], ...]]:
    """``(customer id, created, keys set aside with their reasons)``."""
    target = _Target(upsert)
    if upsert.customer_id is not None:
        customer_id, created = _live(conn, upsert.customer_id), False
    else:
        target.sort(conn)
        found = target.find(conn)
        if not target.usable:
            raise ConflictError("no key of the row names one customer: "
                                + "; ".join(f"{k.kind} {k.value}: {why}" for k, why in target.set_aside))
        created = found is None
        customer_id = found or _new(conn, upsert.display_name, now)
    _link(conn, customer_id, upsert, target, now)
    _set_attributes(conn, customer_id, upsert, now)
    return customer_id, created, tuple(target.set_aside)


def _new(conn: sqlite3.Connection, name: str | None, now: str) -> str:
    customer_id = new_id("cus")
    conn.execute("INSERT INTO customers (id, display_name, created_at, updated_at) VALUES (?, ?, ?, ?)",
                 (customer_id, name, now, now))
    return customer_id
