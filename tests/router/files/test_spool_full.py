"""An upload on a full disk is refused as an outage: 503, try again, one
line in the log. Its spool file raised ENOSPC straight through, and each
upload, the widget's or an agent's, got a bare 500 ("Server got itself in
trouble") with a traceback in the log. The disk is full for real here: the
upload's spool file is /dev/full, whose every write the kernel refuses with
ENOSPC."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import aiohttp
import pytest

import router.files.service as files_service
from router.appkeys import FILES
from router.config import Settings
from tests.agents_ui.conftest import login
from tests.conftest import AppClient
from tests.connectors.test_files_roundtrip import visitor_upload
from tests.connectors.webchat_helpers import hello, tab, webchat_settings
from tests.refusal import stored
from tests.router.files.test_sniff import PDF

FILE_IDS = ["file_0123456789abcdef0123", "file_0123456789abcdef0124"]  # the two uploads'
BODY = PDF + b"\0" * 300_000  # over a buffer: written while it arrives


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    spool = tmp_path / "spool"
    spool.mkdir()
    for file_id in FILE_IDS:  # each upload's spool file: every write is ENOSPC
        (spool / f"{file_id}.part").symlink_to("/dev/full")
    ids = iter(FILE_IDS)
    monkeypatch.setattr(files_service, "new_id", lambda prefix: next(ids))
    return spool


async def test_an_upload_on_a_full_disk_is_503_not_a_500_with_a_traceback(
    make_client: AppClient, settings: Settings, full_disk: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = await make_client(webchat_settings(settings))
    monkeypatch.setattr(client.app[FILES].blobs, "spool_dir", lambda: full_disk)
    async with tab(client) as ws:
        visitor = (await hello(ws))["visitor_id"]
    with caplog.at_level(logging.WARNING):
        refused = await visitor_upload(client, visitor, BODY, "заказ.pdf", "application/pdf", "f-1")
        assert refused.status == 503, await refused.text()
        assert (await refused.json())["error"]["code"] == "unavailable"
        await login(client)
        form = aiohttp.FormData()
        form.add_field("file", BODY, filename="ответ.pdf", content_type="application/pdf")
        agent = await client.post("/api/files", data=form)
        assert agent.status == 503, await agent.text()
        assert (await agent.json())["error"]["code"] == "files_unavailable" and agent.headers["Retry-After"]
    assert stored(settings.store.path, "f-1") == 0
    assert not [r for r in caplog.records if r.exc_info], "a traceback for a full disk"
    said = [r.getMessage() for r in caplog.records if r.name == "router.files.service"]
    assert said and all("No space left on device" in m for m in said), said
    assert not os.listdir(full_disk)  # no spool file is left behind
