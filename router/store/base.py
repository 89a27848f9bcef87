"""The store interface. Callers speak in models; each backend keeps its SQL
(and, next, PostgreSQL's) to itself. Every method is one atomic step, so a crash
between two steps leaves a state the router can resume from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self

from router.accounts.store import AccountStore
from router.conversations.store import ConversationStore, MessageStore, OutboundStore
from router.identity.store import ClaimStore, CustomerStore, MergeStore, VerificationStore
from router.ingest.store import IngestStore
from router.outbox.store import OutboxStore
from router.routing.store import AssignmentStore
from router.store.secrets import SecretStore


class Store(SecretStore, AccountStore, OutboxStore, IngestStore, ConversationStore, MessageStore, OutboundStore,
            CustomerStore, VerificationStore, ClaimStore, MergeStore, AssignmentStore, ABC):
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

    @abstractmethod
    async def ping(self) -> None:
        """A round trip to where messages are written; ``StoreError`` with the
        reason when a message could not be stored now (``/healthz``)."""


