"""Which connectors run is decided by their secrets: no token means off (a
fresh install starts with the shipped config and no token at all); a token
without the webhook's secret means a clear error and no start, never a
webhook anyone could post to."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from router.config import ConnectorConfig, Settings
from router.server.app import CONNECTORS, create_app
from router.server.settings import load_settings
from router.yamlconf import ConfigError
from tests.conftest import ADMIN_PASSWORD
from tests.e2e.conftest import free_port
from tests.fakes.telegram_api import FakeTelegram

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


async def _healthy(base: str, proc: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 120  # a hang detector: a busy machine imports aiogram slowly
    async with aiohttp.ClientSession() as http:
        while True:
            assert proc.returncode is None, f"omnirouter exited with {proc.returncode}"
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{base}/healthz") as resp:
                    if resp.status == 200:
                        return
            assert time.monotonic() < deadline, "omnirouter did not become healthy"
            await asyncio.sleep(0.1)


async def test_omnirouter_runs_and_its_stderr_never_shows_the_token(tmp_path: Path) -> None:
    """The finding end to end, on the real command at DEBUG: a customer's photo
    comes by long polling, Telegram's file server fails while an admin opens
    it; neither the answer nor the process's whole stderr holds the token."""
    fake = FakeTelegram(TOKEN)
    await fake.start()
    port = free_port()
    (tmp_path / "omnirouter.yaml").write_text(
        f"server:\n  port: {port}\nstore:\n  path: {tmp_path / 'run.db'}\n  writer: thread\n"
        f"connectors:\n  webchat:\n    type: webchat\n  telegram:\n    type: telegram\n    mode: polling\n"
        f"    polling_timeout: 1\n    api_base: {fake.base_url}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIROUTER_")}
    stderr = (tmp_path / "stderr.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "router.cli", "--log-level", "DEBUG", "run", "--config", str(tmp_path),
        env={**env, "OMNIROUTER_TELEGRAM_TOKEN": TOKEN, "OMNIROUTER_ADMIN_PASSWORD": ADMIN_PASSWORD},
        cwd=tmp_path, stdout=stderr, stderr=stderr,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await _healthy(base, proc)
        fake.add_file("AgACAgIAAxkBAAMFZ0-large", "photos/file_7.jpg", b"\xff\xd8 a photo")
        fake.file_status = 500
        fake.push_update({"update_id": 900000001, "message": {
            "message_id": 7, "date": 1732460000, "caption": "look",
            "from": {"id": 5551234, "is_bot": False, "first_name": "Ivan"},
            "chat": {"id": 5551234, "first_name": "Ivan", "type": "private"},
            "photo": [{"file_id": "AgACAgIAAxkBAAMFZ0-large", "file_unique_id": "AQADa7sxGy", "file_size": 9,
                       "width": 1280, "height": 960}]}})
        async with aiohttp.ClientSession(base) as http:
            async with http.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD}) as resp:
                assert resp.status == 200
                http.headers["Cookie"] = "; ".join(f"{k}={v.value}" for k, v in resp.cookies.items())
            deadline = time.monotonic() + 120
            while True:
                async with http.get("/api/conversations?status=all") as resp:
                    conversations = (await resp.json())["conversations"]
                if conversations:
                    break
                assert time.monotonic() < deadline, "the polled photo was never stored"
                await asyncio.sleep(0.1)
            async with http.get(f"/api/conversations/{conversations[0]['id']}/messages") as resp:
                [photo] = [m for m in (await resp.json())["messages"] if m["author"] == "customer"]
            async with http.get(f"/api/messages/{photo['id']}/attachments/0") as resp:
                answer = f"{resp.headers}\n{await resp.text()}"
                assert resp.status == 502
        assert fake.sent("download"), "the file server was not asked"
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 120)
        stderr.close()
        await fake.close()
    log = (tmp_path / "stderr.log").read_text(encoding="utf-8", errors="replace")
    assert "getUpdates" in log or "telegram" in log  # the DEBUG log was written
    for form in (TOKEN, quote(TOKEN, safe=""), TOKEN.split(":", 1)[1], ADMIN_PASSWORD):
        assert form not in answer
        assert form not in log, f"a secret in omnirouter's stderr:\n{log[-3000:]}"


@pytest.mark.usefixtures("no_secrets")
@pytest.mark.parametrize(("env", "section"), [
    ({"OMNIROUTER_TELEGRAM_TOKEN": TOKEN}, {"type": "telegram", "mode": "polling"}),
    ({"OMNIROUTER_VK_TOKEN": "vk1.a.a-community-token"}, {"type": "vk", "mode": "longpoll", "group_id": 1}),
    ({"OMNIROUTER_EMAIL_PASSWORD": "mailbox-password"},
     {"type": "email", "address": "support@shop.example", "imap_host": "imap.shop.example",
      "smtp_host": "smtp.shop.example"}),
])
def test_a_polling_connector_mounts_no_webhook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], section: dict[str, object],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    settings.store.path = str(tmp_path / "omnirouter.db")
    settings.connectors = {"polled": ConnectorConfig.model_validate(section)}
    app = create_app(settings, base_dir=tmp_path)
    assert list(app[CONNECTORS]) == ["polled"]
    paths = [r.resource.canonical for r in app.router.routes() if r.resource is not None]
    assert not [p for p in paths if p.startswith("/webhooks/")], paths


@pytest.mark.parametrize("host", ["http://files.lan", "files.lan/x", "user@files.lan", ""])
def test_an_allowlist_entry_is_a_host(tmp_path: Path, host: str) -> None:
    (tmp_path / "omnirouter.yaml").write_text(f"fetch:\n  allow_hosts: ['{host}']\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    [problem] = info.value.problems
    assert problem.startswith(f"{tmp_path / 'omnirouter.yaml'}:2: fetch.allow_hosts: ")
    assert f"{host!r} is not a host" in problem
