"""The outbox slice's SQL on PostgreSQL. Mixed into ``PostgresStore``, which gives it
the pool (``router.store.pg_engine``); storage and atomicity only, the rules are the
slice's. Each write holds the lock its method's docstring names (``router.outbox.store``)."""

from __future__ import annotations

from datetime import datetime

from router.models import Message, OutboxEntry
from router.outbox.store import OutboxStore
from router.store.pg_engine import PgConnections


class PostgresOutbox(OutboxStore, PgConnections):
    """Outbox over the pool of the store it is mixed into."""

    async def pending_outbox(self, limit: int) -> list[OutboxEntry]:
        raise NotImplementedError("postgres: not yet")

    async def outbox_sent(self, entry_id: str, external_id: str | None, now: datetime) -> Message:
        raise NotImplementedError("postgres: not yet")

    async def outbox_part_sent(self, entry_id: str, parts_sent: int, external_id: str | None) -> None:
        raise NotImplementedError("postgres: not yet")

    async def outbox_retry(self, entry_id: str, attempts: int, next_attempt_at: datetime, error: str) -> None:
        raise NotImplementedError("postgres: not yet")

    async def outbox_dead(self, entry_id: str, attempts: int, reason: str, now: datetime) -> Message:
        raise NotImplementedError("postgres: not yet")
