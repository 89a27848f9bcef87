"""The service with two channels of one customer: Telegram and WhatsApp
(through Twilio), each through its local fake. Shared by the tests of
Telegram's own contact and of the satisfaction survey (imported by
conftest.py, so each module gets the fixtures without importing them)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from agents_ui.sessions import ADMIN_SEED
from router.config import ConnectorConfig, Settings
from router.server.app import create_app
from tests.conftest import ADMIN_PASSWORD
from tests.connectors import test_telegram as tg
from tests.connectors import twilio_helpers as tw
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import FakeTwilio

Client = TestClient[web.Request, web.Application]


@pytest.fixture
def both(settings: Settings, tg_api: FakeTelegram, twilio_api: FakeTwilio, monkeypatch: pytest.MonkeyPatch
         ) -> Settings:
    """The settings with both connectors (the app is made by each module's ``start``); the
    console's admin password set, for the tests that log in."""
    monkeypatch.setenv("OMNIROUTER_TELEGRAM_TOKEN", tg.TOKEN)
    monkeypatch.setenv("OMNIROUTER_TELEGRAM_SECRET", tg.SECRET)
    monkeypatch.setenv("OMNIROUTER_TWILIO_ACCOUNT_SID", tw.ACCOUNT)
    monkeypatch.setenv("OMNIROUTER_TWILIO_AUTH_TOKEN", tw.TOKEN)
    monkeypatch.setenv("OMNIROUTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
    settings.server.public_url = tg.PUBLIC_URL
    settings.connectors["telegram"] = ConnectorConfig(type="telegram", api_base=tg_api.base_url)
    settings.connectors["whatsapp"] = tw.section(twilio_api, "whatsapp")
    return settings


async def serve(aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, config_dir: Path | None,
                base_dir: Path) -> Client:
    """The whole service, its admin account seeded."""
    app = create_app(settings, config_dir=config_dir, base_dir=base_dir)
    client = await aiohttp_client(app)
    await app[ADMIN_SEED].wait()
    return client
