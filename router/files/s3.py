"""The scale-out file storage: an S3-compatible bucket that every node shares
(AWS S3, MinIO, Ceph, Yandex Object Storage…), through aiobotocore, the
asyncio client boto3's own maintainers' botocore runs under. Keys are
``<prefix><file id>``; credentials come from the environment variables that
``files.s3`` names."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, BinaryIO

from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from router.files.blobs import CHUNK, BlobMissing, BlobStorage, BlobUnavailable, check_key
from router.files.config import S3Config

log = logging.getLogger(__name__)

_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
# S3's multipart parts are at least 5 MiB (but the last)
PART_BYTES = 8 * 1024**2


def _reason(exc: BotoCoreError | ClientError) -> str:
    """The error's kind in our words: botocore's message may name the endpoint's URL with its query."""
    if isinstance(exc, ClientError):
        return f"the bucket answered {exc.response.get('Error', {}).get('Code', 'an error')}"
    return f"the bucket could not be reached ({type(exc).__name__})"


class S3Bucket(BlobStorage):
    def __init__(self, options: S3Config, spool: Path | None = None) -> None:
        self.options = options
        self.where = f"bucket {options.bucket}"
        self._spool = spool or Path(tempfile.gettempdir()) / "omnirouter-uploads"
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None

    async def open(self) -> None:
        access, secret = self.options.credentials()
        session = get_session()
        self._client = await self._stack.enter_async_context(session.create_client(
            "s3", region_name=self.options.region, endpoint_url=self.options.endpoint_url,
            aws_access_key_id=access, aws_secret_access_key=secret,
            # path-style addressing: MinIO and most self-hosted servers have no per-bucket host names
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"},
                          connect_timeout=10, read_timeout=60),
        ))
        await asyncio.to_thread(self._spool.mkdir, parents=True, exist_ok=True)
        try:
            await self._client.head_bucket(Bucket=self.options.bucket)
        except (BotoCoreError, ClientError) as exc:
            # the service still starts: files wait, the rest of the router does not
            log.warning("files: %s is not usable yet: %s", self.where, _reason(exc))

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None

    def spool_dir(self) -> Path:
        return self._spool

    def _key(self, key: str) -> str:
        return self.options.prefix + check_key(key)

    async def put(self, key: str, path: Path, content_type: str) -> None:
        """Read from disk in a worker thread, a part at a time: one PUT for a
        small file, a multipart upload of ``PART_BYTES`` parts for a large one
        (never the whole file in memory, never a disk read on the event loop)."""
        try:
            with await asyncio.to_thread(path.open, "rb") as body:
                first = await asyncio.to_thread(body.read, PART_BYTES)
                second = await asyncio.to_thread(body.read, PART_BYTES)
                if not second:
                    await self._client.put_object(Bucket=self.options.bucket, Key=self._key(key), Body=first,
                                                  ContentType=content_type)
                else:
                    await self._multipart(self._key(key), content_type, [first, second], body)
        except (BotoCoreError, ClientError) as exc:
            raise BlobUnavailable(f"{self.where}: {_reason(exc)}") from exc
        finally:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(path.unlink)

    async def _multipart(self, key: str, content_type: str, read: list[bytes], body: BinaryIO) -> None:
        bucket = self.options.bucket
        upload = await self._client.create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type)
        upload_id = upload["UploadId"]
        parts = []
        try:
            number = 0
            while read:
                number += 1
                done = await self._client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number,
                                                      Body=read.pop(0))
                parts.append({"PartNumber": number, "ETag": done["ETag"]})
                if not read and (more := await asyncio.to_thread(body.read, PART_BYTES)):
                    read.append(more)
            await self._client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                                         MultipartUpload={"Parts": parts})
        except BaseException:
            with contextlib.suppress(BotoCoreError, ClientError):
                await self._client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            raise

    async def chunks(self, key: str) -> AsyncIterator[bytes]:
        try:
            answer = await self._client.get_object(Bucket=self.options.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                raise BlobMissing(key) from None
            raise BlobUnavailable(f"{self.where}: {_reason(exc)}") from exc
        except BotoCoreError as exc:
            raise BlobUnavailable(f"{self.where}: {_reason(exc)}") from exc
        async with answer["Body"] as stream:
            while chunk := await stream.read(CHUNK):
                yield chunk

    async def delete(self, key: str) -> None:
        try:
            await self._client.delete_object(Bucket=self.options.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as exc:
            raise BlobUnavailable(f"{self.where}: {_reason(exc)}") from exc
