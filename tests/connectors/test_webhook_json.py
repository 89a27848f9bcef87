"""What Python's JSON parser takes but JSON is not, refused at the webhook:
``NaN`` and ``Infinity`` (stored in a message's extras they made a row that
SQLite's JSON functions refused to read: its routing failed on every
redelivery and at every start, and the service no longer started) and a
lone UTF-16 surrogate (no UTF-8 text holds it: a 500 on every redelivery).
And what a platform's JSON may hold that is no value of its kind: a date no
clock holds, ``true`` as a sender's id."""

from __future__ import annotations

import json
import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from connectors.webhook import parse_json
from router.models import IdentityRef
from router.server.app import STORE
from tests.connectors.test_telegram import DATE as TG_DATE
from tests.connectors.test_telegram import SECRET as TG_SECRET
from tests.connectors.test_telegram import SECRET_HEADER, text_update, tg, tg_api, tg_settings  # noqa: F401
from tests.connectors.test_telegram import inbound as tg_inbound
from tests.connectors.test_vk import inbound as vk_inbound
from tests.connectors.test_vk import message_new, vk, vk_api, vk_settings  # noqa: F401
from tests.connectors.test_webhook_limits import no_tracebacks, send

Client = TestClient[web.Request, web.Application]

TG_PATH, VK_PATH = "/webhooks/telegram/telegram", "/webhooks/vk/vk"


@pytest.mark.parametrize(("body", "said"), [
    (b'{"a": NaN}', "the body is not JSON: NaN is no JSON number"),
    (b'{"a": [1, Infinity]}', "the body is not JSON: Infinity is no JSON number"),
    (b'{"a": -Infinity}', "the body is not JSON: -Infinity is no JSON number"),
    (b'{"a": "x\\ud800y"}', "the body is not JSON: it holds a lone UTF-16 surrogate, which is no text"),
    (b'{"a": {"b": ["\\udfff"]}}', "the body is not JSON: it holds a lone UTF-16 surrogate, which is no text"),
    (b'{"\\ud83d": 1}', "the body is not JSON: it holds a lone UTF-16 surrogate, which is no text"),
])
def test_what_json_is_not_is_refused_in_words(body: bytes, said: str) -> None:
    with pytest.raises(web.HTTPBadRequest) as refused:
        parse_json(body)
    assert refused.value.text == said


def test_a_surrogate_pair_and_plain_numbers_are_json() -> None:
    assert parse_json(b'{"a": "\\ud83d\\ude00", "b": 1.5e300, "c": -0}') == {"a": "\U0001f600", "b": 1.5e300, "c": 0}


def _with(update: dict[str, object], path: tuple[str, ...], raw: str) -> bytes:
    """``update`` as JSON with the value at ``path`` written as ``raw`` (NaN, a lone surrogate's escape)."""
    marker = "@@here@@"
    node: dict[str, object] = update
    for key in path[:-1]:
        child = node[key]
        assert isinstance(child, dict)
        node = child
    node[path[-1]] = marker
    return json.dumps(update).replace(f'"{marker}"', raw).encode()


@pytest.mark.parametrize(("path", "raw"), [
    (("message", "date"), "NaN"),
    (("message", "extra_field"), "Infinity"),
    (("message", "from", "username"), '"\\ud83d"'),
    (("message", "text"), '"hello \\udc00"'),
])
async def test_telegram_refuses_it_and_stores_nothing(tg: Client, caplog: pytest.LogCaptureFixture,  # noqa: F811
                                                      path: tuple[str, ...], raw: str) -> None:
    caplog.set_level(logging.DEBUG)
    status, text = await send(tg, TG_PATH, _with(text_update(1, "hello"), path, raw), {SECRET_HEADER: TG_SECRET})
    assert status == 400 and text.startswith("the body is not JSON: ")
    assert await tg_inbound(tg) == []
    no_tracebacks(caplog)
    # the platform's next update, plain, is taken as ever, an escaped emoji in it
    good = json.dumps(text_update(2, "hello \U0001f600")).encode()  # ensure_ascii: "\ud83d\ude00"
    assert (await send(tg, TG_PATH, good, {SECRET_HEADER: TG_SECRET}))[0] == 200
    assert [m.text for m in await tg_inbound(tg)] == ["hello \U0001f600"]


@pytest.mark.parametrize(("path", "raw"), [
    (("object", "message", "id"), "NaN"),
    (("object", "message", "fwd_messages"), '[{"from_id": 5, "text": "\\ud800", "date": 1}]'),
    (("secret",), '"\\ud800"'),  # a stranger's, before the secret is checked: was a 500 there
])
async def test_vk_refuses_it_and_stores_nothing(vk: Client, caplog: pytest.LogCaptureFixture,  # noqa: F811
                                                path: tuple[str, ...], raw: str) -> None:
    caplog.set_level(logging.DEBUG)
    status, text = await send(vk, VK_PATH, _with(message_new(1, "hello"), path, raw))
    assert status == 400 and text.startswith("the body is not JSON: ")
    assert await vk_inbound(vk) == []
    no_tracebacks(caplog)


@pytest.mark.parametrize("date", [10**30, -(10**15), 2 * 10**10])
async def test_a_telegram_date_no_clock_holds_is_no_date_and_the_message_is_kept(
        tg: Client, caplog: pytest.LogCaptureFixture, date: int) -> None:  # noqa: F811
    update = text_update(1, "hello")
    update["message"]["date"] = date
    assert (await send(tg, TG_PATH, json.dumps(update).encode(), {SECRET_HEADER: TG_SECRET}))[0] == 200
    assert [m.text for m in await tg_inbound(tg)] == ["hello"]
    no_tracebacks(caplog)
    # the next one, dated as Telegram dates them, as ever
    again = text_update(2, "again")
    assert again["message"]["date"] == TG_DATE
    assert (await send(tg, TG_PATH, json.dumps(again).encode(), {SECRET_HEADER: TG_SECRET}))[0] == 200
    assert [m.text for m in await tg_inbound(tg)] == ["hello", "again"]


async def test_vk_true_is_no_sender(vk: Client, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.DEBUG)
    for n, fields in enumerate([{"from_id": True}, {"peer_id": True}], start=1):
        assert (await send(vk, VK_PATH, json.dumps(message_new(n, "hello", **fields)).encode()))[0] == 200
    assert await vk.app[STORE].find_identity(IdentityRef(kind="vk", value="True")) is None
    assert await vk_inbound(vk) == []
    no_tracebacks(caplog)
