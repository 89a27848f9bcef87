"""WhatsApp and SMS through Twilio, against the whole running service and a
local fake of Twilio's REST API.

Webhooks carry the form fields Twilio documents for incoming messages
(https://www.twilio.com/docs/messaging/guides/webhook-request) and status
callbacks, signed as Twilio signs them (X-Twilio-Signature over the public URL
and the sorted parameters)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from connectors.twilio import TwilioConnector, TwilioOptions, hold_seconds
from router.config import Settings
from router.models import Attachment, Author, IdentityRef, OutboundMessage, utcnow
from router.server.app import CONNECTORS, STORE
from router.server.settings import load_settings
from router.yamlconf import ConfigError
from tests.agents_ui.conftest import next_event
from tests.conftest import AppClient
from tests.connectors.twilio_helpers import (
    ACCOUNT,
    CUSTOMER,
    PUBLIC_URL,
    SMS_NUMBER,
    TEMPLATE,
    WA_NUMBER,
    Client,
    api_reply,
    console,
    delivery_is,
    inbound,
    media_fields,
    post,
    section,
    shown,
    sms_form,
    whatsapp_form,
)
from tests.fakes.twilio_api import FakeTwilio, sid

# -- end to end ----------------------------------------------------------------------------


async def test_whatsapp_in_agent_reply_out_and_delivered_live(tw: Client, twilio_api: FakeTwilio) -> None:
    form = whatsapp_form("Где мой заказ 1042?")
    assert await post(tw, "whatsapp", form) == 200
    [stored] = await inbound(tw)
    assert stored.text == "Где мой заказ 1042?"
    assert stored.external_id == form["MessageSid"] and stored.channel == "whatsapp"
    assert stored.sender == IdentityRef(kind="whatsapp", value=CUSTOMER)
    assert stored.extras["WaId"] == "79123456789"
    assert stored.conversation_id is not None
    conversation = await tw.app[STORE].get_conversation(stored.conversation_id)
    assert conversation.customer_name == "Иван Петров"

    http = await console(tw)
    try:
        ws = await http.ws_connect("/api/ws")
        status, body = await api_reply(http, stored.conversation_id, {"text": "Заказ 1042 уже в пути"})
        assert status == 201, body
        reply_id = body["message"]["id"]
        sent = await delivery_is(http, stored.conversation_id, reply_id, "sent")
        [call] = twilio_api.sent()
        assert call.get("To") == f"whatsapp:{CUSTOMER}" and call.get("From") == f"whatsapp:{WA_NUMBER}"
        assert call.get("Body") == "Заказ 1042 уже в пути"
        assert call.get("StatusCallback") == f"{PUBLIC_URL}/webhooks/twilio/whatsapp/status"
        assert sent["external_id"] == call.sid

        # Twilio reports back: the console sees it live, and the API shows it
        assert await twilio_api.report(call, "sent", deliver_to=str(tw.server.make_url(""))) == 204
        assert await twilio_api.report(call, "delivered", deliver_to=str(tw.server.make_url(""))) == 204
        pushed = await next_event(ws, "message.updated")
        while pushed["message"]["delivery"] != "delivered":
            pushed = await next_event(ws, "message.updated")
        assert pushed["message"]["id"] == reply_id
        assert await twilio_api.report(call, "read", deliver_to=str(tw.server.make_url(""))) == 204
        assert (await shown(http, stored.conversation_id, reply_id))["delivery"] == "read"
        await ws.close()
    finally:
        await http.close()


async def test_sms_with_pictures_in_and_out(tw: Client, twilio_api: FakeTwilio) -> None:
    message_sid = sid("MM")
    form = sms_form("", message_sid, **media_fields(message_sid, "image/jpeg", "application/pdf"))
    assert await post(tw, "sms", form) == 200
    [stored] = await inbound(tw, "sms")
    assert stored.sender == IdentityRef(kind="sms", value=CUSTOMER)
    photo, pdf = stored.attachments
    # no link for a browser: Twilio's media URL wants the account's credentials (relayed: test_twilio_media)
    assert (photo.kind, photo.mime_type, photo.url) == ("image", "image/jpeg", None)
    assert photo.extras["media_url"] == form["MediaUrl0"]
    assert (pdf.kind, pdf.mime_type) == ("document", "application/pdf")
    assert pdf.extras["media_sid"] == f"ME{1:032x}"
    assert (stored.text, stored.extras["description"]) == ("", "[image] [document application/pdf]")

    connector = tw.app[CONNECTORS]["sms"]
    assert isinstance(connector, TwilioConnector)
    out = OutboundMessage(
        message_id="msg_1", channel="sms", recipient=CUSTOMER, author=Author.AGENT, text="Your receipt",
        attachments=[Attachment(kind="image", url="https://shop.example/receipt.png"),
                     Attachment(kind="location", extras={"latitude": 55.7558, "longitude": 37.6173,
                                                         "label": "Our shop"})],
        created_at=utcnow(),
    )
    result = await connector.send(out)
    [call] = twilio_api.sent()
    assert call.get("To") == CUSTOMER and call.get("From") == SMS_NUMBER
    assert call.all("MediaUrl") == ["https://shop.example/receipt.png"]
    # what SMS cannot show goes as words
    assert call.get("Body") == "Your receipt\n📍 Our shop https://maps.google.com/?q=55.7558,37.6173"
    assert result.external_id == call.sid and call.sid is not None and call.sid.startswith("MM")


async def test_whatsapp_location_and_long_text(tw: Client, twilio_api: FakeTwilio) -> None:
    form = whatsapp_form("", MessageType="location", Latitude="55.755826", Longitude="37.617299",
                         Address="Red Square, Moscow")
    assert await post(tw, "whatsapp", form) == 200
    [stored] = await inbound(tw)
    assert (stored.text, stored.extras["description"]) == ("", "[location 55.755826, 37.617299]")
    assert stored.attachments[0].extras == {"latitude": 55.755826, "longitude": 37.617299,
                                            "address": "Red Square, Moscow"}
    connector = tw.app[CONNECTORS]["whatsapp"]
    out = OutboundMessage(message_id="msg_2", channel="whatsapp", recipient=CUSTOMER, author=Author.AGENT,
                          text=("a" * 1000 + "\n") * 2, created_at=utcnow())
    result = await connector.send(out)
    first, second = twilio_api.sent()
    assert [len(first.get("Body") or ""), len(second.get("Body") or "")] == [1001, 1001]
    assert result.external_id == second.sid


# Twilio's fields for a message that a Click-to-WhatsApp ad started (Meta's referral, passed on)
AD_REFERRAL = {
    "ReferralBody": "Скидка 20% на все заказы до конца недели", "ReferralHeadline": "Весенняя распродажа",
    "ReferralSourceId": "120208123456789012", "ReferralSourceType": "ad",
    "ReferralSourceUrl": "https://fb.me/3Xyz1AbCd", "ReferralMediaId": "1234567890123456",
    "ReferralMediaContentType": "image/jpeg",
    "ReferralMediaUrl": (f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/MM{'1' * 32}"
                         f"/Media/ME{'2' * 32}"),
    "ReferralNumMedia": "1",
    "ReferralCtwaClid": ("ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0-eM-"
                         "GABDLOPaOdRMv-_zfUQ2a"),
}


async def test_the_ad_a_whatsapp_customer_came_from_is_kept_for_the_agent(tw: Client) -> None:
    form = whatsapp_form("Здравствуйте! Хочу узнать подробнее об этом предложении.", **AD_REFERRAL,
                         Forwarded="true", FrequentlyForwarded="true")
    assert await post(tw, "whatsapp", form) == 200
    [stored] = await inbound(tw)
    assert stored.conversation_id is not None
    http = await console(tw)
    try:
        seen = await shown(http, stored.conversation_id, stored.id)
    finally:
        await http.close()
    assert seen["extras"]["referral"] == AD_REFERRAL
    assert (seen["extras"]["Forwarded"], seen["extras"]["FrequentlyForwarded"]) == ("true", "true")


async def test_a_message_no_ad_started_has_no_referral(tw: Client) -> None:
    assert await post(tw, "whatsapp", whatsapp_form("hello")) == 200  # ReferralNumMedia=0, as on every one
    [stored] = await inbound(tw)
    assert "referral" not in stored.extras and "Forwarded" not in stored.extras


# -- authentication and bad input ----------------------------------------------------------------


@pytest.mark.parametrize("how", ["missing", "wrong token", "other url", "tampered", "other account"])
async def test_a_bad_signature_is_refused_and_nothing_is_stored(tw: Client, how: str) -> None:
    form = whatsapp_form("let me in")
    kwargs: dict[str, Any] = {
        "missing": {"header": False},
        "wrong token": {"token": "0" * 32},
        "other url": {"sign_url": "https://evil.example/webhooks/twilio/whatsapp"},
        "tampered": {"sign": {**form, "Body": "something else"}},
        "other account": {},
    }[how]
    if how == "other account":
        form["AccountSid"] = "AC" + "f" * 32  # correctly signed, but not our account's
    assert await post(tw, "whatsapp", form, **kwargs) == 403
    assert await inbound(tw) == []


async def test_signatures_are_checked_against_the_connectors_own_public_url(
    make_client: AppClient, tw_settings: Settings, twilio_api: FakeTwilio
) -> None:
    tw_settings.connectors["sms"] = section(twilio_api, "sms", public_url="https://hooks.example.net/")
    client = await make_client(tw_settings)
    form = sms_form("hi")
    assert await post(client, "sms", form) == 403  # signed for server.public_url
    assert await post(client, "sms", form, sign_url="https://hooks.example.net/webhooks/twilio/sms") == 200
    assert len(await inbound(client, "sms")) == 1


async def test_a_signature_of_the_url_with_its_default_port_is_accepted_too(tw: Client) -> None:
    """Twilio signs the URL with or without its port, as its back end sees it:
    both are accepted (the URL as configured is checked first, then the other)."""
    assert await post(tw, "whatsapp", whatsapp_form("as configured")) == 200
    with_port = PUBLIC_URL.replace("example.com", "example.com:443") + "/webhooks/twilio/whatsapp"
    assert await post(tw, "whatsapp", whatsapp_form("with the port"), sign_url=with_port) == 200
    assert len(await inbound(tw)) == 2


async def test_a_redelivery_is_stored_once(tw: Client) -> None:
    form = whatsapp_form("hello")
    assert await post(tw, "whatsapp", form) == 200
    assert await post(tw, "whatsapp", form) == 200
    assert [m.text for m in await inbound(tw)] == ["hello"]


@pytest.mark.parametrize("change", [{"MessageSid": "", "SmsMessageSid": ""}, {"MessageSid": "not-a-sid",
                                    "SmsMessageSid": ""}, {"From": ""}])
async def test_a_signed_but_malformed_message_is_a_400(tw: Client, change: dict[str, str]) -> None:
    assert await post(tw, "whatsapp", {**whatsapp_form("x"), **change}) == 400
    assert await inbound(tw) == []


async def test_the_same_number_on_whatsapp_and_sms_is_one_customer(tw: Client) -> None:
    assert await post(tw, "whatsapp", whatsapp_form("first on WhatsApp")) == 200
    assert await post(tw, "sms", sms_form("then by SMS")) == 200
    on_whatsapp, on_sms = await inbound(tw)
    assert on_whatsapp.conversation_id == on_sms.conversation_id

# -- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("OMNIROUTER_TWILIO_ACCOUNT_SID", None, "set OMNIROUTER_TWILIO_ACCOUNT_SID"),
    ("OMNIROUTER_TWILIO_ACCOUNT_SID", "not-a-sid", "OMNIROUTER_TWILIO_ACCOUNT_SID is not an account SID"),
])
async def test_off_until_the_credentials_are_set(
    make_client: AppClient, tw_settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    variable: str, value: str | None, says: str,
) -> None:
    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)
    caplog.set_level(logging.INFO, logger="router.server.app")
    client = await make_client(tw_settings)
    assert "whatsapp" not in client.app[CONNECTORS] and "sms" not in client.app[CONNECTORS]
    assert says in caplog.text
    assert await post(client, "whatsapp", whatsapp_form("anyone?")) == 404


async def test_an_account_without_its_auth_token_refuses_to_start(
    make_client: AppClient, tw_settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The auth token signs Twilio's webhooks: without it no request could be
    checked, so the service says what is missing instead of running open."""
    monkeypatch.delenv("OMNIROUTER_TWILIO_AUTH_TOKEN")
    with pytest.raises(ConfigError) as info:
        await make_client(tw_settings)
    assert any(p.startswith("connectors.whatsapp (twilio): set OMNIROUTER_TWILIO_AUTH_TOKEN")
               for p in info.value.problems)


