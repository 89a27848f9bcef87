"""Persistence behind one narrow async interface (``Store``)."""

from router.store.base import (
    ConflictError,
    Ingested,
    NotFound,
    ReleasedOffer,
    Store,
    StoreError,
    StoreUnavailable,
)

__all__ = ["ConflictError", "Ingested", "NotFound", "ReleasedOffer", "Store", "StoreError", "StoreUnavailable"]
