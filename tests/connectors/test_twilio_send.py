"""Sending through Twilio against the whole running service and a local fake of
Twilio's REST API: delivery, retries and failure receipts, each sender's pace,
WhatsApp's 24-hour window and its template, and what an agent sends."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from datetime import timedelta
from email.utils import formatdate

import aiohttp
import pytest

from connectors import twilio as twilio_module
from router.config import ConnectorConfig, Settings
from router.connector import RateLimited
from router.models import Author, Delivery, Message, OutboundMessage, utcnow
from router.server.app import CONNECTORS, ROUTER, STORE
from tests.conftest import AppClient, eventually, sqlite_only
from tests.connectors.twilio_helpers import (
    ACCOUNT,
    CUSTOMER,
    TEMPLATE_SID,
    TEMPLATE_TEXT,
    Client,
    api_reply,
    console,
    delivery_is,
    inbound,
    post,
    section,
    sent_calls,
    shown,
    sms_form,
    whatsapp_form,
)
from tests.fakes.twilio_api import FakeTwilio, sid

_ids = itertools.count(1)


# -- delivery -------------------------------------------------------------------------------------


async def reply_to_new_message(tw: Client, http: aiohttp.ClientSession, text: str = "we are on it") -> tuple[str, str]:
    assert await post(tw, "whatsapp", whatsapp_form(f"question {next(_ids)}")) == 200
    conversation_id = (await inbound(tw))[-1].conversation_id
    assert conversation_id is not None
    status, body = await api_reply(http, conversation_id, {"text": text})
    assert status == 201, body
    return conversation_id, body["message"]["id"]


async def test_an_outage_is_retried_then_dead_lettered_and_the_agent_sees_why(
    tw: Client, twilio_api: FakeTwilio
) -> None:
    twilio_api.outage(times=50)
    http = await console(tw)
    try:
        conversation_id, reply_id = await reply_to_new_message(tw, http)
        failed = await delivery_is(http, conversation_id, reply_id, "failed")
    finally:
        await http.close()
    assert failed["delivery_error"] == (
        "gave up after 3 attempts: [unavailable] twilio 503: Unable to create record (HTTP 503)")
    assert len(twilio_api.calls) == 3


async def test_a_long_reply_resumed_after_a_restart_sends_no_part_twice(
    make_client: AppClient, tw_settings: Settings, twilio_api: FakeTwilio
) -> None:
    tw_settings.outbox.max_attempts = 10_000  # retried until the fault clears, never dead-lettered here
    first = await make_client(tw_settings)
    twilio_api.fail_while(lambda params: (params.get("Body") or "").startswith("B"))
    http = await console(first)
    try:
        conversation_id, reply_id = await reply_to_new_message(first, http, "A" * 1600 + "B" * 400)
    finally:
        await http.close()

    def second_parts() -> int:
        return len([c for c in twilio_api.calls if (c.get("Body") or "").startswith("B")])

    async def tried(count: int) -> bool:
        return second_parts() >= count

    await eventually(lambda: tried(2), "part 2 refused twice")
    await first.close()

    # a restart over the same SQLite file: a new outbox, a new connector
    second = await make_client(tw_settings)
    before = second_parts()
    await eventually(lambda: tried(before + 1), "the restarted outbox to try part 2 again")
    twilio_api.heal()

    async def sent() -> Message | None:
        found = [m for m in await second.app[STORE].list_messages(conversation_id, 100) if m.id == reply_id]
        return found[0] if found and found[0].delivery is Delivery.SENT else None

    delivered = await eventually(sent, "the reply to be sent")
    bodies = [c.get("Body") for c in twilio_api.sent()]
    assert bodies == ["A" * 1600, "B" * 400], "a part reached the customer twice, or not at all"
    assert delivered.external_id == twilio_api.sent()[-1].sid


async def test_an_unsubscribed_customer_fails_at_once_with_the_reason(tw: Client, twilio_api: FakeTwilio) -> None:
    twilio_api.fail_next(400, 21610, "Attempt to send to unsubscribed recipient")
    http = await console(tw)
    try:
        conversation_id, reply_id = await reply_to_new_message(tw, http)
        failed = await delivery_is(http, conversation_id, reply_id, "failed")
    finally:
        await http.close()
    assert failed["delivery_error"] == (
        "[unsubscribed] twilio 21610: the customer has unsubscribed (replied STOP) from this sender")
    assert len(twilio_api.calls) == 1


async def _reply_sent_after_429(tw: Client, twilio_api: FakeTwilio, retry_after: int | str) -> None:
    """A reply whose first send Twilio answers 429 with ``retry_after``, until it is sent."""
    twilio_api.fail_next(429, 20429, "Too Many Requests", retry_after=retry_after)
    http = await console(tw)
    try:
        conversation_id, reply_id = await reply_to_new_message(tw, http)
        await delivery_is(http, conversation_id, reply_id, "sent")
    finally:
        await http.close()


async def test_too_many_requests_waits_as_told(tw: Client, twilio_api: FakeTwilio) -> None:
    await _reply_sent_after_429(tw, twilio_api, 1)
    first, second = twilio_api.calls
    assert second.at - first.at >= 1.0


async def test_too_many_requests_until_a_date_waits_until_then(tw: Client, twilio_api: FakeTwilio) -> None:
    """Retry-After may be an HTTP date (RFC 9110): it was read as 1 s, and the retry came while the limit held."""
    until = int(time.time()) + 4
    await _reply_sent_after_429(tw, twilio_api, formatdate(until, usegmt=True))
    _, second = twilio_api.calls
    assert second.wall >= until


async def test_a_slow_twilio_holds_no_webhook(tw: Client, twilio_api: FakeTwilio) -> None:
    twilio_api.hold = asyncio.Event()  # Twilio answers no send until the test says
    http = await console(tw)
    try:
        await reply_to_new_message(tw, http)
        await eventually(lambda: _true(len(twilio_api.calls) == 1), "the send to be in flight")
        # while the send hangs, inbound messages are stored and answered
        assert await post(tw, "sms", sms_form("still there?")) == 200
        assert not twilio_api.hold.is_set() and len(twilio_api.calls) == 1  # the send still hangs
        assert [m.text for m in await inbound(tw, "sms")][-1] == "still there?"
    finally:
        twilio_api.hold.set()
        await http.close()


async def _true(value: bool) -> bool | None:
    return True if value else None


async def test_failure_receipts_carry_the_error_and_states_only_move_forward(
    tw: Client, twilio_api: FakeTwilio
) -> None:
    http = await console(tw)
    server = str(tw.server.make_url(""))
    try:
        conversation_id, first_id = await reply_to_new_message(tw, http, "one")
        _, second_id = await api_reply(http, conversation_id, {"text": "two"})
        first, second = await sent_calls(twilio_api, 2)
        await delivery_is(http, conversation_id, second_id["message"]["id"], "sent")
        assert await twilio_api.report(first, "delivered", deliver_to=server) == 204
        assert await twilio_api.report(first, "sent", deliver_to=server) == 204  # late, out of order
        assert await twilio_api.report(second, "undelivered", error_code=30003, deliver_to=server) == 204
        # a forged receipt changes nothing
        assert await twilio_api.report(second, "failed", deliver_to=server, tamper=True) == 403
        one = await shown(http, conversation_id, first_id)
        two = await shown(http, conversation_id, second_id["message"]["id"])
    finally:
        await http.close()
    assert one["delivery"] == "delivered"
    assert (two["delivery"], two["delivery_error"]) == (
        "failed", "twilio 30003: unreachable handset (off or out of coverage)")


async def test_a_failure_receipt_without_an_error_code_says_the_status(tw: Client, twilio_api: FakeTwilio) -> None:
    http = await console(tw)
    try:
        conversation_id, first_id = await reply_to_new_message(tw, http, "one")
        [first] = await sent_calls(twilio_api, 1)
        assert await twilio_api.report(first, "canceled", deliver_to=str(tw.server.make_url(""))) == 204
        one = await shown(http, conversation_id, first_id)
    finally:
        await http.close()
    assert (one["delivery"], one["delivery_error"]) == ("failed", "twilio: canceled")  # was "twilio None: canceled"


async def test_a_malformed_status_callback_is_a_400(tw: Client) -> None:
    form = {"MessageSid": sid("SM"), "AccountSid": ACCOUNT, "MessageStatus": "exploded"}
    assert await post(tw, "whatsapp", form, path="/status") == 400
    assert await post(tw, "whatsapp", {**form, "MessageStatus": "delivered"}, path="/status", header=False) == 403


async def test_sends_keep_each_senders_pace(
    make_client: AppClient, tw_settings: Settings, twilio_api: FakeTwilio
) -> None:
    tw_settings.connectors["sms"] = section(twilio_api, "sms", messages_per_second=5)
    client = await make_client(tw_settings)
    connector = client.app[CONNECTORS]["sms"]
    outs = [OutboundMessage(message_id=f"msg_{i}", channel="sms", recipient=f"+7912345670{i}",
                            author=Author.AGENT, text=f"hello {i}", created_at=utcnow()) for i in range(5)]
    started = time.monotonic()
    await asyncio.gather(*(connector.send(o) for o in outs))
    times = sorted(c.at - started for c in twilio_api.sent())
    # 5 a second to all recipients together: the k-th cannot leave before k/5 s (a little clock slack);
    # the network can only make them later
    assert len(times) == 5 and all(t >= k * 0.2 - 0.01 for k, t in enumerate(times)), times


# -- WhatsApp's 24-hour window ----------------------------------------------------------------------


async def test_after_the_window_a_free_text_reply_is_refused_and_the_template_offered(
    tw: Client, twilio_api: FakeTwilio
) -> None:
    router = tw.app[ROUTER]
    # the customer wrote a day and a minute ago (the outbox keeps real time, so the past moves, not the present)
    router.clock = lambda: utcnow() - timedelta(hours=24, minutes=1)
    assert await post(tw, "whatsapp", whatsapp_form("Где мой заказ?")) == 200
    router.clock = utcnow
    [stored] = await inbound(tw)
    assert stored.conversation_id is not None
    http = await console(tw)
    try:
        status, body = await api_reply(http, stored.conversation_id, {"text": "Sorry for the wait"})
        assert status == 409
        error = body["error"]
        assert error["code"] == "reply_window_closed"
        assert error["channel"] == "whatsapp" and error["template"] == TEMPLATE_TEXT and error["channels"] == []
        assert "reply window on 'whatsapp' has closed" in error["message"]
        assert "send the channel's template" in error["message"]

        status, body = await api_reply(http, stored.conversation_id, {}, path="template")
        assert status == 201, body
        assert body["message"]["text"] == TEMPLATE_TEXT
        await delivery_is(http, stored.conversation_id, body["message"]["id"], "sent")
    finally:
        await http.close()
    [call] = twilio_api.sent()  # the refused reply never reached Twilio
    assert call.get("ContentSid") == TEMPLATE_SID and call.get("Body") is None
    assert json.loads(call.get("ContentVariables") or "") == {"1": "Иван Петров"}
    assert call.get("To") == f"whatsapp:{CUSTOMER}"


async def test_after_the_window_the_customers_other_channel_is_offered(tw: Client, twilio_api: FakeTwilio) -> None:
    router = tw.app[ROUTER]
    router.clock = lambda: utcnow() - timedelta(hours=26)
    assert await post(tw, "whatsapp", whatsapp_form("on WhatsApp")) == 200
    router.clock = lambda: utcnow() - timedelta(hours=6)
    assert await post(tw, "sms", sms_form("and by SMS")) == 200
    # now only WhatsApp's window (24 h after its message) has closed
    router.clock = utcnow
    wa, _ = await inbound(tw)
    assert wa.conversation_id is not None
    http = await console(tw)
    try:
        status, body = await api_reply(http, wa.conversation_id, {"text": "hi", "channel": "whatsapp"})
        assert status == 409 and body["error"]["channels"] == ["sms"]
        assert "reply on 'sms'" in body["error"]["message"]
        status, body = await api_reply(http, wa.conversation_id, {"text": "hi", "channel": "sms"})
        assert status == 201, body
    finally:
        await http.close()
    [call] = await sent_calls(twilio_api, 1)
    assert (call.get("To"), call.get("Body")) == (CUSTOMER, "hi")


async def test_sms_has_no_window_and_no_template(tw: Client) -> None:
    tw.app[ROUTER].clock = lambda: utcnow() - timedelta(days=30)
    assert await post(tw, "sms", sms_form("hello")) == 200
    tw.app[ROUTER].clock = utcnow
    [stored] = await inbound(tw, "sms")
    assert stored.conversation_id is not None
    http = await console(tw)
    try:
        assert (await api_reply(http, stored.conversation_id, {"text": "a month later"}))[0] == 201
        status, body = await api_reply(http, stored.conversation_id, {}, path="template")
        assert (status, body["error"]["message"]) == (409, "channel 'sms' has no template configured")
    finally:
        await http.close()



# -- what an agent sends ---------------------------------------------------------------------


# counted in this process, the first send takes its slot without waiting, so three are sent; counted in
# the database (PgPace), every slot is a round trip, two wait and the rest go back: the rule is the same
@sqlite_only("tests/router/cluster/test_shared_state.py (the pace counted in the database)")
async def test_a_burst_beyond_the_pace_goes_back_to_the_outbox_told_when(
    make_client: AppClient, tw_settings: Settings, twilio_api: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(twilio_module, "MAX_LIMIT_WAIT", 0.2)  # at 10/s: two sends may wait, no more
    tw_settings.connectors["sms"] = section(twilio_api, "sms", messages_per_second=10)
    client = await make_client(tw_settings)
    connector = client.app[CONNECTORS]["sms"]
    outs = [OutboundMessage(message_id=f"msg_{i}", channel="sms", recipient=f"+7912345670{i}",
                            author=Author.AGENT, text=f"notice {i}", created_at=utcnow()) for i in range(6)]
    results = await asyncio.gather(*(connector.send(o) for o in outs), return_exceptions=True)
    throttled = [r for r in results if isinstance(r, RateLimited)]
    assert len(twilio_api.sent()) == 3 and len(throttled) == 3
    # each is told to come back when its turn would be, not all at the same moment
    assert sorted(t.retry_after for t in throttled) == pytest.approx([0.3, 0.4, 0.5], abs=0.02)


async def test_a_messaging_service_sends_without_a_from_number(
    make_client: AppClient, tw_settings: Settings, twilio_api: FakeTwilio
) -> None:
    service = "MG" + "0123456789abcdef" * 2
    tw_settings.connectors["sms"] = ConnectorConfig(type="twilio", flavour="sms", messaging_service_sid=service,
                                                    api_base=twilio_api.base_url)
    client = await make_client(tw_settings)
    out = OutboundMessage(message_id="msg_ms", channel="sms", recipient=CUSTOMER, author=Author.AGENT,
                          text="from the pool", created_at=utcnow())
    await client.app[CONNECTORS]["sms"].send(out)
    [call] = twilio_api.sent()
    assert (call.get("MessagingServiceSid"), call.get("From"), call.get("To")) == (service, None, CUSTOMER)


async def test_an_agent_sends_a_picture_by_url_through_the_api(tw: Client, twilio_api: FakeTwilio) -> None:
    assert await post(tw, "whatsapp", whatsapp_form("can I see it?")) == 200
    [stored] = await inbound(tw)
    assert stored.conversation_id is not None
    http = await console(tw)
    try:
        picture = {"url": "https://shop.example/p/1042.jpg", "kind": "image", "mime_type": "image/jpeg"}
        status, body = await api_reply(http, stored.conversation_id, {"attachments": [picture]})
        assert status == 201, body
        assert body["message"]["attachments"][0]["url"] == picture["url"]
        await delivery_is(http, stored.conversation_id, body["message"]["id"], "sent")
        # a reply with neither words nor files, or a file that is no web link, is refused
        for bad in ({"text": "  "}, {"attachments": [{"url": "javascript:alert(1)"}]}):
            status, body = await api_reply(http, stored.conversation_id, bad)
            assert status == 422, body
    finally:
        await http.close()
    [call] = twilio_api.sent()
    assert (call.all("MediaUrl"), call.get("Body")) == (["https://shop.example/p/1042.jpg"], None)


@pytest.mark.parametrize(("code", "status", "words", "cause"), [
    (63016, 400, "Failed to send freeform message because you are outside the allowed window.", "window_closed"),
    (21211, 400, "The 'To' number +7916 is not a valid phone number.", "no_recipient"),
])
async def test_a_final_refusal_says_why_in_the_agents_terms_and_is_sent_once(
        tw: Client, twilio_api: FakeTwilio, code: int, status: int, words: str, cause: str) -> None:
    """The console showed Twilio's code and English words («Не доставлено: twilio 63016: outside
    WhatsApp's …»): the cause before them is what the console says in the agent's language."""
    twilio_api.fail_next(status, code, words)
    http = await console(tw)
    try:
        conversation_id, reply_id = await reply_to_new_message(tw, http)
        failed = await delivery_is(http, conversation_id, reply_id, "failed")
    finally:
        await http.close()
    assert failed["delivery_error"].startswith(f"[{cause}] twilio {code}: ")
    assert len(twilio_api.calls) == 1


async def test_a_receipt_of_a_carrier_filter_says_why_in_the_agents_terms(tw: Client, twilio_api: FakeTwilio) -> None:
    http = await console(tw)
    try:
        conversation_id, reply_id = await reply_to_new_message(tw, http, "one")
        [call] = await sent_calls(twilio_api, 1)
        await delivery_is(http, conversation_id, reply_id, "sent")
        assert await twilio_api.report(call, "undelivered", error_code=30007,
                                       deliver_to=str(tw.server.make_url(""))) == 204
        failed = await delivery_is(http, conversation_id, reply_id, "failed")
    finally:
        await http.close()
    assert failed["delivery_error"] == "[rejected] twilio 30007: filtered by the carrier as spam"
