"""VK takes photos as JPEG, PNG or GIF only and documents in any format but
MP3 and programs: a WebP goes as a document, and a file VK refuses reaches the
customer as a signed link in the text instead of failing the whole reply."""

from __future__ import annotations

from router.config import Settings
from tests.conftest import AppClient, eventually
from tests.connectors import test_vk as vk_test
from tests.connectors.test_files_roundtrip import _some, conversation_of, reply_with
from tests.fakes.vk_api import FakeVk
from tests.router.files.test_sniff import PDF

vk_api, vk_settings = vk_test.vk_api, vk_test.vk_settings

PUBLIC = "https://chat.example.com"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 64
MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\x00" * 64


async def test_a_webp_goes_as_a_document_and_an_mp3_vk_refuses_as_a_link(
        make_client: AppClient, vk_settings: Settings, vk_api: FakeVk) -> None:
    vk_settings.server.public_url = PUBLIC
    client = await make_client(vk_settings)
    assert (await vk_test.post(client, vk_test.message_new(70, "пришлите файлы")))[0] == 200
    conv = await conversation_of(client, "vk", str(vk_test.USER))
    await reply_with(client, conv, "Вот", (WEBP, "sticker.webp", "image/webp"), (MP3, "запись.mp3", "audio/mpeg"),
                     (PDF, "счёт.pdf", "application/pdf"))
    [sent] = await eventually(lambda: _some(vk_api.sent("messages.send")), "messages.send")
    assert vk_api.sent("photos.saveMessagesPhoto") == []  # VK's photos take no WebP
    assert [(kind, body) for kind, _, body in vk_api.uploads] == [("doc", WEBP), ("doc", PDF)]
    assert [a.split("_")[0] for a in sent.params["attachment"].split(",")] == [f"doc-{vk_test.GROUP_ID}"] * 2
    first, link = sent.params["message"].split("\n")
    assert first == "Вот" and link.startswith(f"запись.mp3: {PUBLIC}/api/files/") and "sig=" in link
