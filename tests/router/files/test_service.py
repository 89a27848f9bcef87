"""The files' rules without a web server: names fit for headers and disks,
and an upload cut off half-way leaves nothing behind."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from router.files.blobs import LocalFolder
from router.files.config import FilesConfig
from router.files.service import Files, clean_name
from router.store.sqlite import SQLiteStore
from tests.router.files.test_sniff import PDF


@pytest.mark.parametrize(("given", "kept"), [
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\anna\\счёт.pdf", "счёт.pdf"),
    ("evil\r\nSet-Cookie: x.pdf", "evilSet-Cookie: x.pdf"),  # no header can be split by a name
    ("%D1%81%D1%87%D1%91%D1%82.pdf", "счёт.pdf"),  # percent-encoded by some clients
    ("100%.txt", "100%.txt"),
    ("...", "file"), ("", "file"), (None, "file"),
    ("a" * 300 + ".pdf", "a" * 251 + ".pdf"),
])
def test_a_name_is_fit_for_a_header_and_a_disk(given: str | None, kept: str) -> None:
    assert clean_name(given) == kept


async def test_an_upload_cut_off_half_way_leaves_nothing(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "db.sqlite") as store:
        blobs = LocalFolder(tmp_path / "files")
        await blobs.open()
        files = Files(store, blobs, FilesConfig(), store)

        async def broken() -> AsyncIterator[bytes]:
            yield PDF
            raise ConnectionResetError("the browser went away")

        with pytest.raises(ConnectionResetError):
            await files.accept(broken(), "a.pdf", "application/pdf", "agent:agt_1")
        assert [p for p in (tmp_path / "files").rglob("*") if p.is_file()] == []
