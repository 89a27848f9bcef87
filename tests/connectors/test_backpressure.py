"""Bounded lag under overload (router/ingest/pressure.py): while the pipeline
is over ``server.lag_bound``, every entry point pushes back instead of
queueing, and nothing acknowledged is lost.

The pipeline is made slow for real: another connection holds the SQLite
database's write lock, as a long admin transaction would, so a message taken
in stays in the pipeline and the lag grows past a small bound. Then:
Telegram's webhook answers 503 with Retry-After (Telegram delivers the update
again), VK's too (its date form) while its confirmation is still answered,
Twilio's message is held (Twilio never delivers a refused one again) and the
site chat holds its ack. Once the lock goes, every message acknowledged, and
every one the platform delivered again, reaches the agent's console once.
Nothing here reads a clock: the test waits for the gauge to say "over"."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import WSCloseCode, web
from aiohttp.test_utils import TestClient

import connectors.vk_names
from connectors import webchat, webchat_files
from connectors.webchat_tokens import public_part
from router.appkeys import BUS, ROUTER
from router.config import Settings
from router.models import utcnow
from tests.agents_ui.conftest import login
from tests.conftest import HANG, AppClient, eventually, sqlite_only
from tests.connectors import test_telegram as telegram
from tests.connectors import test_vk as vk
from tests.connectors import twilio_helpers as twilio
from tests.connectors.test_files_roundtrip import visitor_upload
from tests.connectors.test_telegram import tg_api, tg_settings  # noqa: F401  (fixtures)
from tests.connectors.test_vk import vk_api, vk_settings  # noqa: F401  (fixtures)
from tests.fakes.vk_api import FakeVk
from tests.refusal import stored
from tests.router.files.test_sniff import PDF

# the write lock is SQLite's; the admission is the same on either store
pytestmark = sqlite_only("tests/router/ingest/test_pressure.py (the gauge and the admission alone)")

Client = TestClient[web.Request, web.Application]
BOUND = 0.2  # seconds: server.lag_bound, small, so that one message held is over it


@contextlib.contextmanager
def writes_held(database: str) -> Iterator[None]:
    """Another connection holds the database's write lock (the store's writer
    waits for it); reads go on (WAL)."""
    conn = sqlite3.connect(database, timeout=HANG, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


async def over_the_bound(client: Client) -> None:
    pressure = client.app[ROUTER].pressure

    async def probe() -> bool:
        return pressure.over()

    await eventually(probe, "the pipeline over its bound")


async def waiting(client: Client, count: int) -> None:
    pressure = client.app[ROUTER].pressure

    async def probe() -> bool:
        return pressure.waiting >= count

    await eventually(probe, f"{count} sender(s) waiting for room")


class Console:
    """An agent's live feed: the text of every message.created, in order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.texts: list[str] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            frame = msg.json()
            if frame["type"] == "message.created":
                self.texts.append(frame["data"]["message"]["text"])

    async def shown(self, *texts: str) -> None:
        async def probe() -> bool:
            return all(t in self.texts for t in texts)

        await eventually(probe, f"{texts} on the agent's screen")
        assert all(self.texts.count(t) == 1 for t in texts), self.texts  # once each

    async def close(self) -> None:
        await self.ws.close()
        self.task.cancel()


async def console(client: Client) -> Console:
    await login(client)
    return Console(await client.ws_connect("/api/ws"))


async def delivered_again(send: Any, ok: Any) -> None:
    """As a platform does with a message refused: delivered again until it is taken."""
    async def probe() -> bool:
        return bool(ok(await send()))

    await eventually(probe, "the redelivery taken")


async def tg_post(client: Client, body: dict[str, Any]) -> tuple[int, dict[str, str], str]:
    async with client.post(telegram.PATH, headers={telegram.SECRET_HEADER: telegram.SECRET}, json=body) as resp:
        return resp.status, dict(resp.headers), await resp.text()


