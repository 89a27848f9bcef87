"""The identity slice's errors a caller can act on (they cross the writer
process's pipe, so each pickles)."""

from __future__ import annotations

from typing import Any

from router.identity.types import KeyRef
from router.store.errors import ConflictError


class KeyShared(ConflictError):
    """A phone/email held by more than one customer cannot say which one a write is for."""

    def __init__(self, key: KeyRef, customers: tuple[str, ...]) -> None:
        super().__init__(f"{key.kind} {key.value} is held by {len(customers)} customers ({', '.join(customers)})")
        self.key = key
        self.customers = customers

    def __reduce__(self) -> tuple[Any, ...]:  # crosses the writer process's pipe
        return (KeyShared, (self.key, self.customers))
