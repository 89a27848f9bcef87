"""The service with its files in an S3 bucket (a real S3 server on a local
port): what an agent uploads lands in the bucket, never on the node's disk,
and with several nodes on one PostgreSQL database, a file uploaded through
one node is served by another."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from router.config import Settings
from router.files.config import S3Config
from router.server.app import DATABASE_URL
from tests.agents_ui.conftest import login
from tests.conftest import AppClient
from tests.fakes.s3_server import ACCESS_KEY, REGION, SECRET_KEY, FakeS3
from tests.router.files.test_sniff import PNG


@pytest.fixture
def s3_settings(settings: Settings, s3_server: FakeS3, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("OMNIROUTER_S3_ACCESS_KEY", ACCESS_KEY)
    monkeypatch.setenv("OMNIROUTER_S3_SECRET_KEY", SECRET_KEY)
    settings.connectors = {}
    settings.files.backend = "s3"
    settings.files.s3 = S3Config(bucket=s3_server.new_bucket(), endpoint_url=s3_server.endpoint_url, region=REGION,
                                 prefix="shop/")
    return settings


def form(body: bytes, name: str) -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("file", body, filename=name, content_type="image/png")
    return data


async def test_an_upload_lands_in_the_bucket_and_not_on_the_disk(
        make_client: AppClient, s3_settings: Settings, s3_server: FakeS3, tmp_path: Path) -> None:
    client = await make_client(s3_settings)
    await login(client)
    resp = await client.post("/api/files", data=form(PNG, "box.png"))
    assert resp.status == 201, await resp.text()
    file_id = (await resp.json())["file"]["id"]
    assert s3_settings.files.s3 is not None
    assert s3_server.keys(s3_settings.files.s3.bucket) == [f"shop/{file_id}"]
    assert not (tmp_path / "var" / "files").exists()
    got = await client.get(f"/api/files/{file_id}")
    assert got.status == 200 and await got.read() == PNG


async def test_a_file_uploaded_through_one_node_is_served_by_another(
        make_client: AppClient, s3_settings: Settings, pg_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATABASE_URL, pg_database)
    s3_settings.store.backend = "postgres"
    one = await make_client(s3_settings)
    two = await make_client(s3_settings)
    await login(one)
    await login(two)
    file_id = (await (await one.post("/api/files", data=form(PNG, "box.png"))).json())["file"]["id"]
    got = await two.get(f"/api/files/{file_id}")
    assert got.status == 200 and await got.read() == PNG
    assert got.headers["Content-Disposition"].startswith("inline")
