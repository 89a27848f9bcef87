"""Create or update a customer by id or by keys (a CRM's write, an import's
row) on PostgreSQL, in one transaction: the reads the rules of
router/identity/rules_upsert.py ask for, and the writes they decide, as
``sqlite_upsert`` does on SQLite. A key set aside as shared is noted as a
claim with source ``…:shared``.

Locks (``CustomerStore.upsert_customer``): by keys, each key's owners lock
(advisory kind 4, in sorted order) before its holders are read, so two writes
by a new key make one customer, then the customer they name ``FOR UPDATE``
(read again: a merge may have moved the keys meanwhile); by id, the
customer's row ``FOR UPDATE`` from the check that it was not merged to the
write."""

from __future__ import annotations

import json
from datetime import datetime

from router.identity import rules_upsert
from router.identity.postgres_live import live_end
from router.identity.rules import GIVEN_BY, MERGE_CHAIN_LIMIT, chain_unended, check_live, marks_shared
from router.identity.rules_upsert import Aside
from router.identity.types import SHARED_KEY_SOURCE, CustomerUpsert, KeyRef
from router.models import new_id
from router.store.pg_engine import KEY_OWNERS, PgConn, advisory_lock
from router.store.rows import ts


def key_lock_name(key: KeyRef) -> str:
    """The key of a key's advisory locks (``router.store.base``: ``kind || ':' || value``)."""
    return f"{key.kind}:{key.value}"


async def lock_keys(conn: PgConn, keys: tuple[KeyRef, ...] | list[KeyRef] | set[KeyRef]) -> None:
    """The owners lock (kind 4) of each key, in one order (sorted), so two
    transactions locking overlapping keys never wait for each other."""
    for name in sorted({key_lock_name(k) for k in keys}):
        await advisory_lock(conn, KEY_OWNERS, name)


async def key_holders(conn: PgConn, key: KeyRef) -> tuple[str, ...]:
    """The customers holding ``key``: linked to it, or given it by an import or a CRM for someone else."""
    linked = await conn.fetch("SELECT customer_id FROM identities WHERE key_kind = $1 AND key_value = $2",
                              key.kind, key.value)
    claims = await conn.fetch("SELECT customer_id, source FROM identity_claims WHERE kind = $1 AND value = $2",
                              key.kind, key.value)
    return tuple(sorted({str(r[0]) for r in linked} | {str(r[0]) for r in claims if marks_shared(r[1])}))


async def _owners(conn: PgConn, key: KeyRef) -> set[str]:
    rows = await conn.fetch("SELECT DISTINCT customer_id FROM identities WHERE key_kind = $1 AND key_value = $2",
                            key.kind, key.value)
    return {str(r[0]) for r in rows}


async def _external_id(conn: PgConn, customer_id: str) -> str | None:
    value = await conn.fetchval("SELECT value FROM identities WHERE customer_id = $1 AND key_kind = 'external'",
                                customer_id)
    return None if value is None else str(value)


async def _live_owner(conn: PgConn, usable: list[KeyRef]) -> tuple[dict[KeyRef, set[str]], str | None]:
    """The keys' owners, and the one customer they name, locked ``FOR UPDATE``.
    Named merged, the live end of its chain of merges is locked instead
    (``postgres_live``) and the owners read again under that lock: a merge
    that committed before it was granted moved the identities to its
    survivor, whom the keys name now (read once more, bounded); identities
    no merge moved (linked to a merged customer before that was refused)
    are the live end's."""
    for _ in range(MERGE_CHAIN_LIMIT):
        owners = await _owners_of(conn, usable)
        found = rules_upsert.keys_customer(owners)
        if found is None:
            return owners, None
        row = await live_end(conn, found, "UPDATE")
        assert row is not None  # identities name customers (a foreign key); customers are never deleted
        live = str(row["id"])
        if live == found:
            return owners, found
        if await _owners_of(conn, usable) == owners:
            return {key: {live if c == found else c for c in ids} for key, ids in owners.items()}, live
    raise chain_unended(str(found))


async def _owners_of(conn: PgConn, usable: list[KeyRef]) -> dict[KeyRef, set[str]]:
    return {key: await _owners(conn, key) for key in usable}


