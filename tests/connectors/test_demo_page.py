"""The demo shop's page in both languages shares one served stylesheet:
a change of its look is made once, never in one language only."""

from __future__ import annotations

import re

import pytest

from tests.connectors.webchat_helpers import Client


@pytest.mark.parametrize("lang", ["ru", "en"])
async def test_each_language_of_the_demo_links_the_one_stylesheet(client: Client, lang: str) -> None:
    page = await (await client.get(f"/chat/?lang={lang}")).text()
    assert '<link rel="stylesheet" href="/chat/demo.css">' in page
    assert "<style" not in re.sub(r"<!--.*?-->", "", page, flags=re.S)  # no copy of it inline


async def test_the_stylesheet_is_served_as_css(client: Client) -> None:
    resp = await client.get("/chat/demo.css")
    assert resp.status == 200 and resp.content_type == "text/css"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert ".products" in await resp.text()


