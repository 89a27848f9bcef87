"""The store's contract for a customer's last contact on each channel (the
agent's panel), on every backend of tests/router/store/test_contract.py."""

from __future__ import annotations

from datetime import timedelta

from router.identity.types import MergeRequest
from router.models import (
    Author,
    CoreMeta,
    Delivery,
    Direction,
    IdentityRef,
    InboundMessage,
    Message,
    OutboundMessage,
    new_id,
)
from router.store.base import Store
from tests.router.store.test_contract import T0, ingest


def _message(channel: str, sender: str, external_id: str, text: str) -> InboundMessage:
    return InboundMessage(channel=channel, external_id=external_id, sender=IdentityRef(kind=channel, value=sender),
                          text=text)


async def _bot_answer(store: Store, conversation_id: str, customer_id: str, intent: str, kind: str = "answer") -> None:
    message = Message(id=new_id("msg"), conversation_id=conversation_id, customer_id=customer_id,
                      direction=Direction.OUT, author=Author.BOT, channel="whatsapp", text="answer",
                      created_at=T0 + timedelta(minutes=1), delivery=Delivery.PENDING,
                      core=CoreMeta(bot={"kind": kind, "intent": intent}))
    payload = OutboundMessage(message_id=message.id, channel="whatsapp", recipient="+1", author=Author.BOT,
                              text="answer", created_at=message.created_at)
    await store.enqueue_outbound(message, payload, None, message.created_at)


async def test_last_contact_on_each_channel_with_what_the_bot_answered(store: Store) -> None:
    _, conv = await ingest(store, _message("whatsapp", "+79990001122", "w1", "Сколько идёт доставка?"), T0)
    customer = (await store.get_conversation(conv)).customer_id
    await _bot_answer(store, conv, customer, "delivery_time")
    # a later message on the same channel, which the bot handed off (a guess is no topic)
    later, _ = await ingest(store, _message("whatsapp", "+79990001122", "w2", "А если " + "очень " * 30 + "долго?"),
                            T0 + timedelta(hours=2))
    await _bot_answer(store, conv, customer, "delivery_time", kind="handoff")
    # someone else, in the site chat
    _, other_conv = await ingest(store, _message("webchat", "v-1", "c1", "Hello there"), T0 - timedelta(days=1))
    other = (await store.get_conversation(other_conv)).customer_id
    await _bot_answer(store, other_conv, other, "returns")

    contacts = await store.last_contacts(customer)
    assert [c.channel for c in contacts] == ["whatsapp"]
    (whatsapp,) = contacts
    assert whatsapp.message_id == later.id and whatsapp.at == T0 + timedelta(hours=2)
    assert whatsapp.intent is None  # its answer was a handoff
    assert whatsapp.preview.startswith("А если очень") and whatsapp.preview.endswith("…")
    assert len(whatsapp.preview) <= 81

    site = await store.last_contacts(other)
    assert [(c.channel, c.intent, c.preview) for c in site] == [("webchat", "returns", "Hello there")]
    assert await store.last_contacts("cus_nobody") == []


async def test_last_contacts_are_most_recent_first_and_the_answer_read_is_the_one_to_that_message(store: Store
                                                                                                  ) -> None:
    _, conv_a = await ingest(store, _message("whatsapp", "+79990001122", "w1", "delivery?"), T0)
    a = (await store.get_conversation(conv_a)).customer_id
    await _bot_answer(store, conv_a, a, "delivery_time")
    _, conv_b = await ingest(store, _message("webchat", "v-2", "c1", "hi again"), T0 + timedelta(hours=5))
    b = (await store.get_conversation(conv_b)).customer_id
    await store.merge_customers(MergeRequest(a, b, "agent", "ann", "same person"), T0 + timedelta(hours=6))
    contacts = await store.last_contacts(a)
    assert [(c.channel, c.intent) for c in contacts] == [("webchat", None), ("whatsapp", "delivery_time")]


async def test_a_message_without_words_shows_its_description_as_conversation_lists_do(store: Store) -> None:
    # a photo, or a Telegram contact: the connector's description is all there is to show
    photo = InboundMessage(channel="telegram", external_id="t1", sender=IdentityRef(kind="telegram", value="42"),
                           text="", description="[photo]")
    _, conv = await ingest(store, photo, T0)
    customer = (await store.get_conversation(conv)).customer_id
    [contact] = await store.last_contacts(customer)
    assert contact.preview == "[photo]"
    assert (await store.get_conversation(conv)).last_message_text == "[photo]"
