"""The live end of a customer's chain of merges on SQLite (A into B, then B
into C: C), as ``postgres_live`` finds it on PostgreSQL: the one writer
runs one transaction at a time, so no merge commits while it is read and no
lock is taken; the chain is followed at most ``rules.MERGE_CHAIN_LIMIT``
steps (``rules.chain_unended`` past them)."""

from __future__ import annotations

import sqlite3

from router.identity.rules import MERGE_CHAIN_LIMIT, chain_unended
from router.store.rows import fetch_one as _one

_END = """
    WITH RECURSIVE chain (id, merged_into, steps) AS (
        SELECT id, merged_into, 0 FROM customers WHERE id = ?
        UNION ALL
        SELECT c.id, c.merged_into, chain.steps + 1 FROM chain JOIN customers c ON c.id = chain.merged_into
        WHERE chain.steps < ?
    )
    SELECT c.* FROM customers c WHERE c.id = (SELECT id FROM chain ORDER BY steps DESC LIMIT 1)
"""


def live_end(conn: sqlite3.Connection, customer_id: str) -> sqlite3.Row | None:
    """The row of the live customer ``customer_id``'s chain of merges ends in
    (``customer_id``'s own when it is not merged); None for no such customer."""
    row = _one(conn, _END, (customer_id, MERGE_CHAIN_LIMIT))
    if row is not None and row["merged_into"] is not None:
        raise chain_unended(customer_id)
    return row
