"""A file the widget sends while the store is down. Before, the file's row
could not be written and the store's own error went past the upload's handler:
the answer was the service's generic 503 body (``{"error": "store_unavailable"}``,
not the upload's ``{"error": {"code": ...}}``) without the CORS header, so a shop's
page could not even read it, and the widget said only "the file was not sent".
The upload's own 503 ``unavailable`` had no Retry-After, unlike the other 503s.
Now it is the upload's 503 ``unavailable`` with ``retry_after`` and Retry-After
(exposed to the shop's page), and the same file sent again then is stored."""

from __future__ import annotations

import sqlite3

import pytest

from connectors.webchat_frames import UNAVAILABLE_RETRY_AFTER
from router.config import Settings
from tests.conftest import AppClient, sqlite_only
from tests.connectors.test_files_roundtrip import visitor_upload
from tests.connectors.webchat_helpers import hello, tab, webchat_settings
from tests.router.files.test_sniff import PDF
from tests.router.test_store_outage import Fault

pytestmark = sqlite_only("the same path on PostgreSQL: the files' service sees StoreUnavailable from either store")


async def test_a_file_the_store_refused_is_answered_503_with_retry_after(
    make_client: AppClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    fault = Fault()
    monkeypatch.setattr(sqlite3, "connect", fault.connect)
    client = await make_client(webchat_settings(settings))
    async with tab(client) as ws:
        visitor = (await hello(ws))["visitor_id"]
    fault.error = "database or disk is full"
    refused = await visitor_upload(client, visitor, PDF, "заказ.pdf", "application/pdf", "f-1",
                                   headers={"Origin": "https://shop.example"})
    body = await refused.json()
    assert refused.status == 503 and body["error"]["code"] == "unavailable", body
    assert refused.headers["Retry-After"] == str(UNAVAILABLE_RETRY_AFTER), dict(refused.headers)
    assert body["error"]["retry_after"] == UNAVAILABLE_RETRY_AFTER, body
    # a page of the shop (another origin) may read it
    assert "Retry-After" in refused.headers["Access-Control-Expose-Headers"], dict(refused.headers)
    fault.error = None
    taken = await visitor_upload(client, visitor, PDF, "заказ.pdf", "application/pdf", "f-1")
    assert taken.status == 201, await taken.text()
