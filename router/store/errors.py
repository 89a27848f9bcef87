"""The store's typed errors: what a caller can act on, whatever the backend.

A driver's own errors never cross the Store contract: the engine turns each
into one of these (``router.store.sqlite_faults``)."""

from __future__ import annotations


class StoreError(Exception):
    pass


class NotFound(StoreError):
    pass


class ConflictError(StoreError):
    """A uniqueness rule or an expected state did not hold."""


class AnsweredMeanwhile(ConflictError):
    """A bot turn's answer (or handoff) refused: the conversation got another
    answer after the turn read what it answers (another node's turn, an
    agent). Nothing was stored; the turn runs again on what is unanswered now."""


class AlreadyRouted(ConflictError):
    """A message to route was put in a conversation by another step since it
    was read unrouted (another node's ingest, a starting node's resume):
    that step tells everyone; nothing was changed."""

    def __init__(self, conversation_id: str) -> None:
        super().__init__(conversation_id)  # its one argument: it crosses the SQLite writer's process as it is
        self.conversation_id = conversation_id

    def __str__(self) -> str:
        return f"the message is in conversation {self.conversation_id} already"


class UnansweredMessages(ConflictError):
    """A resolve refused: the customer wrote after the last message the agent
    saw (``count`` messages), e.g. while the Resolve click was on its way.
    Nothing changed; resolving without naming a seen message confirms."""

    def __init__(self, count: int) -> None:
        super().__init__(count)  # its one argument: it crosses the SQLite writer's process as it is
        self.count = count

    def __str__(self) -> str:
        return f"the customer wrote {self.count} message(s) since the last one seen"


class StoreUnavailable(StoreError):
    """The store cannot take a write now (the disk is full, the files are
    read-only, the database is locked or gone): an outage, not a bug. The
    caller answers 503 with ``reason`` and the sender retries later; nothing
    was stored by the call that raised it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IntegrityViolation(ConflictError):
    """A write broke a rule of the schema: a unique key already taken, a row
    naming one that does not exist. Nothing of the call was stored. The
    backend's own words (which rule) are in the message."""


class StoreMisconfigured(StoreError):
    """The store's address cannot be used as it is written (a malformed
    PostgreSQL URL): no connection was tried, and none will work until the
    configuration changes. The driver's words are in the message."""


class SchemaTooNew(StoreError, RuntimeError):
    """The database's schema is newer than this omnirouter's: a newer release
    migrated it, and an older one was started again (a rollback). Nothing was
    changed; the message, one line naming the database and both versions, is
    for the terminal. A RuntimeError too, as it was before it had a type."""

    def __init__(self, where: str, version: int, latest: int) -> None:
        super().__init__(f"{where} has schema version {version}, newer than this omnirouter ({latest}); "
                         "upgrade omnirouter")
        self.where, self.version, self.latest = where, version, latest

    def __reduce__(self) -> tuple[type[SchemaTooNew], tuple[str, int, int]]:
        # it crosses the SQLite writer's process: rebuilt from its three arguments, not from its message
        return type(self), (self.where, self.version, self.latest)


class BackendError(StoreError):
    """The backend refused a call for a reason that is neither an outage nor
    a conflict (a statement that does not fit the schema, a driver misused):
    a bug to report, not a state to retry. The driver's words are in the message."""
