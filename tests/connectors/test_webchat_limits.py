"""The site chat's limits against the whole running service: per visitor,
per client address (behind trusted proxies too), sockets that never say
hello, and frames too large to read. A websocket client plays the widget."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import sqlite3
from typing import Any

import aiohttp
import limits
import pytest
from aiohttp import WSCloseCode, WSMsgType
from pydantic import ValidationError

from connectors.webchat import MovingWindow, WebChatConnector
from router.config import Settings
from router.server.app import SETTINGS
from tests.conftest import HANG, AppClient, sqlite_only
from tests.connectors.webchat_helpers import (
    Client,
    Frame,
    barrier,
    expect_error,
    hello,
    new_visitor,
    receive,
    reload_history,
    say,
    tab,
    webchat_settings,
)

# -- flooding ------------------------------------------------------------------------------


async def test_a_visitor_over_the_rate_limit_is_told_when_to_resend_and_nothing_is_lost(
    make_client: AppClient, settings: Settings
) -> None:
    client = await make_client(webchat_settings(settings, rate_limit="3/minute"))
    async with tab(client) as ws:
        visitor_id = (await hello(ws))["visitor_id"]
        for n in range(3):
            await say(ws, f"message {n}", f"c{n}")
        await ws.send_json({"type": "message", "text": "one too many", "client_id": "c3"})
        refused = await receive(ws)
        assert refused["type"] == "error" and refused["code"] == "rate_limited", refused
        assert refused["client_id"] == "c3" and 1 <= refused["retry_after"] <= 60, refused
        await barrier(ws)  # the socket still works
        # another visitor is not held back by this one
        other, _ = await new_visitor(client, "hello from someone else")
    # refused means not stored: the widget still holds it and sends it again later
    assert [f["text"] for f in await reload_history(client, visitor_id)] == [f"message {n}" for n in range(3)]
    assert [f["text"] for f in await reload_history(client, other)] == ["hello from someone else"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_moving_window_refuses_the_hit_over_the_rate_until_the_oldest_leaves() -> None:
    clock = Clock()
    window = MovingWindow(limits.parse("3/minute"), clock)
    for second in (0, 10, 20):
        clock.now = 1000.0 + second
        assert window.hit("anna")
    clock.now = 1030.0
    assert not window.hit("anna")  # three in the last minute already
    assert window.retry_after("anna") == 30.0  # the hit at 0 s leaves the window at 60 s
    assert window.hit("boris") and window.retry_after("boris") == 0.0  # a key of its own
    clock.now = 1060.0
    assert window.hit("anna")  # the first hit has left; the refused one never counted
    clock.now = 1065.0
    assert not window.hit("anna")  # 10 s, 20 s and 60 s are in the window


def test_the_moving_window_forgets_keys_idle_for_a_window() -> None:
    clock = Clock()
    window = MovingWindow(limits.parse("2/minute"), clock)
    assert window.hit("anna") and window.hit("anna")
    clock.now += 30
    assert window.hit("boris")
    clock.now += 45  # anna's last hit is 75 s old, boris's 45 s: a sweep is due
    assert window.hit("carl")
    assert set(window._hits) == {"boris", "carl"}
    assert window.hit("anna") and window.hit("anna")  # a fresh window for anna, as her old hits had left it


@pytest.mark.parametrize(("rate", "said"), [
    ("banana", "is not a rate"), ("20 per fortnight", "is not a rate"), ("", "is not a rate"),
    # limits reads these without a word: nothing ever passes, and "per second"
    ("0/minute", "at least 1"), ("20 per 0 seconds", "at least 1"),
])
def test_a_rate_limit_that_is_no_rate_is_a_config_error(rate: str, said: str) -> None:
    with pytest.raises(ValidationError, match=said):
        WebChatConnector.parse_options({"rate_limit": rate})
    assert WebChatConnector.parse_options({"rate_limit": "5 per 10 seconds"}).rate_limit == "5 per 10 seconds"


async def test_a_socket_that_never_says_hello_is_closed_and_one_that_does_stays(
    make_client: AppClient, settings: Settings
) -> None:
    # long enough that a busy machine still carries the polite tab's hello in time
    # (both tabs share this process's event loop with the server)
    client = await make_client(webchat_settings(settings, hello_timeout=2.0))
    async with tab(client) as silent, tab(client) as polite:
        await hello(polite)
        await expect_error(silent, "hello_timeout")
        closing = await silent.receive(timeout=HANG)
        assert closing.type is WSMsgType.CLOSE and closing.data == WSCloseCode.POLICY_VIOLATION, closing
        # past the same deadline the tab that said hello still chats
        await say(polite, "still here")


# -- flooding from one address -------------------------------------------------------------


async def answer(ws: aiohttp.ClientWebSocketResponse) -> Frame:
    """The server's answer to the last frame (an ack or an error), past any
    message the service pushed meanwhile (a notice that a person will answer)."""
    while (frame := await receive(ws))["type"] == "message":
        pass
    return frame


def stored(client: Client, sql: str) -> int:
    """A count straight from the database file, as an operator would check."""
    with contextlib.closing(sqlite3.connect(client.app[SETTINGS].store.path)) as conn:
        count: int = conn.execute(sql).fetchone()[0]
        return count


@sqlite_only("none: the limits are the connector's, the same on both; the count is read from SQLite's file")
async def test_fifty_sockets_from_one_address_store_no_more_than_its_limits(
    make_client: AppClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # the default numbers, per hour rather than per minute so a slow run cannot widen them
    client = await make_client(webchat_settings(
        settings, new_visitors_per_address="30/hour", rate_limit_per_address="300/hour", rate_limit="20/hour"))
    acked: list[str] = []
    refused: list[Frame] = []

    async def visitor(n: int) -> None:
        async with tab(client) as ws:
            await ws.send_json({"type": "hello"})
            first = await receive(ws)
            if first["type"] == "error":
                refused.append(first)
                closing = await ws.receive(timeout=HANG)
                assert (closing.type, closing.data, closing.extra) == (
                    WSMsgType.CLOSE, WSCloseCode.TRY_AGAIN_LATER, "rate_limited")
                return
            assert first["type"] == "welcome", first
            for m in range(20):
                await ws.send_json({"type": "message", "text": f"flood {n}.{m}", "client_id": f"c{m}"})
                reply = await answer(ws)
                if reply["type"] == "ack":
                    acked.append(reply["id"])
                else:
                    refused.append(reply)
                    assert reply["client_id"] == f"c{m}", reply

    await asyncio.gather(*(visitor(n) for n in range(50)))
    hellos = [f for f in refused if "client_id" not in f]
    assert len(hellos) == 20 and len(acked) == 300 and len(refused) == 20 + 300
    assert all(f["code"] == "rate_limited" and 1 <= f["retry_after"] <= 3600 for f in refused), refused[:3]
    assert stored(client, "SELECT COUNT(*) FROM conversations") == 30
    assert stored(client, "SELECT COUNT(*) FROM messages WHERE direction = 'in'") == 300
    # a flood does not flood the log: one line per limit and address
    assert len([r for r in caplog.records if "rate_limited" in r.getMessage()]) == 2


async def hello_from(client: Client, headers: dict[str, str]) -> Frame:
    """What a new visitor's hello is answered with, through these headers."""
    async with tab(client, headers=headers) as ws:
        await ws.send_json({"type": "hello"})
        return await receive(ws)


