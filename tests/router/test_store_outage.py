"""A store fault is an outage, not a wedge: under a full disk or read-only
files the service answers 503 with the reason, acknowledges nothing it did not
store, logs the outage once, keeps its background tasks, and recovers by
itself once the fault is gone.

The fault is injected into the platform, SQLite: every connection the store
opens in this process is a ``sqlite3.Connection`` whose COMMIT and WAL
checkpoints fail with SQLite's own words while the switch is on (the writer
runs in a thread here; the writer process meets real faults in
tests/router/test_store_outage_real.py)."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connectors.webchat_tokens import public_part
from router.config import Settings
from router.server.app import STORE
from router.store.sqlite import SQLiteStore
from tests.agents_ui.conftest import login
from tests.conftest import AppClient, eventually, sqlite_only
from tests.connectors import test_telegram as telegram
from tests.connectors.test_telegram import PATH, SECRET, SECRET_HEADER, Client, inbound, post, text_update

# the faults are injected into SQLite's own connections
pytestmark = sqlite_only("tests/router/store/test_pg_connections_ended.py")

CEILING = 120.0  # seconds: a hang detector, never a measurement
# the Telegram connector on its local fake, for the webhook test
tg_api, tg_settings, tg = telegram.tg_api, telegram.tg_settings, telegram.tg
_connect = sqlite3.connect


class Fault:
    """A switch for the platform's failures: the message SQLite gives for it, or None."""

    def __init__(self) -> None:
        self.error: str | None = None
        fault = self

        class Failing(sqlite3.Connection):
            def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
                if fault.error is not None and sql.lstrip().upper().startswith(("COMMIT", "PRAGMA WAL_CHECKPOINT")):
                    raise sqlite3.OperationalError(fault.error)
                return super().execute(sql, parameters)

        self.factory = Failing

    def connect(self, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        return _connect(*args, factory=self.factory, **kwargs)


async def _hello(ws: aiohttp.ClientWebSocketResponse, visitor_id: str | None = None) -> str:
    await ws.send_json({"type": "hello", **({"visitor_id": visitor_id} if visitor_id else {})})
    welcome = await ws.receive_json(timeout=CEILING)
    assert welcome["type"] == "welcome", welcome
    return str(welcome["visitor_id"])


async def _say(ws: aiohttp.ClientWebSocketResponse, client_id: str) -> dict[str, Any]:
    await ws.send_json({"type": "message", "text": f"text {client_id}", "client_id": client_id})
    while True:
        frame: dict[str, Any] = await ws.receive_json(timeout=CEILING)
        if frame["type"] in ("ack", "error"):
            return frame


def _stored(database: Path, external_id: str) -> int:
    with _connect(database) as conn:
        return int(conn.execute("SELECT count(*) FROM messages WHERE external_id = ?", (external_id,)).fetchone()[0])


@pytest.mark.parametrize("error", ["database or disk is full", "attempt to write a readonly database"])
async def test_a_store_fault_is_an_outage_that_ends_by_itself(
    make_client: AppClient, settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    error: str,
) -> None:
    fault = Fault()
    monkeypatch.setattr(sqlite3, "connect", fault.connect)
    caplog.set_level(logging.INFO)
    client = await make_client()
    store = client.app[STORE]
    assert isinstance(store, SQLiteStore)
    await login(client)
    async with client.ws_connect("/chat/ws") as ws:
        visitor = await _hello(ws)
        assert (await _say(ws, "before"))["type"] == "ack"
    conversation = (await (await client.get("/api/conversations")).json())["conversations"][0]["id"]

    fault.error = error
    health = await client.get("/healthz")
    assert health.status == 503, await health.text()
    reason = (await health.json())["store"]
    assert reason.startswith(("the disk is full", "the database is read-only")), reason
    reply = await client.post(f"/api/conversations/{conversation}/messages", json={"text": "an answer"})
    assert reply.status == 503 and reply.headers["Retry-After"]
    body = (await reply.json())["error"]
    assert body["code"] == "store_unavailable" and reason.split(" (")[0] in body["message"], body
    for _ in range(5):  # the site chat: refused, never acknowledged (the widget re-sends)
        async with client.ws_connect("/chat/ws") as ws:
            await _hello(ws, visitor)
            frame = await _say(ws, "during")
            assert frame["type"] == "error" and frame["code"] == "unavailable", frame
    assert _stored(Path(settings.store.path), f"{public_part(visitor)}:during") == 0

    async def checkpoints_fail() -> bool:
        return any("WAL checkpoints are failing" in r.getMessage() for r in caplog.records)

    await eventually(checkpoints_fail, "a checkpoint to meet the fault", CEILING)
    assert store._checkpoints is not None and not store._checkpoints.done()

    fault.error = None

    async def healthy() -> bool:
        return (await client.get("/healthz")).status == 200

    await eventually(healthy, "/healthz to be ok once the fault is gone", CEILING)
    async with client.ws_connect("/chat/ws") as ws:  # the widget re-sends what was not acknowledged
        await _hello(ws, visitor)
        first = await _say(ws, "during")
        again = await _say(ws, "during")
        assert first["type"] == again["type"] == "ack" and first["id"] == again["id"]
    assert _stored(Path(settings.store.path), f"{public_part(visitor)}:during") == 1
    reply = await client.post(f"/api/conversations/{conversation}/messages", json={"text": "an answer"})
    assert reply.status == 201, await reply.text()

    async def checkpoints_back() -> bool:
        return any("WAL checkpoints are failing" in r.getMessage() and "cleared" in r.getMessage()
                   for r in caplog.records)

    await eventually(checkpoints_back, "the checkpoints to work again", CEILING)
    assert not store._checkpoints.done()
    lines = [r.getMessage() for r in caplog.records if "writes are failing" in r.getMessage()]
    assert len(lines) == 2 and "cleared" in lines[1], lines  # one as the outage starts, one as it ends
    assert not [r for r in caplog.records if r.exc_info], "a traceback for an outage"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "webchat" in r.name]


@pytest.fixture
def fault(monkeypatch: pytest.MonkeyPatch) -> Fault:
    """Injected before the service starts, so every connection it opens is one."""
    injected = Fault()
    monkeypatch.setattr(sqlite3, "connect", injected.connect)
    return injected


async def test_a_webhook_during_an_outage_gets_503_and_its_redelivery_is_stored_once(
    fault: Fault, tg: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """Telegram is not told "received" for an update that was not stored:
    it delivers it again, and the redelivery after the outage is stored once."""
    payload = text_update(7, "hello")
    fault.error = "database or disk is full"
    async with tg.post(PATH, headers={SECRET_HEADER: SECRET}, json=payload) as resp:
        assert resp.status == 503, await resp.text()
        assert "disk is full" in (await resp.json())["reason"]
    assert await inbound(tg) == []
    fault.error = None
    assert await post(tg, payload) == 200
    assert await post(tg, payload) == 200  # Telegram's own redelivery
    assert [m.text for m in await inbound(tg)] == ["hello"]
    assert not [r for r in caplog.records if r.exc_info], "a traceback for an outage"
