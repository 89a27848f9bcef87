"""Persistence behind one narrow async interface (``Store``)."""

from router.store.base import ConflictError, NotFound, Store, StoreError

__all__ = ["ConflictError", "NotFound", "Store", "StoreError"]
