"""A store that refuses a write for a reason other than an outage, made for
real: a trigger in the database RAISEs on every insert into ``messages``, so
SQLite itself answers with a broken rule (``SQLITE_CONSTRAINT_TRIGGER``), which
the store's engine turns into ``IntegrityViolation``. Dropping the trigger is
the store recovering. Written through a connection of its own, as an admin's
``sqlite3`` shell would; the store's connections see the schema change on
their next statement."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

WORDS = "refused by the trigger of a test"


class Refusal:
    def __init__(self, database: Path | str) -> None:
        self.database = str(database)

    def _run(self, sql: str) -> None:
        with contextlib.closing(sqlite3.connect(self.database, timeout=120)) as conn:
            conn.execute(sql)
            conn.commit()

    def on(self) -> None:
        self._run("CREATE TRIGGER refuse_messages BEFORE INSERT ON messages "
                  f"BEGIN SELECT RAISE(ABORT, '{WORDS}'); END")

    def off(self) -> None:
        self._run("DROP TRIGGER refuse_messages")


def stored(database: Path | str, external_id: str) -> int:
    """How many messages with this external id the database holds."""
    with contextlib.closing(sqlite3.connect(str(database), timeout=120)) as conn:
        return int(conn.execute("SELECT count(*) FROM messages WHERE external_id = ?", (external_id,)).fetchone()[0])
