"""Persistence behind one narrow async interface (``Store``)."""

from router.ingest.store import Ingested
from router.store.base import Store
from router.store.errors import BackendError, ConflictError, IntegrityViolation, NotFound, StoreError, StoreUnavailable

__all__ = ["ConflictError", "Ingested", "NotFound", "Store", "StoreError", "StoreUnavailable"]
# what a driver's errors become (router/store/engine.py): no driver's error crosses the contract
__all__ += ["BackendError", "IntegrityViolation"]
