"""WhatsApp through Twilio: one media a message (Twilio ignores the others),
a document's signed link says its type (Twilio asks a HEAD and checks it), and
a file over WhatsApp's limit goes as a link in the text."""

from __future__ import annotations

from typing import Any

from router.config import Settings
from tests.conftest import AppClient, eventually
from tests.connectors.test_files_roundtrip import _some, conversation_of, reply_with
from tests.connectors.twilio_helpers import CUSTOMER, PUBLIC_URL, whatsapp_form
from tests.connectors.twilio_helpers import post as twilio_post
from tests.fakes.twilio_api import FakeTwilio
from tests.router.files.test_sniff import PDF, PNG


async def _replied(make_client: AppClient, settings: Settings, api: FakeTwilio, count: int,
                   *files: tuple[bytes, str, str]) -> tuple[Any, list[Any]]:
    client = await make_client(settings)
    assert await twilio_post(client, "whatsapp", whatsapp_form("пришлите файлы")) == 200
    conv = await conversation_of(client, "whatsapp", CUSTOMER)
    await reply_with(client, conv, "Вот", *files)
    calls = await eventually(lambda: _some(api.sent() if len(api.sent()) >= count else []), "the messages")
    return client, calls


async def test_whatsapp_sends_each_file_as_its_own_message_and_twilio_can_fetch_each(
        make_client: AppClient, tw_settings: Settings, twilio_api: FakeTwilio) -> None:
    client, calls = await _replied(make_client, tw_settings, twilio_api, 2,
                                   (PNG, "box.png", "image/png"), (PDF, "счёт.pdf", "application/pdf"))
    assert [len(c.all("MediaUrl")) for c in calls] == [1, 1]
    assert calls[0].get("Body") == "Вот"
    server = str(client.server.make_url(""))
    fetched = [f for c in calls for f in await twilio_api.fetch_media(c, deliver_to=server)]
    assert fetched == [(200, "image/png", PNG), (200, "application/pdf", PDF)]


async def test_a_file_over_whatsapps_limit_goes_as_a_link_in_the_text(
        make_client: AppClient, tw_settings: Settings, twilio_api: FakeTwilio) -> None:
    tw_settings.files.max_bytes = 8 * 1024**2
    big = PNG + b"\0" * (6 * 1024**2)  # over WhatsApp's 5 MB for an image
    _, [call] = await _replied(make_client, tw_settings, twilio_api, 1, (big, "big.png", "image/png"))
    assert call.all("MediaUrl") == []
    body = call.get("Body") or ""
    assert body.startswith("Вот\nbig.png: " + PUBLIC_URL + "/api/files/")
