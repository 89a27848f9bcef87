"""The console's first paint: how long an agent waits, in Chromium, from
opening the console to seeing their conversation list.

    python -m bench.console_paint [--conversations 500] [--runs 7] [--lang ru]

Starts ``omnirouter run`` on embedded defaults (SQLite) in a fresh folder,
opens ``--conversations`` site-chat conversations, then loads the console
``--runs`` times in a fresh browser context each (a session cookie set
beforehand, as an agent who stays signed in: no login form), and prints
p50/max of:

- first contentful paint (the browser's own ``paint`` entry);
- the list: navigation start to the first conversation row in the DOM;
- the script and catalogue bytes the page loads.

Chromium is Debian's (``chromium``), as the browser tests use it.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
from playwright.async_api import async_playwright

from bench.load import PASSWORD, free_port, open_customers, server, write_config

LIST_READY = """() => new Promise((resolve) => {
  const done = () => resolve(performance.now());
  if (document.querySelector('[data-testid="conversation"]')) return done();
  new MutationObserver((_, obs) => {
    if (document.querySelector('[data-testid="conversation"]')) { obs.disconnect(); done(); }
  }).observe(document.documentElement, { childList: true, subtree: true });
})"""
FCP = """() => (performance.getEntriesByName("first-contentful-paint")[0] || {}).startTime || null"""
BYTES = """() => performance.getEntriesByType("resource")
  .filter((r) => /\\.(js|json)(\\?|$)/.test(r.name)).reduce((n, r) => n + (r.encodedBodySize || 0), 0)"""


async def seed(base: str, conversations: int) -> None:
    """Each conversation opened by a site-chat customer's first message."""
    async with aiohttp.ClientSession() as http:
        sockets = await open_customers(http, f"{base.replace('http', 'ws')}/chat/ws", conversations, echo=False)
        for i, ws in enumerate(sockets):
            await ws.send_json({"type": "message", "text": f"question number {i}", "client_id": f"c{i}"})
        for ws in sockets:
            while (await ws.receive_json())["type"] != "ack":
                pass
            await ws.close()


async def session_cookie(base: str) -> dict[str, str]:
    login = {"username": "admin", "password": PASSWORD}
    async with (aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
                http.post(f"{base}/api/login", json=login) as r):
        r.raise_for_status()
        morsel = next(iter(r.cookies.values()))
        return {"name": morsel.key, "value": morsel.value}


async def measure(base: str, runs: int, lang: str) -> dict[str, list[float]]:
    cookie = await session_cookie(base)
    figures: dict[str, list[float]] = {"fcp": [], "list": [], "bytes": []}
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            for _ in range(runs):
                context = await browser.new_context(locale=lang)
                await context.add_cookies([{"name": cookie["name"], "value": cookie["value"], "url": base}])
                page = await context.new_page()
                await page.goto(base + "/")
                figures["list"].append(await page.evaluate(LIST_READY))
                fcp = await page.evaluate(FCP)
                if fcp is not None:
                    figures["fcp"].append(fcp)
                figures["bytes"].append(await page.evaluate(BYTES))
                await context.close()
        finally:
            await browser.close()
    return figures


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        write_config(Path(folder), port, "process")
        cmd = [".venv/bin/omnirouter", "run", "--config", folder]
        base = f"http://127.0.0.1:{port}"
        env = {"OMNIROUTER_ADMIN_PASSWORD": PASSWORD}
        async with server(cmd, port, env):
            started = time.perf_counter()
            await seed(base, args.conversations)
            print(f"seeded {args.conversations} conversations in {time.perf_counter() - started:.1f} s")
            figures = await measure(base, args.runs, args.lang)
    print(f"console first paint, {args.runs} loads, {args.conversations} open conversations, lang {args.lang}:")
    for name, label, unit in (("fcp", "first contentful paint", "ms"), ("list", "conversation list shown", "ms"),
                              ("bytes", "scripts and catalogue", "KiB")):
        values = [v / 1024 for v in figures[name]] if unit == "KiB" else figures[name]
        if values:
            print(f"  {label:26s} p50 {statistics.median(values):7.0f} {unit}   max {max(values):7.0f} {unit}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--lang", default="ru", help="the browser's language (ru, en)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
