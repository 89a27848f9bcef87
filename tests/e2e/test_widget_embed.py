"""The widget embedded as the README says, on a shop of another origin with
a strict Content-Security-Policy (the README's line for it, verbatim): the
chat is drawn as a chat, not as bare text across the page, and works."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Browser, Route, expect

from tests.e2e.test_conversation import customer_says

README = Path(__file__).resolve().parents[2] / "README.md"
SHOP = "http://shop.test"
EXAMPLE = "https://support.example.com"


def readme_lines(base: str) -> tuple[str, str]:
    """The README's embedding snippet and its Content-Security-Policy line, for the service at ``base``."""
    text = README.read_text(encoding="utf-8")
    snippet = re.search(r'<script src="https://support\.example\.com/chat/widget\.js"[^\n]*</script>', text)
    policy = re.search(r'<meta http-equiv="Content-Security-Policy"[^\n]*support\.example\.com[^\n]*>', text)
    assert snippet and policy, "the README shows the snippet and the policy's line"
    ws = base.replace("http://", "ws://")

    def here(line: str) -> str:
        return line.replace(f"wss://{EXAMPLE[len('https://'):]}", ws).replace(EXAMPLE, base)

    return here(snippet.group(0)), here(policy.group(0))


async def test_the_readme_snippet_under_a_strict_policy_draws_and_works(service: str, browser: Browser) -> None:
    snippet, policy = readme_lines(service)
    assert "unsafe-inline" not in policy
    page_html = (f'<!doctype html><html lang="ru"><head><meta charset="utf-8">{policy}'
                 f"<title>Магазин</title></head><body><h1>Магазин</h1>{snippet}</body></html>")
    page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 720})).new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)

    async def serve(route: Route) -> None:
        await route.fulfill(body=page_html, content_type="text/html; charset=utf-8")

    await page.route(f"{SHOP}/", serve)
    await page.goto(f"{SHOP}/")
    launcher = page.locator('[data-omr="launcher"]')
    await expect(launcher).to_be_visible()
    # a round button in the bottom-right corner, over the page: the widget's styles applied
    await expect(launcher).to_have_css("position", "relative")
    await expect(page.locator(".omr-root")).to_have_css("position", "fixed")
    box = await launcher.bounding_box()
    assert box is not None and box["x"] > 1280 - 120 and box["y"] > 720 - 120, box
    await launcher.click()
    panel = await page.locator("#omnirouter-chat").bounding_box()
    assert panel is not None and panel["x"] > 1280 / 2, panel  # the panel, not text across the page
    await customer_says(page, "Здравствуйте! Есть ли пуэр?")
    mine = page.locator('[data-omr="message"][data-author="customer"]')
    await expect(mine).to_have_text("Здравствуйте! Есть ли пуэр?")
    await expect(mine).not_to_have_attribute("data-pending", "true")
    assert not refused, refused
