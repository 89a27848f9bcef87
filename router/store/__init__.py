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
# what a driver's errors become (router/store/engine.py): no driver's error crosses the contract
__all__ += ["BackendError", "IntegrityViolation"]
