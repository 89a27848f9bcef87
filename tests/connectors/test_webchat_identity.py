"""The site chat and identity, over the real websocket: what a visitor gives
in the hello is a claim, and a claim shows nothing of another profile."""

from __future__ import annotations

from router.models import IdentityRef, InboundMessage
from router.server.app import ROUTER, STORE
from tests.connectors.webchat_helpers import Client, first_words, hello, say, tab, visitor_ref


async def test_hello_contacts_are_claims_and_the_welcome_shows_only_ones_own_history(client: Client) -> None:
    # someone already writes on WhatsApp from this number
    await client.app[ROUTER].on_message(InboundMessage(
        channel="whatsapp", external_id="wa-1", sender=IdentityRef(kind="whatsapp", value="whatsapp:+79123456789"),
        text="Мой заказ 1234 — секрет",
    ))
    async with tab(client) as ws:
        welcome = await hello(ws, phone="8 (912) 345-67-89", email="Anna@Mail.RU", name="Анна")
        await say(ws, "Здравствуйте, это Анна")
    visitor = welcome["visitor_id"]

    store = client.app[STORE]
    customer = await store.find_identity(visitor_ref(visitor))
    assert customer is not None
    claims = {(c.kind, c.value): c.source for c in await store.customer_claims(customer.id)}
    assert claims == {("phone", "+79123456789"): "webchat:claimed_phone",
                      ("email", "anna@mail.ru"): "webchat:claimed_email"}
    # the claim linked nothing: two customers
    owner = await store.find_identity(IdentityRef(kind="whatsapp", value="+79123456789"))
    assert owner is not None and owner.id != customer.id

    async with tab(client) as ws:
        again = await hello(ws, visitor, phone="+7 912 345-67-89")
    # her message and the bot's offer of a code: nothing of the WhatsApp customer's
    assert [m["text"] for m in again["history"]] == ["Здравствуйте, это Анна", (
        "Если номер +79123456789 уже есть у нас, мы отправили на него код. Введите его здесь — и продолжим "
        "с того места, где вы остановились. Не нужно — напишите «нет, спасибо».")]


async def test_a_name_given_in_the_hello_reaches_the_agents_without_bidi_controls(client: Client) -> None:
    # U+202E turns what follows round: an agent would read "live" and believe it
    customer, stored = await first_words(client, name="\u202eevil")
    assert customer.display_name == "evil" and stored.core.sender_name == "evil"
