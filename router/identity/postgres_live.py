"""The live end of a customer's chain of merges on PostgreSQL, its row locked:
what a write that names a customer it read before its lock was granted
(a key's owner, the sender's customer, a thread's customer) writes for.

A merge sets ``merged_into`` and is never merged again, but its survivor may
be (A into B, then B into C): the chain is followed to its end, C, in one
statement (a recursive read, then that row locked), after one plain read
of the customer itself, which is the answer when it is not merged: the
common case, on every ingest, where the recursive statement costs ~20 µs
more. When the end is being
merged as the lock is asked for, the lock is granted once that merge
commits, and the row read under it names one more step: followed too, at
most ``rules.MERGE_CHAIN_LIMIT`` steps in all, so no loop outlives a broken
store (``rules.chain_unended``)."""

from __future__ import annotations

from typing import Any, Literal

from router.identity.rules import MERGE_CHAIN_LIMIT, chain_unended
from router.store.pg_engine import PgConn

# KEY SHARE: what a row naming the customer holds anyway (a message's, an identity's foreign
# key); a merge of it (customers FOR UPDATE) waits for the commit. UPDATE: the customer's
# own row is written.
Strength = Literal["KEY SHARE", "UPDATE"]

_END = """
    WITH RECURSIVE chain (id, merged_into, steps) AS (
        SELECT id, merged_into, 0 FROM customers WHERE id = $1
        UNION ALL
        SELECT c.id, c.merged_into, chain.steps + 1 FROM chain JOIN customers c ON c.id = chain.merged_into
        WHERE chain.steps < $2
    )
    SELECT c.* FROM customers c WHERE c.id = (SELECT id FROM chain ORDER BY steps DESC LIMIT 1)
    FOR {strength} OF c
"""
_OWNS: dict[Strength, str] = {strength: f"SELECT * FROM customers WHERE id = $1 FOR {strength}"
                              for strength in ("KEY SHARE", "UPDATE")}
_ENDS: dict[Strength, str] = {"KEY SHARE": _END.format(strength="KEY SHARE"), "UPDATE": _END.format(strength="UPDATE")}


async def live_end(conn: PgConn, customer_id: str, strength: Strength) -> Any | None:
    """The row of the live customer ``customer_id``'s chain of merges ends in
    (``customer_id``'s own when it is not merged), locked ``FOR strength`` to
    the commit and read under the lock; None for no such customer."""
    # the common case first, a customer not merged: one row by its key, as cheap as a lock gets
    row = await conn.fetchrow(_OWNS[strength], customer_id)
    if row is None or row["merged_into"] is None:
        return row
    current = row["merged_into"]
    for _ in range(MERGE_CHAIN_LIMIT):
        row = await conn.fetchrow(_ENDS[strength], current, MERGE_CHAIN_LIMIT)
        if row is None or row["merged_into"] is None:
            return row
        # merged as the lock was asked for (or a chain longer than one read follows): on from there
        current = row["merged_into"]
    raise chain_unended(customer_id)
