"""Persistence behind one narrow async interface (``Store``)."""

from router.store.base import (
    BackendError,
    ConflictError,
    Ingested,
    IntegrityViolation,
    NotFound,
    ReleasedOffer,
    Store,
    StoreError,
    StoreUnavailable,
)

__all__ = ["ConflictError", "Ingested", "NotFound", "ReleasedOffer", "Store", "StoreError", "StoreUnavailable"]
# the errors a driver's own become (router/store/sqlite_faults.py): no driver's error crosses the contract
__all__ += ["BackendError", "IntegrityViolation"]
