"""The service's operational surface: health, metrics, start and stop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agents_ui.endpoints import REQUEST_LINE_BYTES
from router.cluster.node import NODE_ENV
from router.config import Settings
from router.models import IdentityRef, InboundMessage
from router.server.app import ROUTER, STORE
from router.server.bad_requests import AIOHTTP_SERVER, quiet_bad_requests
from router.store.sqlite import SQLiteStore
from tests.conftest import HANG, AppClient, eventually, sqlite_only


def samples(text: str, node: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample, by name and labels; each must be labelled by ``node``
    (a cluster's nodes each answer for themselves), which is left out of the key."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            assert s.labels.pop("node", None) == node, f"{s.name} is not labelled by node {node!r}"
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


async def test_healthz(make_client: AppClient, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NODE_ENV, "node-a")
    client = await make_client(settings.model_copy(update={"connectors": {}}))
    resp = await client.get("/healthz")
    assert resp.status == 200
    body = await resp.json()
    body.pop("leads", None)  # on PostgreSQL: the singletons this node leads
    assert body == {"status": "ok", "node": "node-a"}


async def test_a_node_without_an_id_makes_one_up(make_client: AppClient, settings: Settings,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(NODE_ENV, raising=False)
    first = await make_client(settings.model_copy(update={"connectors": {}}))
    second = await make_client(settings.model_copy(update={"connectors": {}}))
    nodes = [(await (await c.get("/healthz")).json())["node"] for c in (first, second)]
    assert nodes[0] != nodes[1] and all(n.startswith(socket.gethostname().split(".")[0][:40]) for n in nodes)


@sqlite_only("tests/router/store/test_pg_connections_ended.py")
async def test_healthz_says_when_no_message_could_be_stored(make_client: AppClient, settings: Settings) -> None:
    """The writer process dies and its database is gone (a volume unmounted):
    /healthz says so with the reason, and is ok again once it is back."""
    settings.store.writer = "process"
    client = await make_client(settings.model_copy(update={"connectors": {}}))
    store = client.app[STORE]
    assert isinstance(store, SQLiteStore) and store._w.pid is not None
    database = Path(settings.store.path)
    _unmount(database)
    os.kill(store._w.pid, signal.SIGKILL)
    died = await client.get("/healthz")
    assert died.status == 503 and (await died.json())["status"] == "unavailable"
    resp = await client.get("/healthz")  # a new writer process, which cannot open the database
    assert resp.status == 503
    body = await resp.json()
    assert body["status"] == "unavailable" and "unable to open database file" in body["store"]
    resp = await client.get("/healthz")  # within the pause before the next start: says why, spawns nothing
    assert resp.status == 503 and "unable to open database file" in (await resp.json())["store"]
    _remount(database)

    async def ok() -> bool:
        return (await client.get("/healthz")).status == 200

    # a ceiling, not a measurement: the outage ends once no write failed for a few seconds
    await eventually(ok, "the writer process to start again after its pause", 120)


def _unmount(database: Path) -> None:
    database.rename(database.with_suffix(".away"))
    database.mkdir()  # what the next writer process finds at its path


def _remount(database: Path) -> None:
    database.rmdir()
    database.with_suffix(".away").rename(database)


async def test_metrics_count_messages_queue_and_latency(make_client: AppClient, settings: Settings,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NODE_ENV, "node-a")
    client = await make_client(settings.model_copy(update={"connectors": {}}))
    router = client.app[ROUTER]
    for i in range(3):
        msg = InboundMessage(channel="webchat", external_id=str(i), sender=IdentityRef(kind="webchat", value=f"v{i}"))
        await router.on_message(msg)
    await router.on_message(msg)  # a redelivery
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.content_type == "text/plain"
    got = samples(await resp.text(), "node-a")
    assert got[("omnirouter_messages_in_total", (("channel", "webchat"),))] == 3
    assert got[("omnirouter_duplicate_deliveries_total", (("channel", "webchat"),))] == 1
    assert got[("omnirouter_queue_length", ())] == 3
    assert got[("omnirouter_conversations", (("status", "queued"),))] == 3
    assert got[("omnirouter_ingest_latency_seconds_count", ())] == 3


async def test_a_malformed_request_is_one_warning_line_a_minute_not_an_error_with_a_traceback(
    make_client: AppClient, settings: Settings, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiohttp logged each request line over its limit (8 KB then, ``REQUEST_LINE_BYTES`` now) as an ERROR
    with its traceback: anyone could fill the log."""
    monkeypatch.setattr(logging.getLogger(AIOHTTP_SERVER), "filters", [])
    quiet_bad_requests()
    quiet_bad_requests()  # once, however many times it is asked
    assert len(logging.getLogger(AIOHTTP_SERVER).filters) == 1
    client = await make_client(settings.model_copy(update={"connectors": {}}))
    caplog.set_level(logging.DEBUG, logger=AIOHTTP_SERVER)
    for _ in range(3):
        reader, writer = await asyncio.open_connection(client.host, client.port)
        writer.write(b"GET /chat/" + b"x" * (REQUEST_LINE_BYTES + 1000) + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        assert (await asyncio.wait_for(reader.readline(), HANG)).split()[1] == b"400"
        writer.close()
    logged = [r for r in caplog.records if r.name == AIOHTTP_SERVER]
    assert [(r.levelname, r.exc_info) for r in logged] == [("WARNING", None)]
    assert "malformed HTTP request from 127.0.0.1 refused with 400: LineTooLong" in logged[0].getMessage()
    assert (await client.get("/healthz")).status == 200
