"""The files' rules: what is kept (size, types sniffed from the bytes, no
disguises), where (the blob storage, then its row), and how it is read and
linked. ``Files`` is also what connectors get as ``Connector.files``."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO
from urllib.parse import unquote

from router.connector import FileAccess, FileRefused, FileUnavailable, MediaFile
from router.controls import file_name
from router.files.blobs import BlobMissing, BlobStorage, BlobUnavailable, read_all
from router.files.config import FilesConfig
from router.files.names import fit_name
from router.files.signing import SECRET_NAME, signed_path, valid
from router.files.sniff import HEAD_BYTES, forged, sniff
from router.files.store import FileStore
from router.files.types import StoredFile
from router.models import Attachment, new_id
from router.store.errors import NotFound, StoreError, StoreUnavailable
from router.store.secrets import SecretStore

log = logging.getLogger(__name__)

# how far before the unreferenced age the sweep looks: a node down for a week leaves older ones be
SWEEP_LOOKBACK = timedelta(days=7)


def clean_name(name: str | None) -> str:
    """A file name fit for a header and a disk: its last path part, without
    control characters, cut to length; "file" when nothing is left. Browsers
    send a multipart name in UTF-8 as is; other clients (aiohttp, some mobile
    libraries) percent-encode it, which is undone."""
    if name and "%" in name:
        with contextlib.suppress(UnicodeDecodeError):
            name = unquote(name, errors="strict")
    # a dot to start hides a file, and Windows drops one at the end
    return file_name(name or "").strip(".") or "file"


class _Spool:
    """An upload on its way in: written to a file in the storage's spool
    folder chunk by chunk (never whole in memory), counted and hashed."""

    def __init__(self, folder: Path, key: str, limit: int) -> None:
        self.path = folder / f"{key}.part"
        self.limit = limit
        self.size = 0
        self.head = b""
        self.sha = hashlib.sha256()
        self._handle: IO[bytes] | None = None

    async def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise FileRefused(413, "file_too_large", f"the file is larger than {self.limit} bytes",
                              {"limit": self.limit, "limit_mb": math.floor(self.limit / 1024**2 * 10) / 10})
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - len(self.head)]
        self.sha.update(chunk)
        await self._on_disk(self._write, chunk)

    async def finish(self) -> None:
        await self._on_disk(self._close)

    def _write(self, chunk: bytes) -> None:
        if self._handle is None:
            self._handle = self.path.open("wb")
        self._handle.write(chunk)

    def _close(self) -> None:
        if self._handle is None:
            self._handle = self.path.open("wb")
        self._handle.close()

    @staticmethod
    async def _on_disk(step: Callable[..., None], *args: bytes) -> None:
        """A step of writing the spool, off the event loop; its disk full, read-only or failing is
        ``FileUnavailable`` (503, try again), not a fault of ours (500 with a traceback each time)."""
        try:
            await asyncio.to_thread(step, *args)
        except OSError as exc:
            log.warning("files: an upload was not kept: %s", exc.strerror or exc)
            raise FileUnavailable(f"the file could not be written ({exc.strerror or exc}); try again in a moment",
                                  transient=True) from None

    async def discard(self) -> None:
        # closing flushes what is buffered: on a full disk that fails as the write did
        with contextlib.suppress(OSError):
            if self._handle is not None:
                await asyncio.to_thread(self._handle.close)
        with contextlib.suppress(OSError):
            await asyncio.to_thread(self.path.unlink)


class Files(FileAccess):
    def __init__(self, store: FileStore, blobs: BlobStorage, config: FilesConfig, secrets: SecretStore,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.blobs = blobs
        self.config = config
        self._secrets = secrets
        self._secret: bytes | None = None
        self._clock = clock

    @property
    def max_bytes(self) -> int:
        return self.config.max_bytes

    # -- keeping ---------------------------------------------------------------------------
    async def accept(self, chunks: AsyncIterator[bytes], name: str | None, declared_type: str | None,
                     uploaded_by: str) -> StoredFile:
        """Keep an upload whole or not at all: ``FileRefused`` (413 over the
        size limit, 415 for a type not allowed or a disguise) keeps nothing."""
        file_id = new_id("file")
        spool = _Spool(self.blobs.spool_dir(), file_id, self.config.max_bytes)
        name = clean_name(name)
        try:
            async for chunk in chunks:
                await spool.write(chunk)
            await spool.finish()
            content_type = self._checked_type(name, declared_type, spool.head)
        except BaseException:
            await spool.discard()
            raise
        # the name says what the bytes are: report.html that is text is report.txt
        stored = StoredFile(id=file_id, name=fit_name(name, content_type), content_type=content_type, size=spool.size,
                            sha256=spool.sha.hexdigest(), uploaded_by=uploaded_by, created_at=self._clock())
        try:
            await self.blobs.put(file_id, spool.path, content_type)
        except BlobUnavailable as exc:
            log.warning("files: an upload was not stored: %s", exc)
            raise FileUnavailable("the file storage is unavailable; try again in a moment", transient=True) from exc
        try:
            await self.store.add_file(stored)
        except BaseException as exc:
            with contextlib.suppress(BlobUnavailable):
                await self.blobs.delete(file_id)
            if isinstance(exc, StoreUnavailable):  # an outage of the store: try again, as for the disk's
                raise FileUnavailable(f"the file could not be recorded ({exc.reason}); try again in a moment",
                                      transient=True) from exc
            raise
        log.info("files: %s stored (%s, %d bytes) for %s", file_id, content_type, stored.size, uploaded_by)
        return stored

    def _checked_type(self, name: str, declared_type: str | None, head: bytes) -> str:
        sniffed = sniff(head)
        if forged(name, declared_type, sniffed):
            log.info("files: an upload named as %s is %s: refused (code file_type_forged)",
                     declared_type or name.rsplit(".", 1)[-1], sniffed)
            raise FileRefused(415, "file_type_forged", f"the file's contents are {sniffed}, not what its name or "
                              "type says", {"type": sniffed})
        if sniffed not in self.config.allowed_types:
            raise FileRefused(415, "file_type_not_allowed", f"files of type {sniffed} are not accepted",
                              {"type": sniffed})
        return sniffed

    async def save(self, chunks: AsyncIterator[bytes], name: str, declared_type: str | None,
                   uploaded_by: str) -> Attachment:
        return (await self.accept(chunks, name, declared_type, uploaded_by)).attachment()

    async def discard(self, attachment: Attachment) -> None:
        """Delete a just-saved file no message refers to: its bytes, then its row."""
        if attachment.file is None:
            return
        try:
            await self.blobs.delete(attachment.file)
            await self.store.delete_file(attachment.file)
        except (BlobUnavailable, StoreError) as exc:
            log.warning("files: %s was not deleted (%s); it stays unreferenced", attachment.file, exc)
            return
        log.info("files: %s deleted (no message refers to it)", attachment.file)

    async def sweep_unreferenced(self, batch: int = 200) -> int:
        """Delete files no message names, older than ``unreferenced_hours`` (looking
        back a week past that, so each sweep reads a bounded span); how many went."""
        before = self._clock() - timedelta(hours=self.config.unreferenced_hours)
        gone = 0
        for file in await self.store.unreferenced_files(before - SWEEP_LOOKBACK, before, batch):
            await self.discard(file.attachment())
            gone += 1
        return gone

    # -- reading -----------------------------------------------------------------------------
    async def get(self, file_id: str) -> StoredFile:
        """``NotFound`` for an unknown id."""
        return await self.store.get_file(file_id)

    async def chunks(self, file: StoredFile) -> AsyncGenerator[bytes, None]:
        """The bytes in pieces; ``FileUnavailable`` before the first when they
        cannot be read, and half-way when they stop: gone for good (not
        ``transient``: the send is dead-lettered) or the storage is down."""
        stream = self.blobs.chunks(file.id)
        try:
            first = await anext(stream, b"")
            yield first
            async for chunk in stream:
                yield chunk
        except BlobMissing:
            raise FileUnavailable(f"file {file.id} is gone from the storage") from None
        except BlobUnavailable as exc:
            raise FileUnavailable(str(exc), transient=True) from exc

    async def _stored(self, attachment: Attachment) -> StoredFile:
        if attachment.file is None:
            raise FileUnavailable("the attachment is no stored file")
        try:
            return await self.store.get_file(attachment.file)
        except NotFound:
            raise FileUnavailable(f"file {attachment.file} does not exist") from None

    async def read(self, attachment: Attachment) -> MediaFile:
        """The bytes whole: for what must hold them (a MIME part, vk-api's requests upload)."""
        file = await self._stored(attachment)
        try:
            body = await read_all(self.blobs, file.id)
        except BlobMissing:
            raise FileUnavailable(f"file {file.id} is gone from the storage") from None
        except BlobUnavailable as exc:
            raise FileUnavailable(str(exc), transient=True) from exc
        return MediaFile(body=body, content_type=file.content_type)

    async def stream(self, attachment: Attachment) -> tuple[int, AsyncIterator[bytes]]:
        file = await self._stored(attachment)
        chunks = self.chunks(file)
        first = await anext(chunks)  # FileUnavailable now, not half-way through a platform's upload

        async def pieces() -> AsyncIterator[bytes]:
            yield first
            async for chunk in chunks:
                yield chunk

        return file.size, pieces()

    # -- links ---------------------------------------------------------------------------------
    async def _link_secret(self) -> bytes:
        if self._secret is None:
            self._secret = await self._secrets.secret(SECRET_NAME)
        return self._secret

    async def link(self, attachment: Attachment) -> str:
        if attachment.file is None:
            raise FileUnavailable("the attachment is no stored file")
        # rounded up to the hour: the same file linked within an hour gets the same URL (caches, retries)
        expires = (math.ceil(time.time() / 3600) * 3600) + self.config.link_seconds
        return signed_path(await self._link_secret(), attachment.file, expires)

    async def link_valid(self, file_id: str, expires: int, signature: str) -> bool:
        return valid(await self._link_secret(), file_id, expires, signature, time.time())
