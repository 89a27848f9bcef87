"""Known senders' messages ingested on PostgreSQL in one statement each, and
several at once under load.

The common ingest (a known, unmerged sender; no proof, new name, new claim
or thread) is PostgreSQL migration 6's ``omnirouter_ingest_known``: one round
trip where the ingest transaction took seven. Round trips are what a node
and the database spend most on per message (a ``SELECT 1`` costs the server
~40 µs of CPU here, a commit more), so the store keeps one such call in
flight and sends what arrives meanwhile in the next, together
(``omnirouter_ingest_known_many``, one transaction): nothing waits for a
batch to fill, and under load one round trip and one commit serve many
messages, as SQLite's writer commits in groups.

A message the function leaves (no row) goes through the full transaction,
with nothing of it written. A batch the database refuses for what it holds
(one message's value, a deadlock retried out) is run again one message at a
time, so each message gets its own outcome; an outage fails the batch's
messages as it fails any write (a batch's commit is as uncertain then as
one message's: run again, it could store a message twice). The function
takes a batch's messages in the order of their customers' ids, the order a
merge locks customers in; a message whose caller went away (a closed
socket) before its batch left is not sent."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import Any

from router.conversations.states import preview
from router.identity.postgres_rows import _customer
from router.identity.rules import claim_merges
from router.identity.types import ClaimPlan, IdentityPlan
from router.ingest.store import Ingested
from router.models import DESCRIPTION_EXTRA, IdentityRef, Message
from router.store.errors import StoreError, StoreUnavailable
from router.store.pg_engine import Pg, PgConn
from router.store.pg_rows import message_args
from router.store.pg_text import storable_json, storable_text
from router.store.rows import conversation_row

log = logging.getLogger(__name__)

BATCH = 64  # messages per call at most: a batch holds its conversations' locks until it commits
# the message's 17 columns, then the sender's kind and value, the name, the time, the preview, the claims
_ARGS = 23
_ONE = "SELECT * FROM omnirouter_ingest_known(" + ", ".join(f"${n}" for n in range(1, _ARGS + 1)) + ")"
_MANY = "SELECT * FROM omnirouter_ingest_known_many(" + ", ".join(f"${n}" for n in range(1, _ARGS + 1)) + ")"
_JSONB = frozenset({11, 12, 13, 22})  # attachments, extras, core, claims: their places in a row

Row = tuple[Any, ...]


def known_path(plan: IdentityPlan | None, replies_to: list[str]) -> bool:
    """Whether the function may take the message: no thread to look for, and nothing of the
    resolution's but lookups (no proof; claims that merge nothing, which it records only when
    new, and then leaves to the full transaction)."""
    if replies_to:
        return False
    return plan is None or not (plan.proven or any(claim_merges(plan, claim) for claim in plan.claims))


def _row(stored: Message, sender: IdentityRef, name: str | None, now: datetime,
         claims: Sequence[ClaimPlan] = ()) -> Row:
    return (*message_args(stored), sender.kind, sender.value, name, now,
            preview(stored.text, stored.extras.get(DESCRIPTION_EXTRA)),
            json.dumps([[c.key.kind, c.key.value] for c in claims], ensure_ascii=False))


def _ingested(stored: Message, found: Any | None) -> Ingested | None:
    """The outcome of a row of either function: None when it left the message."""
    if found is None:
        return None
    customer = _customer(found["customer"])
    joined = found["conversation"]
    if joined is None:  # no open conversation: routing opens one, as in the full transaction
        return Ingested(stored, False, customer, None)
    view = conversation_row({**dict(joined.items()), "customer_name": customer.display_name})
    filed = stored.model_copy(update={"conversation_id": view.id, "customer_id": customer.id})
    return Ingested(filed, False, customer, view)


async def ingest_known(conn: PgConn, row: Row, stored: Message) -> Ingested | None:
    """One message, its own transaction: None when it needs the full one, with nothing written."""
    return _ingested(stored, await conn.fetchrow(_ONE, *row))


def _array_value(place: int, value: Any) -> Any:
    # array elements miss the connection's NUL codecs (router.store.pg_text): replaced here
    if isinstance(value, str):
        return storable_json(value) if place in _JSONB else storable_text(value)
    return value


async def ingest_known_many(conn: PgConn, items: list[tuple[Row, Message]]) -> list[Ingested | None]:
    """Several messages, in order, in one transaction; the outcome of each."""
    columns = [[_array_value(place, row[place]) for row, _ in items] for place in range(_ARGS)]
    found = {r["n"]: r for r in await conn.fetch(_MANY, *columns)}
    return [_ingested(stored, found.get(n)) for n, (_, stored) in enumerate(items, start=1)]


class KnownIngests:
    """The store's calls of the function: one in flight, the others gathered for the next."""

    def __init__(self) -> None:
        self._waiting: list[tuple[Row, Message, asyncio.Future[Ingested | None]]] = []
        self._draining: asyncio.Task[None] | None = None
        self.batches = 0  # calls that took more than one message

    async def ingest(self, pg: Pg, stored: Message, sender: IdentityRef, name: str | None, now: datetime,
                     claims: Sequence[ClaimPlan] = ()) -> Ingested | None:
        """``claims``: the plan's, none merging by config (``known_path``)."""
        future: asyncio.Future[Ingested | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((_row(stored, sender, name, now, claims), stored, future))
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain(pg), name="ingest-known")
        return await future

    async def _drain(self, pg: Pg) -> None:
        batch: list[tuple[Row, Message, asyncio.Future[Ingested | None]]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:BATCH], self._waiting[BATCH:]
                batch = [item for item in batch if not item[2].done()]  # its caller gone: never stored
                if batch:
                    await self._run(pg, batch)
        finally:
            self._draining = None
            for _, _, future in batch + self._waiting:  # cancelled with the store's loop: none is left hanging
                future.cancel()
            self._waiting = []

    async def _run(self, pg: Pg, batch: list[tuple[Row, Message, asyncio.Future[Ingested | None]]]) -> None:
        if len(batch) == 1:
            row, stored, future = batch[0]
            await _settle(future, pg.write_statement(ingest_known, row, stored))
            return
        self.batches += 1
        try:
            outcomes = await pg.write_statement(ingest_known_many, [(row, stored) for row, stored, _ in batch])
        except StoreUnavailable as exc:  # as for any write: not stored, or not known to be
            for _, _, future in batch:
                _fail(future, exc)
            return
        except StoreError as exc:
            log.info("ingest: a batch of %d messages failed (%s); each is stored alone", len(batch),
                     type(exc).__name__)
            await asyncio.gather(*(_settle(future, pg.write_statement(ingest_known, row, stored))
                                   for row, stored, future in batch))
            return
        except Exception as exc:  # a bug of ours: each caller hears of it, as it would alone
            for _, _, future in batch:
                _fail(future, exc)
            return
        for (_, _, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)


async def _settle(future: asyncio.Future[Ingested | None], outcome: Awaitable[Ingested | None]) -> None:
    try:
        result = await outcome
    except Exception as exc:  # the caller's to handle, as it would have been without the batching
        _fail(future, exc)
        return
    if not future.done():  # its caller may have gone (a closed socket)
        future.set_result(result)


def _fail(future: asyncio.Future[Ingested | None], exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)
