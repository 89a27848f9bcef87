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


async def test_the_sweep_deletes_files_no_message_names_once_old_enough(tmp_path: Path) -> None:
    from datetime import timedelta  # noqa: PLC0415

    from router.models import IdentityRef, InboundMessage  # noqa: PLC0415
    from tests.router.store.test_contract import T0  # noqa: PLC0415

    now = [T0]
    async with SQLiteStore(tmp_path / "db.sqlite") as store:
        blobs = LocalFolder(tmp_path / "files")
        await blobs.open()
        files = Files(store, blobs, FilesConfig(unreferenced_hours=24), store, clock=lambda: now[0])

        async def one() -> AsyncIterator[bytes]:
            yield PDF

        never_sent = await files.accept(one(), "draft.pdf", None, "agent:agt_1")
        sent = await files.accept(one(), "счёт.pdf", None, "agent:agt_1")
        await store.insert_inbound(InboundMessage(channel="webchat", external_id="m1", text="",
                                                  sender=IdentityRef(kind="webchat", value="v1"),
                                                  attachments=[sent.attachment()]), T0 + timedelta(minutes=1))
        now[0] = T0 + timedelta(hours=1)
        assert await files.sweep_unreferenced() == 0  # young: an agent may still be writing the reply
        now[0] = T0 + timedelta(hours=25)
        assert await files.sweep_unreferenced() == 1
        assert sorted(p.name for p in (tmp_path / "files").iterdir() if p.is_file()) == [sent.id]
        assert [f.id for f in await store.get_files([never_sent.id, sent.id])] == [sent.id]


async def test_a_file_is_streamed_in_pieces_and_a_missing_one_fails_before_the_first(tmp_path: Path) -> None:
    from router.connector import FileUnavailable  # noqa: PLC0415
    from router.files.blobs import CHUNK  # noqa: PLC0415

    async with SQLiteStore(tmp_path / "db.sqlite") as store:
        blobs = LocalFolder(tmp_path / "files")
        await blobs.open()
        files = Files(store, blobs, FilesConfig(), store)
        body = PDF + bytes(range(256)) * 4096  # 1 MiB and a bit

        async def one() -> AsyncIterator[bytes]:
            yield body

        kept = await files.accept(one(), "big.pdf", None, "agent:agt_1")
        size, pieces = await files.stream(kept.attachment())
        got = [piece async for piece in pieces]
        assert size == len(body) and b"".join(got) == body and max(map(len, got)) <= CHUNK
        await blobs.delete(kept.id)
        with pytest.raises(FileUnavailable):
            await files.stream(kept.attachment())
