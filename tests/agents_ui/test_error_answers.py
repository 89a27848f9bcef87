"""The console API's error answers as a client meets them: what they quote of
the request, what they say of a limit, when to try again."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

import agents_ui
from router.appkeys import FILES, STORE
from router.files.blobs import BlobUnavailable
from router.models import Attachment
from router.store.errors import StoreUnavailable
from tests.agents_ui.conftest import Client, customer_writes, login
from tests.router.files.test_sniff import PNG

LONG = "x" * 5000


@pytest.fixture
async def conv(client: Client) -> str:
    await login(client)
    return await customer_writes(client, "hi")


# each answer quotes what was asked for: an id in the path, a label, an agent, a file, a query
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/conversations/{LONG}", None),
        ("GET", "/api/customers/{LONG}", None),
        ("GET", "/api/files/{LONG}", None),
        ("POST", "/api/conversations/{conv}/assign", {"agent_id": LONG}),
        ("GET", "/api/search?q=hi&label={LONG}", None),
        ("DELETE", "/api/conversations/{conv}/labels/{LONG}", None),
        ("POST", "/api/conversations/{conv}/messages", {"text": "hi", "files": [LONG]}),
    ],
)
async def test_an_error_never_sends_a_long_value_back_whole(client: Client, conv: str, method: str, path: str,
                                                            body: object) -> None:
    resp = await client.request(method, path.format(LONG=LONG, conv=conv), json=body)
    assert 400 <= resp.status < 500
    error = (await resp.json())["error"]
    answer = json.dumps(error, ensure_ascii=False)
    assert "x" * 101 not in answer, answer[:300]
    assert len(answer) < 1500
    assert "x" * 100 + "…" in answer or "xx" not in answer  # cut where it says so, still recognisable


@pytest.mark.parametrize("path", ["/api/conversations/{conv}/messages", "/api/login", "/api/agents"])
async def test_a_body_over_the_limit_is_told_the_limit(client: Client, conv: str, path: str) -> None:
    resp = await client.post(path.format(conv=conv), data=b'{"text": "' + b"x" * (1024**2 + 1) + b'"}',
                             headers={"Content-Type": "application/json"})
    assert resp.status == 413
    error = (await resp.json())["error"]
    assert error["code"] == "too_large"
    assert "1 MiB" in error["message"] and "1048576 bytes" in error["message"]
    assert (error["limit"], error["limit_mb"]) == (1024**2, "1")


@pytest.mark.parametrize(("lang", "said"), [("en", "larger than 1 MB"), ("ru", "больше 1 МБ")])
def test_the_console_says_the_limit_in_both_languages(lang: str, said: str) -> None:
    catalogue = json.loads((Path(agents_ui.__file__).parent / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    assert said in catalogue["errors"]["too_large"].replace("{{limit_mb, number}}", "1")


async def _blobs_down(key: str) -> AsyncIterator[bytes]:
    raise BlobUnavailable("the bucket does not answer")
    yield b""  # an async generator, as a storage's chunks are


async def _store_down() -> None:
    raise StoreUnavailable("the disk is full")


async def test_every_503_says_when_to_try_again(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file storage down (a file, its signed link) and a store down (the health check) each
    answered 503 without Retry-After, unlike a store outage met by the API."""
    await login(client)
    form = aiohttp.FormData()
    form.add_field("file", PNG, filename="a.png", content_type="image/png")
    file = (await (await client.post("/api/files", data=form)).json())["file"]
    signed = await client.app[FILES].link(Attachment(kind="image", file=file["id"]))
    monkeypatch.setattr(client.app[FILES].blobs, "chunks", _blobs_down)
    monkeypatch.setattr(client.app[STORE], "ping", _store_down)
    for path in (f"/api/files/{file['id']}", signed, "/healthz"):
        resp = await client.get(path)
        assert resp.status == 503, (path, await resp.text())
        assert int(resp.headers["Retry-After"]) > 0, path


async def test_a_refused_login_logs_no_name_typed_but_enough_to_see_it_tried_again(
        client: Client, caplog: pytest.LogCaptureFixture) -> None:
    """People type their password in the username field: it was logged as typed."""
    caplog.set_level(logging.WARNING, "agents_ui")
    typed = "Hunter2-my-password"
    for username in (typed, typed, "someone-else", "admin"):
        resp = await client.post("/api/login", json={"username": username, "password": "wrong-password"})
        assert resp.status == 401
    lines = [r.getMessage() for r in caplog.records if "failed console login" in r.getMessage()]
    assert len(lines) == 4 and not any(typed in line for line in lines), lines
    assert lines[0] == lines[1] != lines[2]  # the same name tried again: the same line, the same tag
    assert f"({len(typed)} characters" in lines[0] and "127.0.0.1" in lines[0]
    assert "'admin'" in lines[3]  # an account's own name is no secret to its admins


# what Chromium sends when a link opens in a new tab
NAVIGATION = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
              "Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate"}
RELAY = "/api/messages/msg_missing/attachments/0"


@pytest.mark.parametrize(("own", "browser", "said"), [
    (None, "ru-RU,ru;q=0.9,en;q=0.8", "Не найдено: возможно, уже удалено."),
    (None, "en-GB,en;q=0.9", "Not found: it may have been removed."),
    ("en", "ru-RU,ru;q=0.9", "Not found: it may have been removed."),  # the agent's own choice first
    ("ru", "en-US", "Не найдено: возможно, уже удалено."),
])
async def test_an_error_opened_in_a_tab_is_a_page_in_the_consoles_language(
        client: Client, own: str | None, browser: str, said: str) -> None:
    """A relayed attachment (or a file) that cannot be given opened as raw JSON in a new tab."""
    await login(client)
    assert (await client.patch("/api/me", json={"language": own})).status == 200
    resp = await client.get(RELAY, headers={**NAVIGATION, "Accept-Language": browser})
    assert resp.status == 404 and resp.content_type == "text/html"
    page = await resp.text()
    assert said in page and "404 · not_found" in page and '"error"' not in page
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]


async def test_a_program_and_the_consoles_fetch_still_get_json(client: Client) -> None:
    await login(client)
    for accept in ("application/json", "*/*", None):
        resp = await client.get(RELAY, headers={"Accept": accept} if accept else {})
        assert resp.status == 404 and resp.content_type == "application/json", accept
    resp = await client.get(RELAY, headers={**NAVIGATION, "Accept-Language": "ru"})
    assert resp.content_type == "text/html"
    # a session gone is a page too, whose link leads to the sign-in
    await client.post("/api/logout", json={})
    resp = await client.get(RELAY, headers={**NAVIGATION, "Accept-Language": "ru"})
    assert resp.status == 401 and "Сеанс завершён. Войдите снова." in await resp.text()
