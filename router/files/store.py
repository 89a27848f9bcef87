"""What the files need from a store: one row per stored file. ``Store``
inherits it. The bytes are not here: they are the ``BlobStorage``'s."""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime
from typing import Protocol

from router.files.types import StoredFile


class FileStore(Protocol):
    @abstractmethod
    async def add_file(self, file: StoredFile) -> None:
        """``ConflictError`` for an id in use. Single statement: the INSERT."""

    @abstractmethod
    async def get_file(self, file_id: str) -> StoredFile:
        """``NotFound`` for an unknown id."""

    @abstractmethod
    async def get_files(self, file_ids: list[str]) -> list[StoredFile]:
        """Those of ``file_ids`` that exist, in no particular order."""

    @abstractmethod
    async def delete_file(self, file_id: str) -> None:
        """Forget a file's row (no error for an unknown id). Single statement: the DELETE."""

    @abstractmethod
    async def unreferenced_files(self, since: datetime, before: datetime, limit: int) -> list[StoredFile]:
        """Files stored in ``[since, before)`` that no message's attachments
        name (an agent's upload never sent), oldest first, at most ``limit``.
        Reads every message with attachments since ``since``: for an hourly sweep."""
