"""The identity tables' rows as models, and the small steps every identity
transaction shares (the audit log, a snapshot's rows put back). SQL only."""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import fields
from typing import Any

from router.identity.rules import check_live
from router.identity.types import AttributeMergePolicy, ClaimPlan, IdentityPlan, KeyRef
from router.models import AuditEntry, ChannelIdentity, Customer, IdentityClaim, IdentityRef, MergeRecord, new_id
from router.store.errors import NotFound
from router.store.rows import fetch_all as _all
from router.store.rows import fetch_one as _one
from router.store.rows import from_ts as _ts
from router.store.rows import json_value, parse_ts

log = logging.getLogger(__name__)


def _customer(row: sqlite3.Row) -> Customer:
    return customer_of(customer_values(row))


def customer_values(row: sqlite3.Row) -> tuple[Any, ...]:
    """A ``customers`` row as plain values, which cross the writer process's
    pipe for a fraction of a ``Customer``'s pickling (``customer_of`` reads them)."""
    return row["id"], row["display_name"], row["attributes"], row["created_at"], row["updated_at"], row["merged_into"]


def customer_of(values: tuple[Any, ...]) -> Customer:
    customer_id, display_name, attributes, created_at, updated_at, merged_into = values
    return Customer.model_validate({"id": customer_id, "display_name": display_name,
                                    "attributes": json_value(attributes), "created_at": created_at,
                                    "updated_at": updated_at, "merged_into": merged_into})


_BY_IDENTITY = "SELECT c.* FROM identities i JOIN customers c ON c.id = i.customer_id WHERE i.kind = ? AND i.value = ?"


def _customer_by_identity(conn: sqlite3.Connection, ref: IdentityRef) -> Customer | None:
    row = _one(conn, _BY_IDENTITY, (ref.kind, ref.value))
    return None if row is None else _customer(row)


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


def _plain(ref: IdentityRef) -> IdentityPlan:
    return IdentityPlan(identity=ref)


# a plan crosses to the writer process with each message: pickled as it is (a pydantic IdentityRef
# and slotted dataclasses, each pickled by Python code) it cost ~6.5 µs in the server and ~7 in the
# writer; as plain values ~1.2 and ~4.2, built again (measured). The fields are checked by name, so
# that one added to these types and not to plan_values fails at import instead of being dropped
_PLAN_FIELDS = ("identity", "key", "match", "max_profiles", "claims", "merge_claims", "attributes", "proven",
                "merge_proven")
if (tuple(f.name for f in fields(IdentityPlan)) != _PLAN_FIELDS
        or tuple(f.name for f in fields(AttributeMergePolicy)) != ("default", "per_attribute", "source_priority")
        or tuple(f.name for f in fields(ClaimPlan)) != ("key", "source", "raw")):
    raise TypeError("plan_values and plan_of must send every field of IdentityPlan, ClaimPlan, AttributeMergePolicy")

PlanValues = tuple[Any, ...]


def plan_values(plan: IdentityPlan) -> PlanValues:
    """``plan`` as plain values (``plan_of`` builds it again)."""
    key, policy = plan.key, plan.attributes
    return (plan.identity.kind, plan.identity.value, None if key is None else (key.kind, key.value), plan.match,
            plan.max_profiles, _claim_values(plan.claims), plan.merge_claims,
            (policy.default, policy.per_attribute, policy.source_priority), _claim_values(plan.proven),
            plan.merge_proven)


def plan_of(values: PlanValues) -> IdentityPlan:
    kind, value, key, match, max_profiles, claims, merge_claims, policy, proven, merge_proven = values
    return IdentityPlan(
        identity=IdentityRef(kind=kind, value=value),  # validating it costs less than model_construct
        key=None if key is None else KeyRef(*key), match=match, max_profiles=max_profiles,
        claims=_claims_of(claims), merge_claims=merge_claims, attributes=AttributeMergePolicy(*policy),
        proven=_claims_of(proven), merge_proven=merge_proven,
    )


def _claim_values(claims: tuple[ClaimPlan, ...]) -> tuple[tuple[str, str, str, str], ...]:
    return tuple((c.key.kind, c.key.value, c.source, c.raw) for c in claims)


def _claims_of(values: tuple[tuple[str, str, str, str], ...]) -> tuple[ClaimPlan, ...]:
    if not values:  # most messages claim nothing
        return ()
    return tuple(ClaimPlan(KeyRef(kind, value), source, raw) for kind, value, source, raw in values)


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


def _restore(conn: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    """Put a row back exactly as snapshotted, in place (an UPDATE keeps its
    rowid, and with it the order of equal timestamps). Column names come from
    our own schema, never from input."""
    sets = ", ".join(f"{col} = ?" for col in row if col != "id")
    conn.execute(f"UPDATE {table} SET {sets} WHERE id = ?", (*(v for k, v in row.items() if k != "id"), row["id"]))


def _live_customer(conn: sqlite3.Connection, customer_id: str) -> dict[str, Any]:
    row = _one(conn, "SELECT * FROM customers WHERE id = ?", (customer_id,))
    check_live(customer_id, row["merged_into"] if row is not None else None, found=row is not None)
    assert row is not None
    return dict(row)


def _merge_record(r: sqlite3.Row) -> MergeRecord:
    return MergeRecord(
        id=r["id"], survivor_id=r["survivor_id"], merged_id=r["merged_id"], source=r["source"], actor=r["actor"],
        reason=r["reason"], created_at=_ts(r["created_at"]), undone_at=parse_ts(r["undone_at"]),
    )


def _row_of(conn: sqlite3.Connection, table: str, row_id: str) -> sqlite3.Row:
    row = _one(conn, f"SELECT * FROM {table} WHERE id = ?", (row_id,))
    if row is None:
        raise NotFound(f"{table} {row_id}")
    return row
