"""The blob storage contract, on both storages: a folder on this node's disk
and an S3 bucket on a real S3 server (moto's, on a local port). Several
nodes share a bucket; each sees what another stored."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from router.files.blobs import CHUNK, BlobMissing, BlobStorage, BlobUnavailable, LocalFolder, read_all
from router.files.config import S3Config
from router.files.s3 import PART_BYTES, S3Bucket
from router.models import new_id
from tests.fakes.s3_server import ACCESS_KEY, REGION, SECRET_KEY, FakeS3

Make = Callable[[], BlobStorage]


@pytest.fixture
def s3_config(s3_server: FakeS3, monkeypatch: pytest.MonkeyPatch) -> S3Config:
    monkeypatch.setenv("OMNIROUTER_S3_ACCESS_KEY", ACCESS_KEY)
    monkeypatch.setenv("OMNIROUTER_S3_SECRET_KEY", SECRET_KEY)
    return S3Config(bucket=s3_server.new_bucket(), endpoint_url=s3_server.endpoint_url, region=REGION)


@pytest.fixture(params=["folder", "s3"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Make:
    if request.param == "folder":
        return lambda: LocalFolder(tmp_path / "files")
    config: S3Config = request.getfixturevalue("s3_config")
    return lambda: S3Bucket(config, spool=tmp_path / "spool")


@pytest.fixture
async def blobs(make: Make) -> AsyncIterator[BlobStorage]:
    storage = make()
    await storage.open()
    yield storage
    await storage.close()


async def _put(storage: BlobStorage, key: str, body: bytes) -> Path:
    path = storage.spool_dir() / f"{key}.part"
    path.write_bytes(body)
    await storage.put(key, path, "application/octet-stream")
    return path


async def test_what_is_put_is_read_back_whole_in_chunks(blobs: BlobStorage) -> None:
    key = new_id("file")
    body = bytes(range(256)) * (CHUNK // 256 * 3 + 7)  # over three chunks
    spooled = await _put(blobs, key, body)
    assert not spooled.exists()  # the storage owns the upload from then on
    chunks = [c async for c in blobs.chunks(key)]
    assert b"".join(chunks) == body
    assert all(len(c) <= CHUNK for c in chunks)


async def test_a_missing_key_is_missing_and_delete_is_idempotent(blobs: BlobStorage) -> None:
    key = new_id("file")
    with pytest.raises(BlobMissing):
        await read_all(blobs, key)
    await _put(blobs, key, b"x")
    await blobs.delete(key)
    await blobs.delete(key)
    with pytest.raises(BlobMissing):
        await read_all(blobs, key)


async def test_a_key_that_could_climb_out_of_the_folder_is_refused(blobs: BlobStorage) -> None:
    with pytest.raises(ValueError, match="not a file key"):
        await read_all(blobs, "../omnirouter.db")


async def test_two_nodes_on_one_bucket_see_each_others_files(s3_config: S3Config, tmp_path: Path) -> None:
    one, two = S3Bucket(s3_config, spool=tmp_path / "a"), S3Bucket(s3_config, spool=tmp_path / "b")
    await one.open()
    await two.open()
    try:
        key = new_id("file")
        await _put(one, key, b"%PDF-1.7 invoice")
        assert await read_all(two, key) == b"%PDF-1.7 invoice"
    finally:
        await one.close()
        await two.close()


async def test_a_bucket_that_is_not_there_is_unavailable_and_the_upload_is_gone(
        s3_config: S3Config, tmp_path: Path) -> None:
    bucket = S3Bucket(s3_config.model_copy(update={"bucket": "no-such-bucket"}), spool=tmp_path / "spool")
    await bucket.open()  # the service still starts: a warning, not a crash
    try:
        with pytest.raises(BlobUnavailable, match="NoSuchBucket"):
            await _put(bucket, new_id("file"), b"data")
        assert list((tmp_path / "spool").iterdir()) == []
    finally:
        await bucket.close()


async def test_a_file_over_one_part_goes_up_in_parts_and_comes_back_whole(s3_config: S3Config, tmp_path: Path) -> None:
    bucket = S3Bucket(s3_config, spool=tmp_path / "spool")
    await bucket.open()
    try:
        key = new_id("file")
        body = bytes(range(251)) * (PART_BYTES * 2 // 251 + 1000)  # three parts, the last a short one
        await _put(bucket, key, body)
        assert await read_all(bucket, key) == body
    finally:
        await bucket.close()


async def test_a_crashed_uploads_remains_are_cleared_when_the_folder_opens(tmp_path: Path) -> None:
    folder = LocalFolder(tmp_path / "files")
    await folder.open()
    (folder.spool_dir() / f"{new_id('file')}.part").write_bytes(b"half an upload")
    await folder.close()
    await LocalFolder(tmp_path / "files").open()
    assert list(folder.spool_dir().iterdir()) == []
