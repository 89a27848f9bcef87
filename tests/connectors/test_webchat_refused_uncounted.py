"""A site-chat message the service refused (its store down, its pipeline over
the bound) counts against none of the visitor's limits. The widget sends a
refused message again on every reconnect (every half second while the store
is down: each hello is welcomed, which starts its backoff over) or when told,
and each try used to count: a visitor who had sent one message during a
disk-full outage was refused as too fast (``rate_limited``, wait up to a
minute) during it and once it ended, and their message waited that long."""

from __future__ import annotations

import sqlite3

import aiohttp
import pytest

from connectors import webchat, webchat_files
from connectors.webchat_tokens import public_part
from router.appkeys import ROUTER
from router.config import Settings
from tests.conftest import AppClient, eventually, sqlite_only
from tests.connectors.test_files_roundtrip import visitor_upload
from tests.connectors.webchat_helpers import Frame, hello, receive, tab, webchat_settings
from tests.refusal import stored
from tests.router.files.test_sniff import PDF
from tests.router.test_store_outage import Fault

LIMIT = 3  # messages a visitor may send a minute here
TRIES = 6  # a refused message sent again, more times than the limit


async def _said(client_id: str, text: str, ws: aiohttp.ClientWebSocketResponse) -> Frame:
    await ws.send_json({"type": "message", "text": text, "client_id": client_id})
    while True:
        frame = await receive(ws)
        if frame["type"] in ("ack", "error"):
            return frame


@sqlite_only("the same path on PostgreSQL: the connector sees HostUnavailable from either store")
async def test_a_message_refused_in_an_outage_is_not_counted_against_the_visitor(
    make_client: AppClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    fault = Fault()
    monkeypatch.setattr(sqlite3, "connect", fault.connect)
    client = await make_client(webchat_settings(settings, rate_limit=f"{LIMIT}/minute"))
    async with tab(client) as ws:
        visitor = (await hello(ws))["visitor_id"]
    fault.error = "database or disk is full"
    for _ in range(TRIES):  # the widget: a new socket each time, as the server closes it after the refusal
        async with tab(client) as ws:
            await hello(ws, visitor)
            frame = await _said("c1", "где мой заказ?", ws)
            assert frame["type"] == "error" and frame["code"] == "unavailable", frame
    fault.error = None
    async with tab(client) as ws:
        await hello(ws, visitor)
        for n in range(1, LIMIT + 1):
            frame = await _said(f"c{n}", "где мой заказ?", ws)
            assert frame["type"] == "ack", frame
        over = await _said("c-over", "и ещё", ws)  # the limit itself still holds
        assert over["type"] == "error" and over["code"] == "rate_limited", over
    assert stored(settings.store.path, f"{public_part(visitor)}:c1") == 1


async def test_a_message_refused_as_busy_is_not_counted_against_the_visitor(
    make_client: AppClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webchat, "ACK_PATIENCE", 0)  # refused at once, not after its 30 s hold
    settings.server.lag_bound = 0.5
    client = await make_client(webchat_settings(settings, rate_limit=f"{LIMIT}/minute"))
    pressure = client.app[ROUTER].pressure
    async with tab(client) as ws:
        await hello(ws)
        crowd = [pressure.enter() for _ in range(100)]  # the pipeline full: far over the bound
        for _ in range(TRIES):  # sent again each time it is refused, as the widget does when told
            frame = await _said("a", "первое", ws)
            assert frame["type"] == "error" and frame["code"] == "busy", frame
        for key in crowd:
            pressure.leave(key)

        async def room() -> bool:
            return not pressure.over()

        await eventually(room, "the pipeline under its bound")
        for client_id in ("a", "b", "c"):
            frame = await _said(client_id, "текст", ws)
            assert frame["type"] == "ack", frame


async def test_a_file_refused_as_busy_is_not_counted_against_the_visitor(
    make_client: AppClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webchat_files, "HOLD_SECONDS", 0)  # refused at once, not after its 30 s hold
    settings.server.lag_bound = 0.5
    client = await make_client(webchat_settings(settings, rate_limit=f"{LIMIT}/minute",
                                                file_bytes_per_hour=len(PDF) * 2))
    pressure = client.app[ROUTER].pressure
    async with tab(client) as ws:
        visitor = (await hello(ws))["visitor_id"]
    crowd = [pressure.enter() for _ in range(100)]
    for _ in range(TRIES):
        refused = await visitor_upload(client, visitor, PDF, "заказ.pdf", "application/pdf", "f-1")
        assert refused.status == 503 and (await refused.json())["error"]["code"] == "busy"
    for key in crowd:
        pressure.leave(key)

    async def room() -> bool:
        return not pressure.over()

    await eventually(room, "the pipeline under its bound")
    for client_id in ("f-1", "f-2"):  # within the hour's bytes and the minute's messages, as if first sent now
        taken = await visitor_upload(client, visitor, PDF, "заказ.pdf", "application/pdf", client_id)
        assert taken.status == 201, await taken.text()
