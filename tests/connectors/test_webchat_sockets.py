"""The site chat's sockets against the whole running service: how many one
client address and one visitor token may hold open at once (each holds a file
descriptor, and one client that opened 20,000 of them shut every other visitor
and /healthz out), and how many frames one socket may send (one sent 22,000 bad
frames a second, each answered and logged). A websocket client plays the widget."""

from __future__ import annotations

import contextlib
import ipaddress
import logging

import aiohttp
import pytest
from aiohttp import WSCloseCode, WSMsgType

from connectors.webchat import ChatSocket, WebChatConnector
from router.config import Settings
from tests.agents_ui.test_live import handshake_lost, meet_lost_handshake
from tests.conftest import HANG, AppClient, eventually
from tests.connectors.webchat_helpers import (
    WS,
    Client,
    expect_error,
    hello,
    receive,
    say,
    tab,
    webchat_settings,
)

# a client behind the trusted proxy (the test's own 127.0.0.1), as nginx tells it
FLOODER = {"X-Forwarded-For": "203.0.113.5"}
NEIGHBOUR = {"X-Forwarded-For": "203.0.113.6"}


def refusals(caplog: pytest.LogCaptureFixture) -> int:
    return len([r for r in caplog.records if "too_many_sockets" in r.getMessage()])


async def refused_status(client: Client, headers: dict[str, str]) -> int:
    """The HTTP status a socket's upgrade is refused with (the test fails if it is let in)."""
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        async with client.ws_connect(WS, headers=headers):
            pass
    return refused.value.status


async def test_an_address_holds_no_more_sockets_open_than_its_cap_and_the_refusal_is_logged_once(
    make_client: AppClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.server.trusted_proxies = [ipaddress.ip_network("127.0.0.1")]
    # the default cap, 100; sockets that never say hello are given all the time a slow run may take
    client = await make_client(webchat_settings(settings, hello_timeout=3600))
    async with contextlib.AsyncExitStack() as stack:
        # a session of its own, without aiohttp's 100 connections a session: the test client's stay free
        flooder = await stack.enter_async_context(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)))
        # sockets that never say hello hold a descriptor too: they count
        held = [await stack.enter_async_context(flooder.ws_connect(client.make_url(WS), headers=FLOODER))
                for _ in range(100)]
        for _ in range(5):
            assert await refused_status(client, FLOODER) == 429
        # another address behind the same proxy, and the proxy's own, are not held back
        async with tab(client, headers=NEIGHBOUR) as neighbour, tab(client) as local:
            await hello(neighbour)
            await hello(local)
            await say(local, "still served")
        async with client.get("/healthz") as health:
            assert health.status == 200
        await hello(held[0])  # the sockets let in still chat
        await say(held[0], "mine still work")
    assert refusals(caplog) == 1  # five refusals, one line: a flood does not flood the log

    async def let_in() -> bool:
        """Whether a socket from the address is let in again, now that its others have closed."""
        try:
            async with client.ws_connect(WS, headers=FLOODER) as ws:
                return (await hello(ws))["type"] == "welcome"
        except aiohttp.WSServerHandshakeError as exc:
            assert exc.status == 429, exc
            return False

    await eventually(let_in, "the closed sockets' places to be free again")


