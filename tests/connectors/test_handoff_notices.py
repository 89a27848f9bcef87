"""Every handoff tells the customer what happens next (invariant 8), whatever
step decides it, in the customer's language, once: over the site chat (a real
websocket) and Telegram (the text the fake Bot API received), against the
whole service built from a config folder like the shipped one. The time of
day is the injected clock's, never a sleep."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient

from router.config import ConnectorConfig, Settings
from router.core import Router
from router.models import Author, Direction
from router.routing.rules import RulesRouting
from router.server.app import ROUTER, STORE, create_app
from tests.conftest import ADMIN_PASSWORD, eventually
from tests.connectors.test_telegram import SECRET, TOKEN, post, text_update
from tests.fakes.telegram_api import FakeTelegram

Client = TestClient[web.Request, web.Application]
SHIPPED = Path(__file__).resolve().parents[2] / "config"
WAIT = 60.0  # a hang detector, not a speed limit

MONDAY_NOON = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 12:00 in Moscow: the office is open
FRIDAY_NIGHT = datetime(2026, 3, 6, 19, 30, tzinfo=UTC)  # 22:30 in Moscow: closed until tomorrow 10:00

SOON = {"ru": "Передаю ваш вопрос коллеге — он скоро ответит здесь же.",
        "en": "I am passing your question to a colleague, who will answer here soon."}
CLOSED = {"ru": "Спасибо! Сейчас мы не работаем и ответим завтра в 10:00 (по Москве).",
          "en": "Thank you! We are closed now and will answer tomorrow at 10:00 (Moscow time)."}

# rules.yaml variants: which step decides
SHIPPED_RULES = "      handoff: bot_failed or asked_for_human"
BOT_DECIDES = "      handoff: bot_failed"  # the rules leave a request for a person to the bot itself
ESCALATES = "      handoff: bot_failed or asked_for_human or conversation_age > 600"


@dataclass(frozen=True)
class Case:
    path: str
    language: str
    trigger: str
    expected: str
    answered_first: list[str] = field(default_factory=list)  # questions the bot answers before the trigger
    handoff: str = SHIPPED_RULES
    at: datetime = MONDAY_NOON
    later: timedelta = timedelta(0)  # between the answered questions and the trigger


CASES = [
    Case("rule match", "ru", "позовите оператора", SOON["ru"]),
    Case("rule match", "en", "I want to talk to a real person", SOON["en"]),
    Case("rules handoff after a bot answer", "ru", "хочу поговорить с живым человеком", SOON["ru"],
         ["где мой заказ?"]),
    Case("rules handoff after a bot answer", "en", "I want to talk to a real person", SOON["en"],
         ["where is my order?"]),
    Case("bot handoff intent", "ru", "соедините с сотрудником", SOON["ru"], ["где мой заказ?"], BOT_DECIDES),
    Case("bot handoff intent", "en", "can I talk to someone", SOON["en"], ["where is my order?"], BOT_DECIDES),
    Case("low confidence", "ru", "у вас есть вакансии?", SOON["ru"]),
    Case("low confidence", "en", "recommend a gaming laptop", SOON["en"]),
    Case("escalation", "ru", "сколько стоит доставка в Казань?", SOON["ru"], ["где мой заказ?"], ESCALATES,
         later=timedelta(minutes=11)),
    Case("escalation", "en", "how much is delivery to Boston?", SOON["en"], ["where is my order?"], ESCALATES,
         later=timedelta(minutes=11)),
    Case("after hours, rule match", "ru", "позовите менеджера", CLOSED["ru"], at=FRIDAY_NIGHT),
    Case("after hours, rule match", "en", "let me talk to an agent", CLOSED["en"], at=FRIDAY_NIGHT),
    Case("after hours, after a bot answer", "ru", "позовите человека", CLOSED["ru"], ["где мой заказ?"],
         at=FRIDAY_NIGHT),
    Case("after hours, after a bot answer", "en", "I want to talk to a real person", CLOSED["en"],
         ["where is my order?"], at=FRIDAY_NIGHT),
    Case("after hours, low confidence", "en", "recommend a gaming laptop", CLOSED["en"], at=FRIDAY_NIGHT),
]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Customer(Protocol):
    async def write(self, text: str) -> None: ...

    async def received(self) -> list[str]:
        """What reached the customer so far (bot and agent texts), in order."""
        ...


class SiteVisitor:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []

    async def read(self) -> None:
        async for msg in self.ws:
            if msg.type is WSMsgType.TEXT:
                self.frames.append(json.loads(msg.data))

    async def write(self, text: str) -> None:
        await self.ws.send_json({"type": "message", "text": text, "client_id": str(uuid.uuid4())})

    async def received(self) -> list[str]:
        return [f["text"] for f in self.frames if f.get("type") == "message" and f.get("author") != "customer"]


class TelegramUser:
    def __init__(self, client: Client, api: FakeTelegram) -> None:
        self.client = client
        self.api = api
        self.n = 0

    async def write(self, text: str) -> None:
        self.n += 1
        assert await post(self.client, text_update(self.n, text)) == 200

    async def received(self) -> list[str]:
        self.client.app[ROUTER].outbox_wakeup.set()  # see tests/connectors/test_telegram.py: calls()
        return [str(c.params["text"]) for c in self.api.sent("sendMessage")]


def config_folder(folder: Path, handoff: str) -> Path:
    shutil.copytree(SHIPPED, folder)
    rules = (folder / "rules.yaml").read_text(encoding="utf-8")
    assert rules.count(SHIPPED_RULES) == 1
    (folder / "rules.yaml").write_text(rules.replace(SHIPPED_RULES, handoff), encoding="utf-8")
    bot = (folder / "bot.yaml").read_text(encoding="utf-8")
    # words only: no embedding model to load, and the same handoffs for these messages
    (folder / "bot.yaml").write_text(bot.replace("  method: hybrid", "  method: lexical"), encoding="utf-8")
    return folder


Start = Callable[[Case], Awaitable[tuple[Client, Customer]]]


@pytest.fixture(params=["site chat", "telegram"])
async def start(
    request: pytest.FixtureRequest, aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tg_api: FakeTelegram,
) -> AsyncIterator[Start]:
    """The whole service on a copy of the shipped config folder, its clock set
    to the case's time, and a customer on the channel."""
    monkeypatch.setenv("OMNIROUTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("OMNIROUTER_TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("OMNIROUTER_TELEGRAM_SECRET", SECRET)
    readers: list[asyncio.Task[None]] = []
    sockets: list[aiohttp.ClientWebSocketResponse] = []

    async def start_(case: Case) -> tuple[Client, Customer]:
        settings.connectors = {"webchat": ConnectorConfig(type="webchat")}
        if request.param == "telegram":
            settings.server.public_url = "https://support.example.com"
            settings.connectors = {"telegram": ConnectorConfig(type="telegram", api_base=tg_api.base_url)}
        app = create_app(settings, config_folder(tmp_path / "config", case.handoff), base_dir=tmp_path)
        clock = Clock(case.at)
        router = app[ROUTER]
        router.clock = clock
        assert isinstance(router.routing, RulesRouting)
        router.routing.clock = clock
        client = await aiohttp_client(app)
        if request.param == "telegram":
            return client, TelegramUser(client, tg_api)
        ws = await client.ws_connect("/chat/ws")
        sockets.append(ws)
        visitor = SiteVisitor(ws)
        await ws.send_json({"type": "hello"})
        readers.append(asyncio.create_task(visitor.read()))
        return client, visitor

    yield start_
    for ws in sockets:
        await ws.close()
    for task in readers:
        await task


async def reached(customer: Customer, count: int, what: str) -> list[str]:
    async def probe() -> list[str] | None:
        texts = await customer.received()
        return texts if len(texts) >= count else None

    return await eventually(probe, what, WAIT)


async def settle(router: Router) -> None:
    """Every bot turn done: a second notice, if any path sent one, is in the store now."""
    assert router.bot_desk is not None
    await router.bot_desk.drain()


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.path}, {c.language}")
async def test_every_handoff_tells_the_customer_what_happens_next_once(start: Start, case: Case) -> None:
    client, customer = await start(case)
    router = client.app[ROUTER]
    for n, question in enumerate(case.answered_first, 1):
        await customer.write(question)
        await reached(customer, n, f"the bot's answer to {question!r}")
    clock = router.clock
    assert isinstance(clock, Clock)
    clock.now += case.later
    await customer.write(case.trigger)
    texts = await reached(customer, len(case.answered_first) + 1, "what happens next")
    assert texts[-1] == case.expected
    await settle(router)
    conversations = await client.app[STORE].list_conversations(None, 10)
    [conversation] = conversations
    assert conversation.status.value == "queued"
    said = [m for m in await client.app[STORE].list_messages(conversation.id, 50) if m.direction is Direction.OUT]
    assert [m.author for m in said] == [Author.BOT] * (len(case.answered_first) + 1)  # one notice, no second one
    assert said[-1].text == case.expected
    assert conversation.last_message_text == case.trigger  # the console's list shows what the customer said
