"""The console page and its assets: served under a strict policy, with the
hooks the browser tests rely on (the escaping itself is proven in tests/e2e)."""

from __future__ import annotations

import re

from tests.agents_ui.conftest import Client

TEST_IDS = ["login-form", "conversation-list", "reply", "send", "resolve", "take", "logout"]


async def test_the_page_is_served_under_a_strict_policy(client: Client) -> None:
    resp = await client.get("/")
    assert resp.status == 200 and resp.content_type == "text/html"
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "connect-src 'self' ws: wss:" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"


async def test_the_page_has_no_inline_script_or_handler(client: Client) -> None:
    html = await (await client.get("/")).text()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="/console/' in attrs and not body.strip() for attrs, body in scripts)
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handlers are blocked by the policy"
    assert "style=" not in html
    for test_id in TEST_IDS:
        assert f'data-testid="{test_id}"' in html, test_id
    assert 'name="username"' in html and 'name="password"' in html


async def test_assets_are_served_with_their_types(client: Client) -> None:
    html = await (await client.get("/")).text()
    for asset, kind in (("console.js", "javascript"), ("console.css", "text/css")):
        url = re.search(rf'"(/console/{asset}[^"]*)"', html)
        assert url, asset
        resp = await client.get(url.group(1))
        assert resp.status == 200 and kind in resp.content_type
        assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_the_script_never_writes_html(client: Client) -> None:
    """Every text reaches the page through textContent: no HTML sinks at all."""
    js = await (await client.get("/console/console.js")).text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in js, sink
