"""Browser tests: the real service started by its CLI, driven in Debian's
headless Chromium through Playwright (which never downloads a browser)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.conftest import HANG
from tests.connectors import test_telegram as tg
from tests.connectors.test_vk import vk_api  # noqa: F401  (the connectors' tests' fixture)
from tests.connectors.twilio_helpers import (
    ACCOUNT,
    TOKEN,
    WA_NUMBER,
    twilio_api,  # noqa: F401  (the connectors' tests' fixture)
)
from tests.fakes.telegram_api import FakeTelegram

ADMIN_PASSWORD = "e2e admin password"
REPO = Path(__file__).resolve().parents[2]
# Playwright's assertions retry for 5 s by default: a busy machine can take longer
# to render what the test waits for. The ceiling is a hang detector.
expect.set_options(timeout=HANG * 1000)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # a shop's page the test serves itself (so of no known address) opens the site
    # chat's socket to the local service: Local Network Access checks refuse that
    # otherwise. Every page here is local, so no test relies on those checks.
    "--disable-features=LocalNetworkAccessChecks",
]
# the platforms' credentials, as the service reads them from its environment
TWILIO_ENV = {"OMNIROUTER_TWILIO_ACCOUNT_SID": ACCOUNT, "OMNIROUTER_TWILIO_AUTH_TOKEN": TOKEN}
TELEGRAM_ENV = {"OMNIROUTER_TELEGRAM_TOKEN": tg.TOKEN, "OMNIROUTER_TELEGRAM_SECRET": tg.SECRET}


def chromium_path() -> str:
    path = os.environ.get("OMNIROUTER_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("browser tests need Chromium: apt-get install chromium (or set OMNIROUTER_CHROMIUM)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# seconds a start may take before it counts as hung: a hang detector, not a
# speed test (a busy 2-core machine has taken 40 s; bench/startup.py measures)
START_CEILING = 120.0


async def wait_healthy(base: str, proc: asyncio.subprocess.Process, ceiling: float = START_CEILING) -> None:
    """Until ``/healthz`` answers ok; fails at once if the process exits."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ceiling
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        while loop.time() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"omnirouter exited with {proc.returncode} before it was healthy")
            try:
                async with http.get(f"{base}/healthz") as r:
                    if r.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass  # not listening yet
            await asyncio.sleep(0.05)
    raise RuntimeError(f"omnirouter was not healthy within {ceiling:g} s: hung?")


@pytest.fixture
def service_config() -> str:
    """More of omnirouter.yaml for the service: a test module overrides it."""
    return ""


@asynccontextmanager
async def running_service(
    folder: Path, config_for_port: Callable[[int], str], env: Mapping[str, str] | None = None
) -> AsyncIterator[str]:
    """``omnirouter run`` on a free port with ``folder`` as its config folder:
    omnirouter.yaml is ``config_for_port(port)``, the environment ours plus the
    admin password and ``env``. Yields the base URL once healthy; on leaving,
    SIGTERM must end the process cleanly."""
    port = free_port()
    (folder / "omnirouter.yaml").write_text(config_for_port(port), encoding="utf-8")
    # run in ``folder``: what the service keeps at paths relative to where it runs (files.folder's
    # var/files, the bot's var/cache...) lands there, never in the checkout the tests run from;
    # this checkout's code still the one imported (PYTHONPATH)
    python_path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "router.cli", "run", "--config", str(folder), cwd=folder,
        env={**os.environ, "PYTHONPATH": python_path, "OMNIROUTER_ADMIN_PASSWORD": ADMIN_PASSWORD, **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(base, proc)
        yield base
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), HANG) == 0, "omnirouter did not shut down cleanly on SIGTERM"


def server_yaml(port: int, folder: Path, *, writer_process: bool = True) -> str:
    """omnirouter.yaml's server (with its public URL) and store sections."""
    writer = "  writer: process\n" if writer_process else ""
    return (f"server:\n  port: {port}\n  public_url: http://127.0.0.1:{port}\n"
            f"store:\n  path: {folder / 'e2e.db'}\n{writer}")


def whatsapp_yaml(api: str) -> str:
    """The ``whatsapp`` connector through the Twilio fake at ``api`` (under ``connectors:``)."""
    return (f"  whatsapp:\n    type: twilio\n    flavour: whatsapp\n    from_number: '{WA_NUMBER}'\n"
            f"    api_base: {api}\n")


def site_chat_and_whatsapp(folder: Path, api: str) -> Callable[[int], str]:
    """omnirouter.yaml for the site chat and WhatsApp (through the Twilio fake at ``api``)."""
    def config(port: int) -> str:
        return server_yaml(port, folder) + "connectors:\n  webchat:\n    type: webchat\n" + whatsapp_yaml(api)

    return config


@pytest.fixture
async def service(tmp_path: Path, service_config: str) -> AsyncIterator[str]:
    """``omnirouter run`` on a free port with its own config and SQLite file.
    The store's writer runs in a process here (``store.writer: process``), so
    every store call the browser tests make also crosses to it and back."""
    def config(port: int) -> str:
        return f"server:\n  port: {port}\nstore:\n  path: {tmp_path / 'e2e.db'}\n  writer: process\n{service_config}"

    async with running_service(tmp_path, config) as base:
        yield base


@pytest.fixture
async def telegram_api() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(tg.TOKEN) as fake:
        yield fake


async def new_page(browser: Browser) -> Page:
    """A page in a browser context of its own (its own cookies: one person)."""
    return await (await browser.new_context()).new_page()


async def sign_in(page: Page, base: str, username: str, password: str) -> None:
    """The console's login form filled in and sent; whether it lets them in is the test's to see."""
    await page.goto(base + "/")
    form = page.locator('[data-testid="login-form"]')
    await form.locator('input[name="username"]').fill(username)
    await form.locator('input[name="password"]').fill(password)
    await form.locator('input[name="password"]').press("Enter")


async def open_row(page: Page, text: str) -> None:
    """In the console: click the one conversation whose row shows ``text``."""
    row = page.locator('[data-testid="conversation"]', has_text=text)
    await expect(row).to_have_count(1)
    await row.click()


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()
