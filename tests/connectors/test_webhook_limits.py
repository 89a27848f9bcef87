"""Every webhook bounds what it reads before it trusts it: the secret first
where it travels in a header, the body's size before it is read whole, its
nesting before it is parsed. Deeply nested JSON was a RecursionError and a
500 on Telegram and on VK (there before the secret was even checked)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from connectors.twilio import SIGNATURE_HEADER
from connectors.twilio_form import MAX_FORM_BYTES
from connectors.webhook import (
    MAX_BODY_BYTES,
    MAX_DEPTH,
    MAX_LARGE_AT_ONCE,
    MAX_SIGNED_BODY_BYTES,
    _large_reads,
    nesting_depth,
    parse_json,
)
from tests.conftest import HANG, eventually
from tests.connectors.test_telegram import SECRET as TG_SECRET
from tests.connectors.test_telegram import SECRET_HEADER, text_update, tg, tg_api, tg_settings  # noqa: F401
from tests.connectors.test_telegram import inbound as tg_inbound
from tests.connectors.test_vk import SECRET as VK_SECRET
from tests.connectors.test_vk import inbound as vk_inbound
from tests.connectors.test_vk import message_new, vk, vk_api, vk_settings  # noqa: F401
from tests.connectors.twilio_helpers import tw_settings, twilio_api, whatsapp_form  # noqa: F401

Client = TestClient[web.Request, web.Application]

BOMB = b"[" * 100_000 + b"]" * 100_000
TOO_LARGE = b'{"pad": "' + b"x" * MAX_BODY_BYTES + b'"}'


def nested(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = [value]
    return value


async def send(client: Client, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, str]:
    async with client.post(path, data=body, headers={"Content-Type": "application/json", **(headers or {})}) as resp:
        return resp.status, await resp.text()


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info], "a webhook body raised"
    assert "RecursionError" not in caplog.text


async def test_telegram(tg: Client, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.DEBUG)
    path = "/webhooks/telegram/telegram"
    good = {SECRET_HEADER: TG_SECRET}
    # without the secret nothing of the body is looked at, however bad it is
    assert (await send(tg, path, BOMB))[0] == 401
    assert (await send(tg, path, TOO_LARGE, {SECRET_HEADER: "wrong"}))[0] == 401
    assert await send(tg, path, BOMB, good) == (400, f"the body nests deeper than {MAX_DEPTH} levels")
    assert await send(tg, path, TOO_LARGE, good) == (413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    deep_update = text_update(1, "hi") | {"extra": nested(MAX_DEPTH + 1)}
    assert (await send(tg, path, json.dumps(deep_update).encode(), good))[0] == 400
    assert await tg_inbound(tg) == []
    no_tracebacks(caplog)
    # an update within the bounds is taken as ever
    assert (await send(tg, path, json.dumps(text_update(2, "[[{still fine}]]")).encode(), good))[0] == 200
    assert [m.text for m in await tg_inbound(tg)] == ["[[{still fine}]]"]


async def test_vk(vk: Client, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.DEBUG)
    path = "/webhooks/vk/vk"
    # the secret is inside the body: it is bounded and parsed safely first
    assert await send(vk, path, BOMB) == (400, f"the body nests deeper than {MAX_DEPTH} levels")
    # VK's own limit is larger (a chain of forwards VK allows passes 12 MB), and past 1 MiB
    # a body is not parsed at all without its secret
    assert await send(vk, path, TOO_LARGE) == (403, "wrong secret")
    past = b'{"pad": "' + b"x" * MAX_SIGNED_BODY_BYTES + b'"}'
    assert await send(vk, path, past) == (413, f"the body is larger than {MAX_SIGNED_BODY_BYTES} bytes")
    with_secret = message_new(1, "hi") | {"object": nested(MAX_DEPTH + 1)}
    assert (await send(vk, path, json.dumps(with_secret).encode()))[0] == 400
    # the secret before anything else: a stranger's event for another community is a 403 all the same
    forged = message_new(2, "forged") | {"secret": "guess", "group_id": 1}
    assert await send(vk, path, json.dumps(forged).encode()) == (403, "wrong secret")
    assert await vk_inbound(vk) == []
    no_tracebacks(caplog)
    body = message_new(3, "[[{still fine}]]")
    assert body["secret"] == VK_SECRET
    assert await send(vk, path, json.dumps(body).encode()) == (200, "ok")
    assert [m.text for m in await vk_inbound(vk)] == ["[[{still fine}]]"]


async def test_twilio(make_client: Any, tw_settings: Any, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.DEBUG)
    client = await make_client(tw_settings)
    form = "&".join(f"{k}={v}" for k, v in whatsapp_form("hi").items()).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    async with client.post("/webhooks/twilio/whatsapp", data=form + b"&pad=" + b"x" * MAX_BODY_BYTES,
                           headers=headers) as resp:
        assert resp.status == 403  # no signature: refused before the body is read
    async with client.post("/webhooks/twilio/whatsapp", data=form + b"&pad=" + b"x" * MAX_BODY_BYTES,
                           headers={**headers, SIGNATURE_HEADER: "c2lnbmVk"}) as resp:
        # Twilio's forms have a limit of their own, below the other webhooks' (connectors/twilio_form.py)
        assert (resp.status, await resp.text()) == (413, f"the body is larger than {MAX_FORM_BYTES} bytes")
    no_tracebacks(caplog)


@pytest.mark.parametrize(("text", "depth"), [
    (b"{}", 1), (b'[[{"a": [1]}]]', 4), (b'{"a": "[[[[[[", "b": "\\"[["}', 1), (b"3", 0), (b'"{"', 0),
    (b'{"a": [], "b": {"c": [[]]}}', 4)])
def test_depth_counts_containers_not_brackets_in_strings(text: bytes, depth: int) -> None:
    assert nesting_depth(json.loads(text)) == depth


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 900, 100_000])
def test_too_deep_is_a_400_at_any_depth(levels: int) -> None:
    with pytest.raises(web.HTTPBadRequest) as info:
        parse_json(b"[" * levels + b"]" * levels)
    assert info.value.text == f"the body nests deeper than {MAX_DEPTH} levels"
    assert parse_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None


async def test_vk_reads_two_large_bodies_at_a_time_and_asks_a_third_to_come_again(
    vk: Client, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    """A body past 1 MiB is held whole before its secret can be looked for:
    16 strangers' 32 MiB bodies at once took the server from 0.8 to 1.8 GB."""
    monkeypatch.setattr("connectors.webhook.LARGE_PATIENCE", 0.5)
    path = "/webhooks/vk/vk"
    held = asyncio.Event()
    started = [asyncio.Event() for _ in range(MAX_LARGE_AT_ONCE)]

    async def slow_body(started_sending: asyncio.Event) -> AsyncIterator[bytes]:
        yield b'{"pad": "' + b"x" * (MAX_BODY_BYTES + 1)
        started_sending.set()
        await held.wait()  # the sender stalls mid-body: its turn is taken until it ends
        yield b'"}'

    async def large(started_sending: asyncio.Event) -> tuple[int, str]:
        async with vk.post(path, data=slow_body(started_sending), headers={"Content-Type": "application/json"}) as r:
            return r.status, await r.text()

    holders = [asyncio.create_task(large(event)) for event in started]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in started)), HANG)

    async def both_turns_taken() -> bool | None:
        turns = _large_reads.get(asyncio.get_running_loop())
        return True if turns is not None and turns.locked() else None

    await eventually(both_turns_taken, "the two stalled bodies to hold both turns")
    status, text = await send(vk, path, TOO_LARGE)
    assert (status, text) == (503, "too many large bodies at once: send it again later")
    # a small body never waits for a turn
    assert await send(vk, path, json.dumps(message_new(7, "hi")).encode()) == (200, "ok")
    held.set()
    assert await asyncio.wait_for(asyncio.gather(*holders), HANG) == [(403, "wrong secret")] * MAX_LARGE_AT_ONCE
    # the turns are free again
    assert await send(vk, path, TOO_LARGE) == (403, "wrong secret")


async def test_a_strangers_refused_calls_are_logged_once_a_minute(
    tg: Client, vk: Client, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    """Anyone may call a webhook: each refusal was a WARNING line of its own, a log flood for the asking."""
    monkeypatch.setattr("connectors.webhook._refusals", {})
    caplog.set_level(logging.WARNING)
    for n in range(5):
        assert (await send(tg, "/webhooks/telegram/telegram", b"{}", {SECRET_HEADER: f"guess-{n}"}))[0] == 401
        forged = message_new(n, "hi") | {"secret": f"guess-{n}"}
        assert (await send(vk, "/webhooks/vk/vk", json.dumps(forged).encode()))[0] == 403
    lines = [r.getMessage() for r in caplog.records if "wrong secret" in r.getMessage()]
    assert len(lines) == 2 and all(line.endswith("(logged at most once a minute)") for line in lines)
    monkeypatch.setattr("connectors.webhook.REFUSALS_EVERY", 0.0)
    assert (await send(vk, "/webhooks/vk/vk", json.dumps(message_new(9, "x") | {"secret": "g"}).encode()))[0] == 403
    assert caplog.records[-1].getMessage().endswith("(logged at most once a minute; 4 more since the last line)")