async def _live(conn: PgConn, customer_id: str) -> str:
    # FOR UPDATE: no merge of it commits between this check and the write
    row = await conn.fetchrow("SELECT id, merged_into FROM customers WHERE id = $1 FOR UPDATE", customer_id)
    check_live(customer_id, row[1] if row is not None else None, found=row is not None)
    assert row is not None
    return str(row[0])


async def _link(conn: PgConn, customer_id: str, upsert: CustomerUpsert, usable: list[KeyRef], aside: Aside,
                now: datetime) -> None:
    for key in usable:
        await conn.execute(
            "INSERT INTO identities (kind, value, customer_id, verified, source, created_at, key_kind,"
            " key_value, link_reason) VALUES ($1, $2, $3, true, $4, $5, $1, $2, $6) ON CONFLICT DO NOTHING",
            key.kind, key.value, customer_id, upsert.source, now, f"{GIVEN_BY}{upsert.source}",
        )
    for key, reason in aside:
        await note_shared(conn, customer_id, key, upsert.source, reason, now)


async def note_shared(conn: PgConn, customer_id: str, key: KeyRef, source: str, reason: str, now: datetime) -> None:
    """``key`` noted on the customer as shared (``source:shared``): a marker, never a lookup key."""
    source, raw = source + SHARED_KEY_SOURCE, reason[:256]
    claimed = await conn.fetchrow("SELECT id, source FROM identity_claims WHERE customer_id = $1 AND kind = $2"
                                  " AND value = $3", customer_id, key.kind, key.value)
    if claimed is None:
        await conn.execute("INSERT INTO identity_claims (id, customer_id, kind, value, source, raw, created_at)"
                           " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                           new_id("clm"), customer_id, key.kind, key.value, source, raw, now)
    elif not marks_shared(claimed[1]):
        # a claim the customer typed for the same key becomes the marker: ignored, the
        # key would not read as shared, and a later write by it could land here
        await conn.execute("UPDATE identity_claims SET source = $1, raw = $2 WHERE id = $3", source, raw, claimed[0])


async def _set_attributes(conn: PgConn, customer_id: str, upsert: CustomerUpsert, now: datetime) -> None:
    row = await conn.fetchrow("SELECT display_name, attributes, attribute_meta FROM customers WHERE id = $1",
                              customer_id)
    assert row is not None
    # the meta's times are text, as on SQLite: a merge compares them
    name, attrs, meta = rules_upsert.written_profile(row[0], json.loads(row[1]), json.loads(row[2]), upsert,
                                                     ts(now))
    await conn.execute(
        "UPDATE customers SET attributes = $1, attribute_meta = $2, display_name = $3, updated_at = $4"
        " WHERE id = $5",
        json.dumps(attrs, ensure_ascii=False), json.dumps(meta), name, now, customer_id,
    )


async def upsert_customer(conn: PgConn, upsert: CustomerUpsert, now: datetime
                          ) -> tuple[str, bool, tuple[tuple[KeyRef, str], ...]]:
    """``(customer id, created, keys set aside with their reasons)``; the
    rules of router/identity/rules_upsert.py decide, this reads and writes."""
    usable: list[KeyRef] = []
    aside: Aside = []
    if upsert.customer_id is not None:
        customer_id, created = await _live(conn, upsert.customer_id), False
    else:
        # before any holder is read: a second write by the same new key waits, then sees this one's customer
        await lock_keys(conn, upsert.keys)
        holders = {k: await key_holders(conn, k) for k in upsert.keys if rules_upsert.may_be_shared(k)}
        usable, aside = rules_upsert.sort_keys(upsert, holders)
        owners, found = await _live_owner(conn, usable)
        if found is not None:
            theirs = await _external_id(conn, found)
            found, usable, clashed = rules_upsert.external_clash(upsert, usable, owners, found, theirs)
            aside += clashed
        rules_upsert.check_named(usable, aside)
        created = found is None
        customer_id = found or await _new(conn, upsert.display_name, now)
    await _link(conn, customer_id, upsert, usable, aside, now)
    await _set_attributes(conn, customer_id, upsert, now)
    return customer_id, created, tuple(aside)


async def _new(conn: PgConn, name: str | None, now: datetime) -> str:
    customer_id = new_id("cus")
    await conn.execute("INSERT INTO customers (id, display_name, created_at, updated_at) VALUES ($1, $2, $3, $3)",
                       customer_id, name, now)
    return customer_id