async def test_over_the_bound_telegram_gets_503_the_chat_holds_its_ack_and_nothing_acknowledged_is_lost(
    make_client: AppClient, tg_settings: Settings,  # noqa: F811
) -> None:
    tg_settings.server.lag_bound = BOUND
    tg_settings.server.public_url = None  # the console's cookie is Secure under an https one: logged in over http
    client = await make_client(tg_settings)
    agent = await console(client)
    chat = await client.ws_connect("/chat/ws")
    await chat.send_json({"type": "hello"})
    assert (await chat.receive_json(timeout=HANG))["type"] == "welcome"
    first, second = telegram.text_update(1, "первое"), telegram.text_update(2, "второе")

    with writes_held(tg_settings.store.path):
        taken = asyncio.create_task(tg_post(client, first))  # in the pipeline, waiting for the store
        await over_the_bound(client)
        status, headers, body = await tg_post(client, second)
        assert status == 503, body
        assert int(headers["Retry-After"]) >= 1 and '"overloaded"' in body
        # the site chat's message waits for room: no ack while the pipeline is over its bound
        await chat.send_json({"type": "message", "text": "из чата", "client_id": "c-1"})
        await waiting(client, 1)
    assert (await asyncio.wait_for(taken, HANG))[0] in (200, 503)  # 503: the store itself gave up waiting
    await delivered_again(lambda: tg_post(client, first), lambda r: r[0] == 200)
    ack = await chat.receive_json(timeout=HANG)
    assert ack["type"] == "ack" and ack["client_id"] == "c-1", ack
    await delivered_again(lambda: tg_post(client, second), lambda r: r[0] == 200)

    await agent.shown("первое", "второе", "из чата")
    for update in (first, second):
        sent = update["message"]
        assert stored(tg_settings.store.path, f"{sent['chat']['id']}:{sent['message_id']}") == 1
    metrics = await (await client.get("/metrics")).text()
    assert 'omnirouter_admission_refused_total{channel="telegram"' in metrics
    assert 'omnirouter_admission_held_total{channel="webchat"' in metrics
    await chat.close()
    await agent.close()


async def under_the_bound(client: Client) -> None:
    pressure = client.app[ROUTER].pressure

    async def probe() -> bool:
        return not pressure.over()

    await eventually(probe, "the pipeline under its bound")


async def said_of(chat: aiohttp.ClientWebSocketResponse, client_id: str) -> dict[str, Any]:
    """The next ack or error about the message ``client_id``."""
    while (frame := await chat.receive_json(timeout=HANG)).get("client_id") != client_id:
        pass
    return dict(frame)