@pytest.mark.parametrize(("options", "says"), [
    ({"flavour": "sms"}, "either from_number or messaging_service_sid"),
    ({"flavour": "sms", "from_number": SMS_NUMBER, "messaging_service_sid": "MG" + "0" * 32},
     "either from_number or messaging_service_sid"),
    ({"flavour": "fax", "from_number": SMS_NUMBER}, "'whatsapp' or 'sms'"),
    ({"flavour": "sms", "from_number": "8 912 345"}, "E.164"),
    ({"flavour": "whatsapp", "from_number": WA_NUMBER, "window_template": {"content_sid": "x", "text": "t"}},
     "HX followed by 32 hex digits"),
    ({"flavour": "sms", "from_number": SMS_NUMBER, "window_template": TEMPLATE}, "needs a reply window"),
])
def test_bad_options_are_refused_with_a_clear_message(options: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=says.replace("(", r"\(").replace(")", r"\)")):
        TwilioOptions.model_validate(options)


def test_a_bad_section_in_the_config_file_is_refused_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "omnirouter.yaml").write_text(
        "connectors:\n"
        "  whatsapp:\n"
        "    type: twilio\n"
        "    flavour: whatsapp\n"
        "    from_number: +14155238886\n"
        "    window_template:\n"
        "      content_sid: HX123\n"
        "      text: Hello!\n"
        "  sms:\n"
        "    type: twilio\n"
        "    flavour: sms\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    path = tmp_path / "omnirouter.yaml"
    assert info.value.problems == [
        f"{path}:7: connectors.whatsapp.window_template.content_sid: content_sid is a Content API "
        "SID: HX followed by 32 hex digits",
        f"{path}:10: connectors.sms: give the sender: either from_number or messaging_service_sid",
    ]


def test_a_held_message_is_answered_within_twilios_15_s_whatever_the_lag_bound() -> None:
    """Held for room, then through the pipeline (up to about twice the bound): Twilio
    gives up on an answer after 15 s and calls the fallback URL."""
    for bound in (0.5, 2.0, 4.0, 6.0, 7.0, 10.0, 600.0):
        assert hold_seconds(bound) + 2 * bound < 15 or hold_seconds(bound) == 0, bound
    assert hold_seconds(2.0) > 5  # the default bound still holds a good while


@pytest.mark.parametrize(("text", "shown"), [("Ваш чек", "[фото]"), ("Your receipt", "[image]"), ("", "[фото]")])
async def test_a_file_without_a_link_is_named_in_the_messages_language(
    tw: Client, twilio_api: FakeTwilio, text: str, shown: str
) -> None:
    """An SMS carries no file without a link: its name goes instead, and a file
    with none was "[image]" to a Russian customer."""
    connector = tw.app[CONNECTORS]["sms"]
    assert isinstance(connector, TwilioConnector)
    await connector.send(OutboundMessage(message_id="msg_2", channel="sms", recipient=CUSTOMER, author=Author.AGENT,
                                         text=text, attachments=[Attachment(kind="image")], created_at=utcnow()))
    [call] = twilio_api.sent()
    assert call.get("Body") == "\n".join(p for p in (text, shown) if p)
