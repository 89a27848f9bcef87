"""An agent typing, shown on Telegram (``sendChatAction``) and VK
(``messages.setActivity``) through their fakes; a VK user typing to the
community (``message_typing_state``) shown in the console. Best-effort all:
never through the outbox, and a platform's failure changes nothing."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from router.config import Settings
from router.server.app import STORE
from tests.agents_ui.conftest import login, next_event
from tests.conftest import AppClient, eventually
from tests.connectors import test_telegram as tg
from tests.connectors import test_vk as vk
from tests.connectors.test_telegram import tg_api, tg_settings  # noqa: F401  (fixtures)
from tests.connectors.test_vk import vk_api, vk_settings  # noqa: F401  (fixtures)
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.vk_api import GROUP_ID, FakeVk

Client = TestClient[web.Request, web.Application]


@pytest.fixture
def console_over_http(tg_settings: Settings) -> Settings:  # noqa: F811
    """The console's cookie is Secure under an https public URL: these tests log in over plain http."""
    tg_settings.server.public_url = None
    return tg_settings


async def conversation_of(client: Client) -> str:
    resp = await client.get("/api/conversations")
    [conv] = [c["id"] for c in (await resp.json())["conversations"]]
    return str(conv)


async def typing(client: Client, conv: str) -> bool:
    resp = await client.post(f"/api/conversations/{conv}/typing", json={})
    assert resp.status == 200, await resp.text()
    shown: bool = (await resp.json())["shown"]
    return shown


async def outbox_entries(client: Client, conv: str) -> int:
    return len([m for m in await client.app[STORE].list_messages(conv, 100) if m.direction.value == "out"])


async def test_an_agent_typing_is_a_chat_action_on_telegram(
        make_client: AppClient, console_over_http: Settings, tg_api: FakeTelegram) -> None:  # noqa: F811
    client = await make_client(console_over_http)
    await login(client)
    assert await tg.post(client, tg.text_update(1, "Где мой заказ?")) == 200
    conv = await conversation_of(client)
    assert await typing(client, conv)
    [call] = tg_api.sent("sendChatAction")
    assert (call.params["chat_id"], call.params["action"]) == (str(tg.USER), "typing")
    # an agent's every key is not a call: at most one every 3 s (Telegram shows it for ~5 s anyway)
    for _ in range(20):
        assert await typing(client, conv)
    assert 1 <= len(tg_api.sent("sendChatAction")) < 20
    assert await outbox_entries(client, conv) == 0  # never a message


async def test_a_failing_chat_action_changes_nothing(
        make_client: AppClient, console_over_http: Settings, tg_api: FakeTelegram) -> None:  # noqa: F811
    client = await make_client(console_over_http)
    await login(client)
    assert await tg.post(client, tg.text_update(1, "Алло")) == 200
    tg_api.fail_next(500, "Internal Server Error", method="sendChatAction")
    conv = await conversation_of(client)
    assert await typing(client, conv)  # dropped, said at debug only
    assert [c.method for c in tg_api.sent("sendChatAction")] == ["sendChatAction"]
    assert await outbox_entries(client, conv) == 0


async def test_an_agent_typing_is_an_activity_on_vk(
        make_client: AppClient, vk_settings: Settings, vk_api: FakeVk) -> None:  # noqa: F811
    client = await make_client(vk_settings)
    await login(client)
    assert await vk.post(client, vk.message_new(1, "Здравствуйте")) == (200, "ok")
    conv = await conversation_of(client)
    assert await typing(client, conv)

    async def activity() -> list[object] | None:
        return vk_api.sent("messages.setActivity") or None

    [call] = await eventually(activity, "messages.setActivity")
    assert call.params["peer_id"] == str(vk.USER) and call.params["type"] == "typing"
    assert call.params["group_id"] == str(GROUP_ID)
    assert await outbox_entries(client, conv) == 0


async def test_a_vk_user_typing_is_shown_in_the_console(
        make_client: AppClient, vk_settings: Settings, vk_api: FakeVk) -> None:  # noqa: F811
    client = await make_client(vk_settings)
    await login(client)
    live = await client.ws_connect("/api/ws")
    # before any conversation: nothing to show, and still "ok" (VK must not send it again)
    early = vk.event("message_typing_state", {"state": "typing", "from_id": vk.USER, "to_id": -GROUP_ID})
    assert await vk.post(client, early) == (200, "ok")
    assert await vk.post(client, vk.message_new(1, "Здравствуйте")) == (200, "ok")
    conv = (await next_event(live, "message.created"))["message"]["conversation_id"]
    typed = vk.event("message_typing_state", {"state": "typing", "from_id": vk.USER, "to_id": -GROUP_ID})
    assert await vk.post(client, typed) == (200, "ok")
    assert await next_event(live, "conversation.typing") == {"conversation_id": conv, "author": "customer"}
    assert len(await vk.inbound(client)) == 1  # nothing stored of it
    await live.close()


@pytest.mark.parametrize("obj", [
    {"state": "typing", "from_id": -GROUP_ID, "to_id": vk.USER},  # the community's admin typing
    {"state": "typing", "from_id": 2000000001, "to_id": -GROUP_ID},  # a group chat
    {"state": "typing", "from_id": "712345678", "to_id": -GROUP_ID},  # not VK's shape
    {"state": "audiomessage", "from_id": vk.USER, "to_id": -GROUP_ID},
])
async def test_other_typing_states_are_acknowledged_and_ignored(
        make_client: AppClient, vk_settings: Settings, vk_api: FakeVk, obj: dict[str, object]) -> None:  # noqa: F811
    client = await make_client(vk_settings)
    assert await vk.post(client, vk.message_new(1, "Здравствуйте")) == (200, "ok")
    await login(client)
    live = await client.ws_connect("/api/ws")
    assert await vk.post(client, vk.event("message_typing_state", obj)) == (200, "ok")
    # a marker after it: had the typing been shown, it would have come first
    assert await vk.post(client, vk.message_new(2, "Ещё")) == (200, "ok")
    frame = await live.receive_json()
    while frame["type"] != "message.created":
        assert frame["type"] != "conversation.typing"
        frame = await live.receive_json()
    await live.close()
