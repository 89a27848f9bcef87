"""Browser tests: the real service started by its CLI, driven in Debian's
headless Chromium through Playwright (which never downloads a browser)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, async_playwright, expect

from tests.conftest import HANG

ADMIN_PASSWORD = "e2e admin password"
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
]


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


@pytest.fixture
async def service(tmp_path: Path, service_config: str) -> AsyncIterator[str]:
    """``omnirouter run`` on a free port with its own config and SQLite file.
    The store's writer runs in a process here (``store.writer: process``), so
    every store call the browser tests make also crosses to it and back."""
    port = free_port()
    (tmp_path / "omnirouter.yaml").write_text(
        f"server:\n  port: {port}\nstore:\n  path: {tmp_path / 'e2e.db'}\n  writer: process\n{service_config}",
        encoding="utf-8",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "router.cli", "run", "--config", str(tmp_path),
        env={**os.environ, "OMNIROUTER_ADMIN_PASSWORD": ADMIN_PASSWORD},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(base, proc)
        yield base
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), HANG) == 0, "omnirouter did not shut down cleanly on SIGTERM"


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()
