"""The site chat's sockets against the whole running service: how many one
client address and one visitor token may hold open at once. Each holds a file
descriptor, and one client that opened 20,000 of them shut every other visitor
and /healthz out. A websocket client plays the widget."""

from __future__ import annotations

import contextlib
import ipaddress

import aiohttp
import pytest
from aiohttp import WSCloseCode, WSMsgType

from connectors.webchat import WebChatConnector
from router.config import Settings
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
        assert (await client.get("/healthz")).status == 200
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
            async with tab(client) as third:
                await third.send_json({"type": "hello", "visitor_id": visitor_id})
                await expect_error(third, "too_many_sockets")
                closing = await third.receive(timeout=HANG)
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


def test_socket_caps_are_options_with_generous_defaults() -> None:
    options = WebChatConnector.parse_options({})
    assert (options.sockets_per_address, options.sockets_per_visitor) == (100, 20)
    with pytest.raises(ValueError, match="sockets_per_address"):
        WebChatConnector.parse_options({"sockets_per_address": 0})
