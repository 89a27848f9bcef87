"""The store interface. Callers speak in models; each backend keeps its SQL
(and, next, PostgreSQL's) to itself. Every method is one atomic step, so a crash
between two steps leaves a state the router can resume from.

What a backend must hold
------------------------
A write is one transaction that reads rows, asks a rule (plain Python in the
slice's service) and writes what the rule allows. SQLite's one writer runs
one transaction at a time, so what was read is still true at the write. A
backend with several writers (PostgreSQL, several nodes) must hold, from the
read to the commit, the lock the method's docstring names: rows ``FOR
UPDATE``, a transaction advisory lock, or none because a single statement
does the step (a conditional UPDATE, whose WHERE PostgreSQL checks again on
a row it waited for; an ``INSERT ... ON CONFLICT``).
``tests/router/test_slices.py`` keeps every write's docstring naming it.

- Read under the lock: what was read before the lock was granted does not
  count; read it again (in READ COMMITTED the next statement sees what
  committed before the lock was granted).
- One order, so that two steps never wait for each other: advisory locks
  first, then rows: a one-time code, customers (by id), a merge record, a
  claim, an outbox entry, a message, a conversation, an agent. A merge
  moves a customer's messages after locking their conversations: every
  step that holds a message and then waits for a conversation holds the
  message's customer first, in a mode the merge's ``FOR UPDATE`` excludes.
- An advisory lock is ``pg_advisory_xact_lock(kind, hashtext(key))`` with a
  kind per purpose, so a hash never meets another purpose's lock (a node's
  singleton holds one for hours): 1, a receipt (key ``channel || ':' ||
  external_id``); 2, a customer's codes (the customer's id); 3, a key's
  daily cap of codes and 4, a key's owners (both ``kind || ':' || value``).
  Two kinds are session locks, outside any write: 5, the migrations; 6, a
  singleton a node leads (``router.cluster.postgres_leadership``, key its name).
- Reads take no lock."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self

from router.accounts.store import AccountStore
from router.agents.store import AgentAdminStore
from router.canned.store import CannedStore
from router.conversations.store import ConversationStore, MessageStore, OutboundStore
from router.csat.store import SurveyStore
from router.files.store import FileStore
from router.identity.store import ClaimStore, CustomerStore, MergeStore, VerificationStore
from router.ingest.store import IngestStore
from router.notes.store import NoteStore
from router.outbox.store import OutboxStore
from router.routing.store import AssignmentStore
from router.search.store import SearchStore
from router.signals.store import ReadStore
from router.store.cursors import CursorStore
from router.store.secrets import SecretStore
from router.wallboard.store import WallboardStore
from router.webhooks.store import WebhookStore


class Store(SecretStore, AccountStore, OutboxStore, IngestStore, ConversationStore, MessageStore, OutboundStore,
            CustomerStore, VerificationStore, ClaimStore, MergeStore, AssignmentStore, CursorStore, NoteStore,
            AgentAdminStore, CannedStore, ReadStore, FileStore, SurveyStore, SearchStore, WallboardStore,
            WebhookStore, ABC):
    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @abstractmethod
    async def open(self) -> None:
        """Connect and apply pending schema migrations."""

    @abstractmethod
    async def close(self) -> None: ...

    # where the store is, for people (a file's path, a DSN without its password)
    where: str

    @abstractmethod
    async def ping(self) -> None:
        """A round trip to where messages are written; ``StoreError`` with the
        reason when a message could not be stored now (``/healthz``)."""


