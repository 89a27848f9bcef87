"""The file storage's place in the app: built from ``files:`` of the config,
opened before the connectors start, closed after they stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from router.aio import cancel_and_wait
from router.appkeys import FILES, SETTINGS, STORE
from router.config import Settings
from router.files.blobs import BlobStorage, LocalFolder
from router.files.service import Files
from router.redaction import register
from router.server.cluster import LEADERSHIP
from router.store.base import Store
from router.store.errors import StoreError

log = logging.getLogger(__name__)

SWEEP_EVERY = 3600.0


def make_blobs(settings: Settings, base_dir: Path) -> BlobStorage:
    config = settings.files
    if config.backend == "s3" and config.s3 is not None:
        # aiobotocore is imported only where a bucket is configured
        from router.files.s3 import S3Bucket  # noqa: PLC0415

        register(config.s3.credentials())  # kept out of every log line
        return S3Bucket(config.s3)
    folder = Path(config.folder)
    return LocalFolder(folder if folder.is_absolute() else base_dir / folder)


def make_files(settings: Settings, store: Store, base_dir: Path) -> Files:
    return Files(store, make_blobs(settings, base_dir), settings.files, store)


async def files_ctx(app: web.Application) -> AsyncIterator[None]:
    files = app[FILES]
    await files.blobs.open()
    log.info("files are kept in %s (up to %d bytes each)", files.blobs.where, files.config.max_bytes)
    if files.config.backend == "folder" and app[SETTINGS].store.backend == "postgres":
        # one node may run on PostgreSQL; with several, a file on one node's disk is gone for the others
        log.warning("files are kept on this node's disk (files.backend: folder): with several nodes, set "
                    "files.backend: s3, a bucket every node shares")
    # one node of the cluster deletes the files no message refers to
    sweeper = asyncio.create_task(app[LEADERSHIP].run("files-sweep", lambda: _sweep(files)), name="files-sweep")
    try:
        yield
    finally:
        await cancel_and_wait(sweeper)
        await files.blobs.close()


async def _sweep(files: Files) -> None:
    while True:
        try:
            gone = await files.sweep_unreferenced()
        except StoreError as exc:  # an outage the store logs once; the next sweep catches up
            log.debug("sweeping unreferenced files failed: %s", exc)
        else:
            if gone:
                log.info("files: %d files no message refers to deleted", gone)
        await asyncio.sleep(SWEEP_EVERY)


__all__ = ["FILES", "STORE", "files_ctx", "make_files"]
