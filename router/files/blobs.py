"""Where a file's bytes live: a narrow protocol, and the embedded default, a
folder on this node's disk (``files.folder``, ``var/files``). The scale-out
option, a bucket every node shares, is ``router.files.s3``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from abc import abstractmethod
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

CHUNK = 64 * 1024
# what a key may be: the ids ``new_id`` makes, nothing that could climb out of a folder
_KEY = re.compile(r"^[a-z]+_[0-9a-f]{20}$")


class BlobMissing(Exception):
    """No bytes under that key (deleted, or never stored on this backend)."""


class BlobUnavailable(Exception):
    """The storage could not be reached or refused (a bucket down, a full
    disk): trying again later may work."""


def check_key(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError(f"{key!r} is not a file key")
    return key


class BlobStorage(Protocol):
    """Bytes by key. ``put`` takes a finished local file and owns it from
    then on (moved or uploaded, then gone), so a half-written upload is never
    visible under its key."""

    where: str

    @abstractmethod
    async def open(self) -> None:
        """Make it ready (create the folder, reach the bucket)."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def put(self, key: str, path: Path, content_type: str) -> None:
        """``BlobUnavailable`` when it could not be stored; ``path`` is gone either way."""

    @abstractmethod
    def chunks(self, key: str) -> AsyncIterator[bytes]:
        """The bytes in pieces of at most ``CHUNK``; ``BlobMissing``, ``BlobUnavailable``."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """No error for a key that is not there."""

    @abstractmethod
    def spool_dir(self) -> Path:
        """Where an upload is written while it arrives (for a folder: on its
        disk, so ``put`` is a rename)."""


async def read_all(storage: BlobStorage, key: str) -> bytes:
    return b"".join([chunk async for chunk in storage.chunks(key)])


class LocalFolder(BlobStorage):
    """One file per key in a folder; uploads arrive in its ``.incoming``
    subfolder and are renamed into place whole."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.where = str(root)

    async def open(self) -> None:
        await asyncio.to_thread(self._ready)

    def _ready(self) -> None:
        spool = self.spool_dir()
        spool.mkdir(parents=True, exist_ok=True)
        # one node owns a folder: what is still arriving at its start is a crashed upload's remains
        for left in spool.glob("*.part"):
            with contextlib.suppress(OSError):
                left.unlink()

    async def close(self) -> None:
        return None

    def spool_dir(self) -> Path:
        return self.root / ".incoming"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, path: Path, content_type: str) -> None:
        target = self._path(key)
        try:
            await asyncio.to_thread(os.replace, path, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(path.unlink)
            raise BlobUnavailable(f"the files folder {self.root}: {exc.strerror or exc}") from exc

    async def chunks(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise BlobMissing(key) from None
        except OSError as exc:
            raise BlobUnavailable(f"the files folder {self.root}: {exc.strerror or exc}") from exc
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        except OSError as exc:  # the disk failed half-way: the storage's fault, typed as at the open
            raise BlobUnavailable(f"the files folder {self.root}: {exc.strerror or exc}") from exc
        finally:
            await asyncio.to_thread(handle.close)

    async def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self._path(key).unlink)
