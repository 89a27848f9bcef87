"""A site-chat visitor's token is a credential (a hello with it reads their history and
writes as them): it stays between the widget and the chat. What agents and integrators
see of the visitor (the message's sender, the customer's identities, the event pushed
to the console and sent to webhooks) is the token's public part, which proves nothing."""

from __future__ import annotations

import json
from typing import Any

from connectors.webchat import WebChatConnector
from router.appkeys import CONNECTORS, STORE
from router.models import Author, Delivery, IdentityRef, OutboundMessage
from tests.agents_ui.conftest import login, next_event
from tests.conftest import eventually
from tests.connectors.webchat_helpers import Client, hello, receive, reload_history, say, tab, visitor_ref
from tests.fakes.webhook_receiver import WebhookReceiver


def _secret_part(token: str) -> str:
    random_part, dot, signature = token.partition(".")
    assert dot and random_part and len(signature) >= 16, token
    return signature


def _without(signature: str, what: str, seen: Any) -> None:
    text = json.dumps(seen, ensure_ascii=False)
    assert signature not in text, f"{what} carries the visitor's token: {text[:400]}"


async def test_agents_and_integrators_never_get_the_visitors_token(client: Client,
                                                                   receiver: WebhookReceiver) -> None:
    await login(client)
    resp = await client.post("/api/webhooks", json={"url": receiver.url("/hook"), "events": ["message.created"],
                                                    "allow_private": True})
    assert resp.status == 201, await resp.text()
    receiver.secrets.append((await resp.json())["secret"])
    console = await client.ws_connect("/api/ws")
    async with tab(client) as ws:
        token = (await hello(ws))["visitor_id"]
        ack = await say(ws, "Мой паспорт 4510 123456")
    signature = _secret_part(token)
    public = token.partition(".")[0]

    pushed = await next_event(console, "message.created")
    await console.close()
    assert pushed["message"]["id"] == ack["id"]
    assert pushed["message"]["sender"] == {"kind": "webchat", "value": public}
    _without(signature, "the console's live event", pushed)

    async def delivered() -> list[dict[str, Any]] | None:
        return receiver.events("message.created") or None

    [event] = await eventually(delivered, "the webhook delivery")
    assert event["data"]["message"]["sender"]["value"] == public
    _without(signature, "the webhook's event", event)

    store = client.app[STORE]
    customer = await store.find_identity(IdentityRef(kind="webchat", value=public))
    assert customer is not None
    assert await store.find_identity(IdentityRef(kind="webchat", value=token)) is None
    shown = await (await client.get(f"/api/customers/{customer.id}")).json()
    assert [i["ref"] for i in shown["identities"]] == [{"kind": "webchat", "value": public}]
    _without(signature, "the console's customer", shown)
    conversation = pushed["conversation"]["id"]
    messages = await (await client.get(f"/api/conversations/{conversation}/messages")).json()
    assert ack["id"] in [m["id"] for m in messages["messages"]]
    _without(signature, "the console's messages", messages)


async def test_the_welcome_still_gives_the_widget_its_whole_token(client: Client) -> None:
    """The widget keeps what the welcome gives it and says hello with it on its next visit:
    the token, never only its public part (which opens nothing)."""
    async with tab(client) as ws:
        token = (await hello(ws))["visitor_id"]
        await say(ws, "first")
    _secret_part(token)
    history = await reload_history(client, token)
    assert [m["text"] for m in history] == ["first"]
    async with tab(client) as ws:  # the public part alone is no one's token: a new visitor
        welcome = await hello(ws, token.partition(".")[0])
    assert welcome["visitor_id"] != token and welcome["history"] == []


async def test_a_reply_addressed_to_the_whole_token_still_reaches_the_visitor(client: Client) -> None:
    """An outbox entry written before the upgrade names the visitor by their token: it reaches them."""
    async with tab(client) as ws:
        token = (await hello(ws))["visitor_id"]
        ack = await say(ws, "hello")
        store = client.app[STORE]
        customer = await store.find_identity(visitor_ref(token))
        assert customer is not None
        [stored] = await store.customer_messages(customer.id, 10)
        assert stored.id == ack["id"]
        chat = client.app[CONNECTORS]["webchat"]
        assert isinstance(chat, WebChatConnector)
        await chat.send(OutboundMessage(message_id="msg_legacy", channel="webchat", recipient=token,
                                        author=Author.AGENT, text="written before the upgrade",
                                        created_at=stored.created_at))
        frame = await receive(ws)
    assert (frame["id"], frame["text"]) == ("msg_legacy", "written before the upgrade")
    assert stored.delivery is Delivery.RECEIVED