@pytest.mark.parametrize(("header", "via"), [
    # nginx appends the peer it saw; what the client wrote itself stands to the left
    ("x-forwarded-for", lambda ip, spoof: {"X-Forwarded-For": f"{spoof}, {ip}"}),
    ("forwarded", lambda ip, spoof: {"Forwarded": f'for={spoof}, for="{ip}:4711";proto=https'}),
])
async def test_behind_a_trusted_proxy_each_client_address_has_its_own_limit(
    make_client: AppClient, settings: Settings, header: str, via: Any
) -> None:
    settings.server.trusted_proxies = [ipaddress.ip_network("127.0.0.1")]
    settings.server.forwarded_header = header
    client = await make_client(webchat_settings(settings, new_visitors_per_address="1/hour"))
    assert (await hello_from(client, via("203.0.113.5", "10.1.1.1")))["type"] == "welcome"
    again = await hello_from(client, via("203.0.113.5", "10.2.2.2"))  # another spoof changes nothing
    assert again["type"] == "error" and again["code"] == "rate_limited", again
    assert (await hello_from(client, via("2001:db8::1", "10.1.1.1")))["type"] == "welcome"
    # one IPv6 subscriber's /64 is one address
    assert (await hello_from(client, via("2001:db8::2", "10.1.1.1")))["code"] == "rate_limited"


async def test_a_forwarding_header_from_a_peer_that_is_no_trusted_proxy_is_ignored(
    make_client: AppClient, settings: Settings
) -> None:
    settings.server.trusted_proxies = [ipaddress.ip_network("10.0.0.0/8")]  # not where the test connects from
    client = await make_client(webchat_settings(settings, new_visitors_per_address="1/hour"))
    assert (await hello_from(client, {"X-Forwarded-For": "203.0.113.5"}))["type"] == "welcome"
    refused = await hello_from(client, {"X-Forwarded-For": "198.51.100.7"})
    assert refused["type"] == "error" and refused["code"] == "rate_limited", refused


async def test_a_returning_visitor_is_no_new_visitor_and_messages_count_per_address(
    make_client: AppClient, settings: Settings
) -> None:
    client = await make_client(webchat_settings(
        settings, new_visitors_per_address="1/hour", rate_limit_per_address="2/hour"))
    visitor_id, _ = await new_visitor(client, "one")
    async with tab(client) as ws:
        await hello(ws, visitor_id)  # a reload: the same visitor, not a new one
        await say(ws, "two")
        await ws.send_json({"type": "message", "text": "three", "client_id": "c3"})
        over = await answer(ws)
        assert over["code"] == "rate_limited" and over["client_id"] == "c3", over
        assert "address" in over["message"]
    assert [f["text"] for f in await reload_history(client, visitor_id)] == ["one", "two"]


async def test_a_huge_frame_gets_a_close_frame_with_the_reason_not_a_reset(client: Client) -> None:
    async with tab(client, max_msg_size=0) as ws:
        visitor_id = (await hello(ws))["visitor_id"]
        # sent whole: the server reads and discards the rest instead of resetting the connection
        await ws.send_str(json.dumps({"type": "message", "text": "x" * (16 * 1024**2), "client_id": "huge"}))
        await expect_error(ws, "too_large")
        closing = await ws.receive(timeout=HANG)
        assert closing.type is WSMsgType.CLOSE, closing
        assert closing.data == WSCloseCode.MESSAGE_TOO_BIG
        assert "message too big" in closing.extra
    assert await reload_history(client, visitor_id) == []