async def test_a_chat_message_refused_as_busy_is_not_overtaken_by_the_next_one(
    make_client: AppClient, tg_settings: Settings, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    monkeypatch.setattr(webchat, "ACK_PATIENCE", 0)  # refused at once, not after its 30 s hold
    tg_settings.server.lag_bound = BOUND
    tg_settings.server.public_url = None  # the console's cookie is Secure under an https one: logged in over http
    client = await make_client(tg_settings)
    agent = await console(client)
    chat = await client.ws_connect("/chat/ws")
    await chat.send_json({"type": "hello"})
    assert (await chat.receive_json(timeout=HANG))["type"] == "welcome"
    with writes_held(tg_settings.store.path):
        taken = asyncio.create_task(tg_post(client, telegram.text_update(1, "из телеграма")))
        await over_the_bound(client)
        await chat.send_json({"type": "message", "text": "первое", "client_id": "a"})
        assert (await said_of(chat, "a"))["code"] == "busy"
    await asyncio.wait_for(taken, HANG)
    await under_the_bound(client)
    # room again, but the first is still to come again: the second waits its turn
    await chat.send_json({"type": "message", "text": "второе", "client_id": "b"})
    refused = await said_of(chat, "b")
    assert refused["type"] == "error" and refused["code"] == "busy" and refused["retry_after"] >= 1, refused
    for client_id, text in (("a", "первое"), ("b", "второе")):  # as the widget sends them again, in order
        await chat.send_json({"type": "message", "text": text, "client_id": client_id})
        assert (await said_of(chat, client_id))["type"] == "ack"
    await agent.shown("первое", "второе")
    assert agent.texts.index("первое") < agent.texts.index("второе")
    await chat.close()
    await agent.close()


async def test_a_file_sent_over_the_bound_is_refused_busy_with_retry_after_and_not_kept(
    make_client: AppClient, tg_settings: Settings, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    monkeypatch.setattr(webchat_files, "HOLD_SECONDS", 0)  # refused at once, not after its 30 s hold
    tg_settings.server.lag_bound = BOUND
    client = await make_client(tg_settings)
    chat = await client.ws_connect("/chat/ws")
    await chat.send_json({"type": "hello"})
    visitor = (await chat.receive_json(timeout=HANG))["visitor_id"]
    pressure = client.app[ROUTER].pressure
    crowd = [pressure.enter() for _ in range(100)]  # the pipeline full: far over the bound
    refused = await visitor_upload(client, visitor, PDF, "заказ.pdf", "application/pdf", "f-1")
    assert refused.status == 503 and int(refused.headers["Retry-After"]) >= 1
    error = (await refused.json())["error"]
    assert error["code"] == "busy" and error["retry_after"] >= 1, error
    assert stored(tg_settings.store.path, f"{public_part(visitor)}:f-1") == 0
    for key in crowd:
        pressure.leave(key)
    await under_the_bound(client)
    taken = await visitor_upload(client, visitor, PDF, "заказ.pdf", "application/pdf", "f-1")  # sent again
    assert taken.status == 201, await taken.text()
    assert stored(tg_settings.store.path, f"{public_part(visitor)}:f-1") == 1
    await chat.close()


async def test_over_the_bound_vk_gets_503_with_a_retry_date_and_its_confirmation_still_answered(
    make_client: AppClient, vk_settings: Settings,  # noqa: F811
) -> None:
    vk_settings.server.lag_bound = BOUND
    client = await make_client(vk_settings)
    agent = await console(client)
    first, second = vk.message_new(1, "первое"), vk.message_new(2, "второе")
    with writes_held(vk_settings.store.path):
        taken = asyncio.create_task(vk.post(client, first))
        await over_the_bound(client)
        async with client.post(vk.PATH, json=second) as resp:
            assert resp.status == 503, await resp.text()
            assert parsedate_to_datetime(resp.headers["Retry-After"]) > utcnow()  # VK resends after it
        assert await vk.post(client, vk.event("confirmation", {})) == (200, vk.CONFIRMATION)
    await asyncio.wait_for(taken, HANG)
    await delivered_again(lambda: vk.post(client, first), lambda r: r == (200, "ok"))
    await delivered_again(lambda: vk.post(client, second), lambda r: r == (200, "ok"))
    await agent.shown("первое", "второе")
    await agent.close()


async def test_a_vk_message_whose_sender_s_name_was_slow_is_refused_when_the_bound_went_over_meanwhile(
    make_client: AppClient, vk_settings: Settings, vk_api: FakeVk,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """VK's callback is admitted once its sender's name is known, right before it is taken in:
    it was admitted before the lookup, so a burst let in while the pipeline was still empty
    waited for its names and then came in all at once, over the bound, and each answer
    waited for the whole backlog (12 s measured on a busy machine, past VK's few seconds)."""
    monkeypatch.setattr(connectors.vk_names, "NAME_WAIT", HANG)  # the name comes when the test says
    vk_settings.server.lag_bound = BOUND
    client = await make_client(vk_settings)
    agent = await console(client)
    known = vk.message_new(1, "первое")
    assert await vk.post(client, known) == (200, "ok")  # this sender's name is now known
    stranger = vk.message_new(2, "от нового", user_id=vk.USER + 5, peer_id=vk.USER + 5)
    names = vk_api.held["users.get"] = asyncio.Event()
    with writes_held(vk_settings.store.path):
        waiting_for_name = asyncio.create_task(vk.post(client, stranger))

        async def asked() -> bool:
            return len(vk_api.sent("users.get")) == 2  # the first sender's, then the stranger's

        await eventually(asked, "the stranger's name asked of VK")
        second = vk.message_new(3, "второе")
        taken = asyncio.create_task(vk.post(client, second))
        await over_the_bound(client)
        names.set()
        # pushed back (VK delivers it again), not taken in to wait for the backlog
        assert await asyncio.wait_for(waiting_for_name, HANG) == (503, "overloaded")
    await asyncio.wait_for(taken, HANG)
    await delivered_again(lambda: vk.post(client, second), lambda r: r == (200, "ok"))
    await delivered_again(lambda: vk.post(client, stranger), lambda r: r == (200, "ok"))
    await agent.shown("первое", "второе", "от нового")
    await agent.close()


async def test_over_the_bound_twilio_is_held_not_refused_twilio_never_delivers_it_again(
    make_client: AppClient, tw_settings: Settings,
) -> None:
    tw_settings.server.lag_bound = BOUND
    tw_settings.server.public_url = None  # the console's cookie is Secure under an https one: logged in over http
    client = await make_client(tw_settings)
    agent = await console(client)
    signed_for = str(client.make_url("/webhooks/twilio/whatsapp"))  # no public URL: Twilio signs the one it calls
    with writes_held(tw_settings.store.path):
        taken = asyncio.create_task(twilio.post(client, "whatsapp", twilio.whatsapp_form("первое"),
                                                sign_url=signed_for))
        await over_the_bound(client)
        held = asyncio.create_task(twilio.post(client, "whatsapp", twilio.whatsapp_form("второе"),
                                               sign_url=signed_for))
        await waiting(client, 1)
    await asyncio.wait_for(taken, HANG)
    assert await asyncio.wait_for(held, HANG) == 200  # answered once there was room: stored, never refused
    await agent.shown("второе")
    await agent.close()


async def signed_in_console(make_client: AppClient, settings: Settings
                            ) -> tuple[Client, aiohttp.ClientWebSocketResponse]:
    settings.server.public_url = None  # the console's cookie is Secure under an https one: logged in over http
    client = await make_client(settings)
    await login(client)
    return client, await client.ws_connect("/api/ws")


async def test_a_console_reading_promptly_is_kept_however_old_the_messages_it_gets(
    make_client: AppClient, tg_settings: Settings,  # noqa: F811
) -> None:
    client, ws = await signed_in_console(make_client, tg_settings)
    # taken in long ago, as after a stalled pipeline or on a node whose clock is far off:
    # no fault of a console that reads what it is sent at once
    client.app[ROUTER].clock = lambda: utcnow().replace(year=utcnow().year - 1)
    assert (await tg_post(client, telegram.text_update(1, "давнее")))[0] == 200
    while (frame := await ws.receive_json(timeout=HANG))["type"] != "message.created":
        pass
    assert frame["data"]["message"]["text"] == "давнее"
    await ws.send_json({"type": "ping"})
    while (msg := await ws.receive(timeout=HANG)).type is aiohttp.WSMsgType.TEXT and msg.json()["type"] != "pong":
        pass
    assert msg.type is aiohttp.WSMsgType.TEXT, msg  # the pong: still open, not closed to reload
    await ws.close()


class Jumping:
    """A clock that moves 1000 s each time it is read: every event is read 1000 s
    after it was published, as by a console that does not read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1000.0
        return self.now


async def test_a_console_far_behind_on_new_messages_is_closed_to_reconnect(
    make_client: AppClient, tg_settings: Settings,  # noqa: F811
) -> None:
    client, ws = await signed_in_console(make_client, tg_settings)
    client.app[BUS].clock = Jumping()
    assert (await tg_post(client, telegram.text_update(1, "новое")))[0] == 200
    while (msg := await ws.receive(timeout=HANG)).type is aiohttp.WSMsgType.TEXT:
        pass  # the event itself still comes, then the close
    assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == WSCloseCode.TRY_AGAIN_LATER  # the console reloads
    await ws.close()
