"""A customer's WhatsApp photo reaches the agent through the console, on an
account that enforces HTTP auth on media URLs, as Twilio advises: the media
URL answers only the account's SID and auth token and redirects to a signed
link of Twilio's file store, which gets no credentials.

The whole service runs against the local fake of Twilio's API."""

from __future__ import annotations

from tests.connectors.twilio_helpers import Client, console, inbound, media_fields, post, whatsapp_form
from tests.fakes.twilio_api import FakeTwilio, sid
from tests.router.files.test_sniff import JPEG


async def test_an_agent_opens_a_customers_photo_through_the_console(
        tw: Client, twilio_api: FakeTwilio) -> None:
    message_sid = sid("MM")
    form = whatsapp_form("", MessageSid=message_sid, **media_fields(message_sid, "image/jpeg", "application/pdf"))
    photo_sid, pdf_sid = f"ME{0:032x}", f"ME{1:032x}"
    twilio_api.add_media(photo_sid, "image/jpeg", JPEG)
    assert await post(tw, "whatsapp", form) == 200
    [stored] = await inbound(tw)
    http = await console(tw)
    try:
        async with http.get(f"/api/messages/{stored.id}/attachments/0") as resp:
            assert (resp.status, resp.content_type) == (200, "image/jpeg")
            assert await resp.read() == JPEG
        # a file Twilio no longer keeps: the agent is told why
        async with http.get(f"/api/messages/{stored.id}/attachments/1") as resp:
            assert resp.status == 502
            assert "no longer has the file" in (await resp.json())["error"]["message"]
    finally:
        await http.close()
    assert pdf_sid not in twilio_api.media
    # the credentials went to Twilio's API only, never to the file store it redirected to
    assert [h.get("Authorization") for h in twilio_api.file_requests] == [None]