async def test_a_visitor_token_holds_no_more_sockets_open_than_its_cap(
    make_client: AppClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client(webchat_settings(settings))  # the default cap, 20
    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(tab(client))
        visitor_id = (await hello(first))["visitor_id"]
        for _ in range(19):
            await hello(await stack.enter_async_context(tab(client)), visitor_id)
        for _ in range(3):
            async with tab(client) as one_too_many:
                await one_too_many.send_json({"type": "hello", "visitor_id": visitor_id})
                await expect_error(one_too_many, "too_many_sockets")
                closing = await one_too_many.receive(timeout=HANG)
                assert (closing.type, closing.data, closing.extra) == (
                    WSMsgType.CLOSE, WSCloseCode.TRY_AGAIN_LATER, "too_many_sockets")
        await say(first, "the tabs let in still chat")
        async with tab(client) as someone_else:
            await hello(someone_else)
    assert refusals(caplog) == 1

    async def let_in() -> bool:
        """Whether a tab of the visitor is let in again, now that the others have closed."""
        async with tab(client) as ws:
            await ws.send_json({"type": "hello", "visitor_id": visitor_id})
            return (await receive(ws))["type"] == "welcome"

    await eventually(let_in, "the visitor's closed tabs to be forgotten")


# -- frames ---------------------------------------------------------------------------------


def warnings_with(caplog: pytest.LogCaptureFixture, words: str) -> int:
    return len([r for r in caplog.records if r.levelname == "WARNING" and words in r.getMessage()])


async def test_bad_frames_are_each_answered_and_logged_once_a_minute_per_address(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    async with tab(client) as one, tab(client) as other:
        for ws in (one, other):
            for _ in range(25):
                await ws.send_str("{not json")
            await ws.send_bytes(b"\x00")
        for ws in (one, other):
            for _ in range(25):
                await expect_error(ws, "bad_json")
            await expect_error(ws, "binary_not_supported")
        await hello(one)  # the socket keeps working
    assert warnings_with(caplog, "bad frame") == 1


async def test_a_socket_flooding_frames_is_told_and_closed_and_the_others_of_its_address_are_not(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    async with tab(client) as flood, tab(client) as neighbour:
        await hello(neighbour)
        # far more than the default 300 a minute, sent without reading the answers, as the script did
        sent = 3000
        for _ in range(sent):
            await flood.send_str("{not json")
        answered = 0
        while (frame := await receive(flood))["code"] == "bad_json":
            answered += 1
        assert frame["type"] == "error" and frame["code"] == "too_many_frames", frame
        assert answered < sent
        closing = await flood.receive(timeout=HANG)
        assert (closing.type, closing.data, closing.extra) == (
            WSMsgType.CLOSE, WSCloseCode.POLICY_VIOLATION, "too_many_frames")
        await say(neighbour, "still chatting")  # the limit is the socket's, not its address's
    assert warnings_with(caplog, "too_many_frames") == 1


def test_socket_caps_are_options_with_generous_defaults() -> None:
    options = WebChatConnector.parse_options({})
    assert (options.sockets_per_address, options.sockets_per_visitor, options.frames_per_socket) == (
        100, 20, "300/minute")
    with pytest.raises(ValueError, match="sockets_per_address"):
        WebChatConnector.parse_options({"sockets_per_address": 0})
    with pytest.raises(ValueError, match="is not a rate"):
        WebChatConnector.parse_options({"frames_per_socket": "lots"})


async def test_a_visitors_token_is_written_to_no_log_line(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    """The token is a credential: a hello with it reads the visitor's whole history. A bad
    frame's warning, a socket closed for a too-large frame, a message sent again (the core
    logs the duplicate's external id) and the visitor's comings and goings name them by a tag."""
    caplog.set_level("DEBUG")
    async with tab(client) as ws:
        token = (await hello(ws))["visitor_id"]
        await say(ws, "first", client_id="c-1")
        await say(ws, "first", client_id="c-1")  # the widget's resend of an unacked message
        await ws.send_str("{not json")
        await expect_error(ws, "bad_json")
    async with tab(client) as ws:
        await hello(ws, token)
        await ws.send_str("x" * 200_000)  # over the frame limit: the socket is closed
        await ws.receive(timeout=HANG)
    await eventually(lambda: _true(any("disconnected" in r.getMessage() for r in caplog.records)),
                     "the closed socket to be logged")
    secret = token.partition(".")[2]
    assert secret and not [r.getMessage() for r in caplog.records if secret in r.getMessage()]
    assert any(token.partition(".")[0][:10] in r.getMessage() for r in caplog.records)  # the tag is there


async def _true(value: bool) -> bool:
    return value



async def test_a_visitor_that_leaves_during_the_handshake_is_no_error(
        make_client: AppClient, settings: Settings, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A visitor gone while the chat's socket was being opened (a tab closed, a phone out of
    signal) is nothing to serve: it was an ERROR "Error handling request" with a traceback, each."""
    caplog.set_level(logging.DEBUG, logger="connectors.webchat")
    client = await make_client(webchat_settings(settings))
    with monkeypatch.context() as patch:
        handshake_lost(patch, ChatSocket)
        await meet_lost_handshake(client, WS, caplog)
    async with tab(client) as ws:  # and the next visitor is served
        await hello(ws)
        await say(ws, "still served")
