"""A file larger than the storage's piece (``router.files.blobs.CHUNK``)
reaches VK and email byte-exact: to VK streamed from the storage to its
upload server (chunked, never built whole in memory); by email whole, as
SMTP takes a mail (aiosmtplib holds it), after a size check made before
reading: a mail over ``max_mail_bytes`` is refused for good with the reason,
and nothing is sent."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connectors.vk_upload import upload_document
from router.appkeys import CONNECTORS
from router.config import Settings
from router.connector import FileAccess, FileUnavailable, PermanentError, TransientError
from router.files.blobs import CHUNK
from router.models import Attachment, Delivery, IdentityRef, InboundMessage, Message
from router.server.app import ROUTER, STORE
from tests.conftest import AppClient, eventually
from tests.connectors import test_vk as vk_test
from tests.connectors.email_helpers import email_section
from tests.connectors.test_files_roundtrip import Client, _some, agent, upload, vk_reply
from tests.fakes.mail_servers import SmtpSink
from tests.fakes.vk_api import FakeVk
from tests.router.files.test_sniff import PDF, PNG

vk_api, vk_settings = vk_test.vk_api, vk_test.vk_settings

# past three pieces of the storage, and not on a piece's edge
BIG_PDF = PDF + random.Random(22).randbytes(3 * CHUNK + 17)
BIG_PNG = PNG + random.Random(23).randbytes(2 * CHUNK + 5)


async def test_large_files_are_streamed_to_vks_upload_servers_byte_exact(
        make_client: AppClient, vk_settings: Settings, vk_api: FakeVk) -> None:
    sent = await vk_reply(make_client, vk_settings, vk_api, "Договор и схема",
                          (BIG_PDF, "договор.pdf", "application/pdf"), (BIG_PNG, "схема.png", "image/png"))
    # streamed piece by piece, with the Content-Length the stored size gives (no chunked body):
    # the fake's server read exactly that many bytes, and the files came out whole
    assert [f.split()[0] for f in vk_api.upload_framing] == ["length", "length"]
    assert [(kind, name, body) for kind, name, body in vk_api.uploads] == [
        ("doc", "договор.pdf", BIG_PDF), ("photo", "схема.png", BIG_PNG)]
    [saved] = vk_api.sent("docs.save")
    assert saved.params["title"] == "договор.pdf"
    assert [a.split("_")[0] for a in sent.params["attachment"].split(",")] == [
        f"doc-{vk_test.GROUP_ID}", f"photo-{vk_test.GROUP_ID}"]


async def _mail_reply(client: Client, *files: tuple[bytes, str, str]) -> str:
    """The customer writes by mail, an agent answers with ``files``: the answer's message id."""
    accepted = await client.app[ROUTER].on_message(InboundMessage(
        channel="mail", external_id="<m1@customer.example>", text="пришлите договор",
        sender=IdentityRef(kind="email", value="anna@customer.example")))
    assert accepted.conversation_id is not None
    http = await agent(client)
    try:
        ids = [await upload(http, *f) for f in files]
        async with http.post(f"/api/conversations/{accepted.conversation_id}/messages",
                             json={"text": "Договор во вложении", "files": ids}) as resp:
            assert resp.status == 201, await resp.text()
            message_id: str = (await resp.json())["message"]["id"]
            return message_id
    finally:
        await http.close()


async def test_a_large_file_reaches_the_mail_byte_exact(make_client: AppClient, mail_settings: Settings,
                                                       smtp: SmtpSink) -> None:
    client = await make_client(mail_settings)
    streams = _count_streams(client)
    await _mail_reply(client, (BIG_PDF, "договор.pdf", "application/pdf"), (BIG_PNG, "схема.png", "image/png"))
    await eventually(lambda: _some(smtp.received), "the mail")
    parts = list(smtp.received[0].message().iter_attachments())
    assert [(p.get_filename(), p.get_content()) for p in parts] == [("договор.pdf", BIG_PDF), ("схема.png", BIG_PNG)]
    assert (streams.opened, streams.open) == (2, 0)  # every stream opened was closed


class Streams:
    """The storage's streams as the connector opens and closes them (the real storage's, counted)."""

    def __init__(self, real: FileAccess) -> None:
        self.real, self.opened, self.open = real, 0, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    async def stream(self, attachment: Attachment) -> tuple[int, AsyncIterator[bytes]]:
        size, pieces = await self.real.stream(attachment)
        self.opened += 1
        self.open += 1
        return size, _Counted(self, pieces)


class _Counted:
    def __init__(self, streams: Streams, pieces: AsyncIterator[bytes]) -> None:
        self.streams, self.pieces = streams, pieces

    def __aiter__(self) -> _Counted:
        return self

    async def __anext__(self) -> bytes:
        return await anext(self.pieces)

    async def aclose(self) -> None:
        self.streams.open -= 1
        await self.pieces.aclose()  # type: ignore[attr-defined]


def _count_streams(client: Client) -> Streams:
    mail = client.app[CONNECTORS]["mail"]
    streams = Streams(mail.files)
    mail.files = streams
    return streams


async def test_a_mail_over_its_size_limit_is_refused_for_good_before_it_is_read(
        make_client: AppClient, settings: Settings, smtp: SmtpSink, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIROUTER_EMAIL_PASSWORD", "x")
    # BIG_PDF encoded is about 4/3 of its size: over this, one piece under it
    settings.connectors["mail"] = email_section(None, smtp, tmp_path, max_mail_bytes=len(BIG_PDF))
    client = await make_client(settings)
    streams = _count_streams(client)
    message_id = await _mail_reply(client, (BIG_PDF, "договор.pdf", "application/pdf"))

    async def failed() -> Message | None:
        message = await client.app[STORE].get_message(message_id)
        return message if message.delivery is Delivery.FAILED else None

    dead = await eventually(failed, "the reply to be dead-lettered")
    assert dead.delivery_error is not None and "max_mail_bytes" in dead.delivery_error
    assert smtp.received == []
    assert streams.opened == 0  # refused by the attachments' sizes: no stream of the storage was opened


@pytest.mark.parametrize(("transient", "error"), [(False, PermanentError), (True, TransientError)])
async def test_the_storage_failing_half_way_through_a_vk_upload_is_told_apart(
        vk_api: FakeVk, transient: bool, error: type[Exception]) -> None:
    """A file gone for good half-way is dead-lettered, not retried as the upload server's fault forever;
    the storage down half-way is retried."""
    async def call(method: str, params: dict[str, Any]) -> Any:
        assert method == "docs.getMessagesUploadServer"
        return {"upload_url": f"{vk_api.base_url}/upload/doc"}

    async def pieces() -> AsyncIterator[bytes]:
        yield BIG_PDF[:CHUNK]
        raise FileUnavailable("file f1 is gone from the storage", transient=transient)

    with pytest.raises(error, match="storage") as raised:
        await upload_document(call, vk_test.USER, "договор.pdf", pieces(), len(BIG_PDF),
                              aiohttp.ClientTimeout(total=120))
    assert "upload server" not in str(raised.value)
    assert vk_api.uploads == []
