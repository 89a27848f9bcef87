"""asyncpg's errors turned into the store's own at its boundary, as
``sqlite_faults`` does for SQLite: the server gone, refusing or out of room
into ``StoreUnavailable``; a broken rule of the schema into
``IntegrityViolation``; anything else into ``BackendError`` (our bug). A
deadlock or a serialisation failure is retried by the engine first
(``RETRIED``)."""

from __future__ import annotations

import asyncpg
from asyncpg import exceptions as pg

from router.store.errors import BackendError, IntegrityViolation, StoreError, StoreUnavailable

# aborted by the server so that another transaction could go on: run the unit again
RETRIED = (pg.DeadlockDetectedError, pg.SerializationError)
# everything the driver and the network raise, each turned into the store's own by ``translated``.
# InternalClientError: a pooled connection the server has just ended (a restart, a failover,
# pg_terminate_backend) still reads as busy with its last statement until the pool drops it
DRIVER_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)

_UNAVAILABLE: dict[type[BaseException], str] = {
    pg.InvalidAuthorizationSpecificationError: "the database refused the login",
    pg.InvalidPasswordError: "the database refused the password",
    pg.InvalidCatalogNameError: "the database does not exist",
    pg.TooManyConnectionsError: "the database has no connection left",
    pg.DiskFullError: "the database's disk is full",
    pg.OutOfMemoryError: "the database is out of memory",
    pg.InsufficientResourcesError: "the database is out of resources",
    pg.ReadOnlySQLTransactionError: "the database is read-only (a standby?)",
    pg.CannotConnectNowError: "the database is starting up or shutting down",
    pg.OperatorInterventionError: "the database is shutting down",
    pg.PostgresConnectionError: "the connection to the database was lost",
    pg.ConnectionDoesNotExistError: "the connection to the database was lost",
    pg.QueryCanceledError: "the database cancelled the statement",
    pg.LockNotAvailableError: "a lock was not granted in time",
    pg.PostgresIOError: "the database's disk failed a read or a write",
    pg.DataCorruptedError: "the database's files are damaged",
}


def translated(exc: BaseException) -> StoreError:
    """The store's error for a driver's or the network's."""
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, pg.IntegrityConstraintViolationError):
        return IntegrityViolation(str(exc))
    for kind, reason in _UNAVAILABLE.items():
        if isinstance(exc, kind):
            return StoreUnavailable(f"{reason} ({exc})")
    if isinstance(exc, TimeoutError):
        return StoreUnavailable("the database did not answer in time")
    if isinstance(exc, OSError):
        return StoreUnavailable(f"the database cannot be reached ({exc.strerror or exc})")
    if isinstance(exc, asyncpg.InternalClientError):
        return StoreUnavailable(f"the connection to the database broke, ended by the server? ({exc})")
    if isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc):
        return StoreUnavailable(f"the connection to the database was closed ({exc})")
    if isinstance(exc, RETRIED):
        return BackendError(f"aborted again and again, a lock order broken: {exc}")
    return BackendError(f"{type(exc).__name__}: {exc}")
