"""Which connectors run is decided by their secrets: no token means off (a
fresh install starts with the shipped config and no token at all); a token
without the webhook's secret means a clear error and no start, never a
webhook anyone could post to."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest

from router.app import CONNECTORS, create_app
from router.config import load_settings
from router.yamlconf import ConfigError

SHIPPED = Path(__file__).resolve().parents[2] / "config"
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.fixture
def no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OMNIROUTER_") and name != "OMNIROUTER_ADMIN_PASSWORD":
            monkeypatch.delenv(name)




@pytest.mark.usefixtures("no_secrets")
def test_the_shipped_config_starts_without_any_token(tmp_path: Path) -> None:
    settings = load_settings(SHIPPED)
    settings.store.path = str(tmp_path / "omnirouter.db")
    settings.store.writer = "thread"
    app = create_app(settings, base_dir=tmp_path)
    assert list(app[CONNECTORS]) == ["webchat"]


@pytest.mark.usefixtures("no_secrets")
@pytest.mark.parametrize(("env", "says"), [
    ({"OMNIROUTER_TELEGRAM_TOKEN": TOKEN},
     "connectors.telegram (telegram): mode webhook needs a secret: set OMNIROUTER_TELEGRAM_SECRET"),
    ({"OMNIROUTER_VK_TOKEN": "vk1.a.a-community-token"},
     "connectors.vk (vk): mode callback needs the Callback API secret key: set OMNIROUTER_VK_SECRET"),
    ({"OMNIROUTER_TWILIO_ACCOUNT_SID": "AC" + "0" * 32},
     "connectors.whatsapp (twilio): set OMNIROUTER_TWILIO_AUTH_TOKEN"),
])
def test_a_token_without_its_webhook_secret_is_a_clear_start_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], says: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(SHIPPED)
    settings.store.path = str(tmp_path / "omnirouter.db")
    with pytest.raises(ConfigError) as info:
        create_app(settings, base_dir=tmp_path)
    assert any(p.startswith(says) for p in info.value.problems), info.value.problems


async def test_omnirouter_run_refuses_to_start_and_says_why_without_the_token(tmp_path: Path) -> None:
    shutil.copy(SHIPPED / "omnirouter.yaml", tmp_path / "omnirouter.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIROUTER_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "router.cli", "--log-level", "DEBUG", "run", "--config", str(tmp_path),
        env={**env, "OMNIROUTER_TELEGRAM_TOKEN": TOKEN}, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 1
    text = (out + err).decode()
    assert "connectors.telegram (telegram): mode webhook needs a secret: set OMNIROUTER_TELEGRAM_SECRET" in text
    assert "Traceback" not in text
    assert TOKEN not in text and TOKEN.split(":", 1)[1] not in text
