"""A message without words ("5", "👍", "/start") is answered in the
customer's language, not in English: the conversation's words before it,
else what the channel knows (Telegram's app language, the widget's), else
Russian. The whole service on the shipped config, over a real websocket and
Telegram's webhook; after hours, so the answer is the rules' notice (to
"/start", the bot's greeting)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType

from connectors.vk_inbound import customer_message, to_inbound
from router.bot.config import Messages
from router.config import ConnectorConfig, Settings
from router.routing.rules import RulesRouting
from router.server.app import ROUTER, create_app
from tests.conftest import ADMIN_PASSWORD, eventually
from tests.connectors.test_handoff_notices import (  # noqa: F401  (start: the fixture)
    CLOSED,
    FRIDAY_NIGHT,
    WAIT,
    Case,
    Client,
    Clock,
    config_folder,
    reached,
    start,
)
from tests.connectors.test_telegram import SECRET, TOKEN, message, post, update
from tests.connectors.test_vk import CLIENT_INFO, event, vk_message
from tests.fakes.telegram_api import FakeTelegram

GREETED = Messages().greeting


@pytest.mark.parametrize(("before", "wordless", "expected"), [
    ([], "5", CLOSED["ru"]),
    # a thumbs up right after an answer is a customer who got it (said goodbye to: tests/router/bot/test_goodbye.py)
    (["где мой заказ?"], "5", CLOSED["ru"]),
    (["where is my order?"], "5", CLOSED["en"]),
], ids=["first message", "after Russian", "after English"])
async def test_a_message_without_words_is_answered_in_the_customers_language(
        start: Start, before: list[str], wordless: str, expected: str) -> None:  # noqa: F811
    _, customer = await start(Case("wordless", "", wordless, expected, at=FRIDAY_NIGHT))
    for n, question in enumerate(before, 1):
        await customer.write(question)
        await reached(customer, n, f"the bot's answer to {question!r}")
    await customer.write(wordless)
    texts = await reached(customer, len(before) + 1, "what happens next")
    assert texts[-1] == expected


Start = Callable[[Case], Awaitable[tuple[Client, Any]]]


async def _service(aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, tmp_path: Path,
                   connectors: dict[str, ConnectorConfig]) -> Client:
    settings.connectors = connectors
    settings.server.public_url = "https://support.example.com"
    app = create_app(settings, config_folder(tmp_path / "config", "      handoff: bot_failed or asked_for_human"),
                     base_dir=tmp_path)
    clock = Clock(FRIDAY_NIGHT)
    app[ROUTER].clock = clock
    assert isinstance(app[ROUTER].routing, RulesRouting)
    app[ROUTER].routing.clock = clock
    return await aiohttp_client(app)


@pytest.mark.parametrize(("code", "expected"), [("en", GREETED["en"]), ("ru", GREETED["ru"]), ("uk", GREETED["ru"])],
                         ids=["en", "ru", "uk"])
async def test_telegrams_start_is_answered_in_the_apps_language(
        aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, tg_api: FakeTelegram, code: str, expected: str) -> None:
    """"/start", every Telegram customer's first message, has no words of its own.
    The bot greets back (tests/connectors/test_greeting_first.py), after hours
    too: the bot answers at any hour, and nobody is waited for."""
    monkeypatch.setenv("OMNIROUTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("OMNIROUTER_TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("OMNIROUTER_TELEGRAM_SECRET", SECRET)
    client = await _service(aiohttp_client, settings, tmp_path,
                            {"telegram": ConnectorConfig(type="telegram", api_base=tg_api.base_url)})
    start_ = message(1, text="/start", entities=[{"type": "bot_command", "offset": 0, "length": 6}])
    start_["from"]["language_code"] = code
    assert await post(client, update(message=start_)) == 200

    async def sent() -> str | None:
        client.app[ROUTER].outbox_wakeup.set()
        texts = [str(c.params["text"]) for c in tg_api.sent("sendMessage")]
        return texts[-1] if texts else None

    assert await eventually(sent, "the answer to /start", WAIT) == expected


@pytest.mark.parametrize(("lang", "expected"), [("en", CLOSED["en"]), ("ru", CLOSED["ru"])], ids=["en", "ru"])
async def test_the_site_chat_answers_a_wordless_message_in_the_widgets_language(
        aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, lang: str, expected: str) -> None:
    monkeypatch.setenv("OMNIROUTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
    client = await _service(aiohttp_client, settings, tmp_path, {"webchat": ConnectorConfig(type="webchat")})
    async with asyncio.timeout(WAIT), client.ws_connect("/chat/ws") as ws:  # a hang detector
        await ws.send_json({"type": "hello", "lang": lang})
        await ws.send_json({"type": "message", "text": "5", "client_id": str(uuid.uuid4())})
        async for frame in ws:
            assert frame.type is WSMsgType.TEXT
            data: dict[str, Any] = json.loads(frame.data)
            if data.get("type") == "message" and data.get("author") == "bot":
                assert data["text"] == expected
                break


@pytest.mark.parametrize(("lang_id", "language"), [(0, "ru"), (3, "en"), (1, "uk"), (99, None), ("0", None)])
def test_vks_client_language_is_the_messages_hint(lang_id: object, language: str | None) -> None:
    """VK gives the customer's app language as ``client_info.lang_id`` (0 Russian, 3 English...)."""
    found = customer_message(event("message_new", {"message": vk_message(7, "", attachments=[]),
                                                   "client_info": {**CLIENT_INFO, "lang_id": lang_id}}))
    assert found is not None
    assert to_inbound("vk", *found, "Анна").language == language
