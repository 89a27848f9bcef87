"""The bot's tests: the shipped config/bot.yaml, a real SQLite store, the
real rules engine and, for external bots, a local fake Rasa server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.bot import Bot, FaqBot, load_bot_config
from router.bot.base import BotTurn
from router.bot.config import BotFile
from router.bot.e5 import E5Encoder
from router.bus import EventBus
from router.core import Router
from router.metrics import Metrics
from router.models import Customer, IdentityRef, InboundMessage, Message
from router.routing.rules import RulesRouting, load_rules
from router.store.sqlite import SQLiteStore
from tests.connectors.twilio_helpers import twilio_api  # noqa: F401  (fixture: the welcome-back tests' WhatsApp)
from tests.fakes.rasa_bot import FakeRasa
from tests.router.routing.rules.conftest import write_config

SHIPPED = Path(__file__).resolve().parents[3] / "config" / "bot.yaml"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ANNA = Customer(id="cus_anna", display_name="Анна Петрова", created_at=T0, updated_at=T0)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="session")
def shipped() -> BotFile:
    return load_bot_config(SHIPPED)


@pytest.fixture(scope="session")
def encoder() -> E5Encoder:
    return E5Encoder()  # the embedding model, loaded once for the session


@pytest.fixture(scope="session")
def faq(shipped: BotFile, encoder: E5Encoder) -> FaqBot:
    bot = FaqBot(shipped, encoder=encoder)
    bot.load()
    return bot


def turn(text: str, history: list[Message] | None = None, customer: Customer = ANNA) -> BotTurn:
    return BotTurn("conv_test", customer, text, history or [])


def say(n: int, text: str, visitor: str = "v1") -> InboundMessage:
    return InboundMessage(channel="webchat", external_id=f"{visitor}-{n}",
                          sender=IdentityRef(kind="webchat", value=visitor), text=text)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def routing(tmp_path: Path, clock: Clock) -> RulesRouting:
    return RulesRouting(load_rules(write_config(tmp_path / "config")), clock)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(tmp_path / "bot.db") as s:
        yield s


def make_router(store: SQLiteStore, routing: RulesRouting, clock: Clock, bot: Bot | None, config: BotFile | None
                ) -> Router:
    return Router(store, EventBus(), routing, Metrics(), clock=clock, bot=bot,
                  bot_messages=config.messages if config else None)


@pytest.fixture
def router(store: SQLiteStore, routing: RulesRouting, clock: Clock, faq: FaqBot, shipped: BotFile) -> Router:
    return make_router(store, routing, clock, faq, shipped)


@pytest.fixture
async def rasa() -> AsyncIterator[FakeRasa]:
    async with FakeRasa() as fake:
        yield fake
