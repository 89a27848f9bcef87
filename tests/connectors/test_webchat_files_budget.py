"""A visitor's uploads cannot fill the disk: a byte budget per visitor (and
per address) an hour, and no file is left on disk that no message refers to
(a retried upload, a message the store refused)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from router.config import ConnectorConfig, Settings
from tests.conftest import AppClient, sqlite_only
from tests.connectors.test_files_roundtrip import visitor_upload
from tests.connectors.webchat_helpers import hello, tab
from tests.refusal import Refusal
from tests.router.files.test_sniff import PDF


@pytest.fixture
def kept(settings: Settings, tmp_path: Path) -> Callable[[], list[str]]:
    return lambda: _kept(tmp_path / settings.files.folder)


def _kept(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.connectors.setdefault("webchat", ConnectorConfig(type="webchat"))
    return settings


async def test_a_retried_upload_keeps_one_file(
        make_client: AppClient, settings: Settings, kept: Callable[[], list[str]]) -> None:
    client = await make_client(settings)
    async with tab(client) as ws:
        visitor = (await hello(ws))["visitor_id"]
    first = await (await visitor_upload(client, visitor, PDF, "заказ.pdf", "application/pdf", "c-1")).json()
    again = await visitor_upload(client, visitor, PDF, "заказ.pdf", "application/pdf", "c-1")
    assert again.status == 201
    answer = await again.json()
    assert answer["id"] == first["id"]
    assert [f["name"] for f in answer["message"]["files"]] == ["заказ.pdf"]
    assert answer["message"]["files"][0]["url"].split("?")[0] == first["message"]["files"][0]["url"].split("?")[0]
    assert len(kept()) == 1


async def test_a_visitor_over_the_hours_byte_budget_is_refused(
        make_client: AppClient, settings: Settings, kept: Callable[[], list[str]]) -> None:
    settings.connectors["webchat"] = ConnectorConfig(type="webchat", file_bytes_per_hour=3000)
    client = await make_client(settings)
    async with tab(client) as ws:
        visitor = (await hello(ws))["visitor_id"]
    body = PDF + b"\0" * 2000
    for _ in range(2):  # under the budget when each starts: taken
        assert (await visitor_upload(client, visitor, body, "a.pdf", "application/pdf")).status == 201
    refused = await visitor_upload(client, visitor, body, "a.pdf", "application/pdf")
    error = (await refused.json())["error"]
    assert (refused.status, error["code"]) == (429, "files_over_budget") and error["retry_after"] >= 1
    assert error["minutes"] >= 1  # what the widget says, in its language (file_budget)
    assert len(kept()) == 2


async def test_an_address_over_its_byte_budget_is_refused_whatever_the_visitor(
        make_client: AppClient, settings: Settings, kept: Callable[[], list[str]]) -> None:
    settings.connectors["webchat"] = ConnectorConfig(type="webchat", file_bytes_per_hour_per_address=3000)
    client = await make_client(settings)
    visitors = []
    for _ in range(3):
        async with tab(client) as ws:
            visitors.append((await hello(ws))["visitor_id"])
    body = PDF + b"\0" * 2000
    for visitor in visitors[:2]:
        assert (await visitor_upload(client, visitor, body, "a.pdf", "application/pdf")).status == 201
    refused = await visitor_upload(client, visitors[2], body, "a.pdf", "application/pdf")
    assert (refused.status, (await refused.json())["error"]["code"]) == (429, "files_over_budget")


@sqlite_only("the refusal is a SQLite trigger (tests/refusal.py)")
async def test_a_file_whose_message_was_not_stored_is_deleted(
        make_client: AppClient, settings: Settings, kept: Callable[[], list[str]]) -> None:
    client = await make_client(settings)
    async with tab(client) as ws:
        visitor = (await hello(ws))["visitor_id"]
    refusal = Refusal(Path(settings.store.path))
    refusal.on()
    try:
        resp = await visitor_upload(client, visitor, PDF, "a.pdf", "application/pdf")
    finally:
        refusal.off()
    assert resp.status == 503
    assert kept() == []
