"""The installation's secrets, as a store protocol of its own: the one
thing codes, the site chat and the connectors' host need of the store
besides their slices'."""

from __future__ import annotations

from abc import abstractmethod
from typing import Protocol


class SecretStore(Protocol):
    @abstractmethod
    async def secret(self, name: str) -> bytes:
        """The installation's named secret (signing keys, the pepper of codes),
        a random one made and kept on first use."""
