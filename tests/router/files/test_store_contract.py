"""The files' part of the store contract (router/files/store.py), on every
backend of tests/router/store/test_contract.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from router.files.store import FileStore
from router.files.types import StoredFile
from router.models import new_id
from router.store.errors import ConflictError, NotFound
from tests.router.store.test_contract import BACKENDS, T0


@pytest.fixture(params=sorted(BACKENDS))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[FileStore]:
    async with BACKENDS[request.param](request, tmp_path)() as s:
        yield s


def stored(name: str = "счёт.pdf", content_type: str = "application/pdf") -> StoredFile:
    return StoredFile(id=new_id("file"), name=name, content_type=content_type, size=1234, sha256="ab" * 32,
                      uploaded_by="agent:agt_1", created_at=T0)


async def test_a_file_is_kept_as_given(store: FileStore) -> None:
    file = stored()
    await store.add_file(file)
    assert await store.get_file(file.id) == file


async def test_an_unknown_file_is_not_found_and_an_id_is_kept_once(store: FileStore) -> None:
    with pytest.raises(NotFound):
        await store.get_file("file_" + "0" * 20)
    file = stored()
    await store.add_file(file)
    with pytest.raises(ConflictError):
        await store.add_file(file.model_copy(update={"name": "other.pdf"}))
    assert (await store.get_file(file.id)).name == "счёт.pdf"


async def test_several_files_at_once_only_those_that_exist(store: FileStore) -> None:
    a, b = stored("a.png", "image/png"), stored("b.txt", "text/plain")
    for f in (a, b):
        await store.add_file(f)
    found = await store.get_files([b.id, "file_" + "1" * 20, a.id, a.id])
    assert sorted(f.id for f in found) == sorted([a.id, b.id])
    assert await store.get_files([]) == []


async def test_a_deleted_file_is_gone_and_deleting_twice_is_no_error(store: FileStore) -> None:
    a, b = stored("a.png", "image/png"), stored()
    for f in (a, b):
        await store.add_file(f)
    await store.delete_file(a.id)
    await store.delete_file(a.id)
    with pytest.raises(NotFound):
        await store.get_file(a.id)
    assert await store.get_file(b.id) == b


async def test_files_no_message_names_are_found_for_the_sweep(store: FileStore) -> None:
    from datetime import timedelta  # noqa: PLC0415

    from router.models import Attachment, InboundMessage  # noqa: PLC0415
    from router.store.base import Store  # noqa: PLC0415
    from tests.router.store.test_contract import inbound  # noqa: PLC0415

    assert isinstance(store, Store)
    a, b = stored("a.png", "image/png"), stored()
    c = stored("c.txt", "text/plain").model_copy(update={"created_at": T0 + timedelta(minutes=1)})
    for f in (a, b, c):
        await store.add_file(f)
    sent: InboundMessage = inbound("m-file").model_copy(update={"attachments": [b.attachment()]})
    await store.insert_inbound(sent, T0 + timedelta(seconds=30))
    by_url = Attachment(kind="image", url="https://x/y.png")
    other: InboundMessage = inbound("m-url").model_copy(update={"attachments": [by_url]})
    await store.insert_inbound(other, T0 + timedelta(seconds=40))
    found = await store.unreferenced_files(T0 - timedelta(hours=1), T0 + timedelta(hours=2), 10)
    assert [f.id for f in found] == [a.id, c.id]
    since = T0 - timedelta(hours=1)
    assert [f.id for f in await store.unreferenced_files(since, T0 + timedelta(seconds=30), 10)] == [a.id]
    assert [f.id for f in await store.unreferenced_files(since, T0 + timedelta(hours=2), 1)] == [a.id]
