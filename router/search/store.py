"""What search, labels and snooze need from a store, and no more. ``Store``
inherits it; each backend's SQL is in ``router.search.sqlite`` and
``router.search.postgres``, the rules in ``router.search.service``.

A page of results is a list of ``(position, result)``, newest first: the
position is where the result was inserted (SQLite's rowid, PostgreSQL's
``seq``), which never changes, so the page after one ending at position p
is the results before p, whatever was added meanwhile (no OFFSET, no count).

Every method is one atomic step; errors are ``router.store``'s."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel

from router.models import ConversationView, IdentityRef, Message, Timestamp
from router.search.service import Search

CANDIDATES = 2000  # matches of the words a page of messages looks at, at most
# a label some conversation has (the table keeps every name ever used: the list offers those in use)
LABEL_IN_USE = "EXISTS (SELECT 1 FROM conversation_labels cl WHERE cl.label = labels.name)"


class Label(BaseModel):
    name: str
    created_at: Timestamp


class CustomerHit(BaseModel):
    id: str
    display_name: str | None
    identities: list[IdentityRef]
    # the newest conversation, to open; None before the first
    conversation_id: str | None


class MessageHit(BaseModel):
    message: Message
    conversation: ConversationView


@dataclass(frozen=True, slots=True)
class MessagePage:
    """A page of messages found: ``(position, hit)`` newest first, and the
    position the next page starts before (None: there is no more). A page
    looks at ``CANDIDATES`` matches of the words at most (as many as it holds
without filters): when filters let few
    of them through, it holds fewer than asked and still has a next page, so
    a search's time is bounded whatever its filters."""

    hits: list[tuple[int, MessageHit]]
    resume: int | None


def resume_after(hits: list[tuple[int, MessageHit]], limit: int, candidates: list[int], budget: int) -> int | None:
    """Where the page after this one starts: after its last hit when it is
    full, after the last match it looked at when it used up its budget."""
    if len(hits) >= limit:
        return hits[-1][0]
    if len(candidates) >= budget:
        return candidates[-1]
    return None


class SearchStore(Protocol):
    @abstractmethod
    async def search_messages(self, search: Search) -> MessagePage:
        """Messages of conversations whose text has every term (in any of its word
        forms), newest first, narrowed by the search's filters."""

    @abstractmethod
    async def search_conversations(self, search: Search) -> list[tuple[int, ConversationView]]:
        """Conversations, newest first, narrowed by the filters; with terms, those
        of customers whose name or identities have every term (as a prefix)."""

    @abstractmethod
    async def search_customers(self, search: Search) -> list[tuple[int, CustomerHit]]:
        """Customers (merged ones left out) whose name or identities have every term."""

    @abstractmethod
    async def index_for_search(self, limit: int) -> int:
        """Index up to ``limit`` documents not indexed yet (messages stored,
        customers changed since they were); how many it indexed, 0 when the
        index has caught up.

        Lock: SQLite's one writer (the messages' index file has a writer of its
        own); on PostgreSQL, the queued messages' and changed customers' queue rows
        taken ``FOR UPDATE SKIP LOCKED`` and deleted in the transaction that writes
        their terms."""

    @abstractmethod
    async def list_labels(self) -> list[Label]:
        """Every label, by name."""

    @abstractmethod
    async def labels_exist(self, names: list[str]) -> list[str]:
        """Those of ``names`` that are labels."""

    @abstractmethod
    async def add_label(self, conversation_id: str, name: str, now: datetime, most: int) -> ConversationView:
        """Put a label on a conversation (made, if it is new); a label it has already
        changes nothing. ``NotFound`` for an unknown conversation, ``ConflictError``
        when it has ``most`` labels already.

        Lock: the conversation's row ``FOR UPDATE`` from the count of its labels to the insert."""

    @abstractmethod
    async def remove_label(self, conversation_id: str, name: str) -> ConversationView:
        """``NotFound`` for an unknown conversation or a label it does not have.

        Single statement: the DELETE, whose row count says whether it had it."""

    @abstractmethod
    async def snooze(self, conversation_id: str, until: datetime) -> ConversationView:
        """Hide an open conversation from the open views until ``until``.
        ``NotFound`` for an unknown conversation, ``ConflictError`` for a resolved one.

        Single statement: a conditional UPDATE (not resolved)."""

    @abstractmethod
    async def wake(self, conversation_id: str) -> ConversationView | None:
        """End a conversation's snooze now; None when it was not snoozed.

        Single statement: a conditional UPDATE (snoozed)."""

    @abstractmethod
    async def wake_due(self, now: datetime, limit: int) -> list[ConversationView]:
        """End the snoozes due by ``now`` (at most ``limit``): the conversations woken.

        Single statement: an UPDATE ... RETURNING of the due rows (a row another
        writer woke meanwhile no longer matches)."""

    @abstractmethod
    async def next_wake(self) -> datetime | None:
        """When the earliest snooze ends; None when nothing is snoozed."""
