"""What the site chat tells a visitor while its store is down. Before, a
message the store refused got ``{"code": "unavailable", "message": "the message
could not be stored, retrying"}``: English to everyone, and not saying which
message or when to send it again, so the widget sent it again on every
reconnection. Now the frame names the message (``client_id``) and the wait
(``retry_after``, as webhooks' Retry-After), in the language the hello named."""

from __future__ import annotations

import sqlite3

import pytest
from aiohttp import WSMsgType

from connectors.webchat_frames import UNAVAILABLE_RETRY_AFTER, unavailable_frame
from router.config import Settings
from tests.conftest import HANG, AppClient, sqlite_only
from tests.connectors.webchat_helpers import hello, receive, tab, webchat_settings
from tests.router.test_store_outage import Fault

pytestmark = sqlite_only("the same path on PostgreSQL: the connector sees HostUnavailable from either store")

SAID = {"ru": "Сообщение не удалось сохранить", "en": "The message could not be stored", None: "The message could"}


@pytest.mark.parametrize("lang", ["ru", "en", None])
async def test_a_message_the_store_refused_is_named_with_when_to_send_it_again_in_the_visitors_language(
    make_client: AppClient, settings: Settings, monkeypatch: pytest.MonkeyPatch, lang: str | None
) -> None:
    fault = Fault()
    monkeypatch.setattr(sqlite3, "connect", fault.connect)
    client = await make_client(webchat_settings(settings))
    async with tab(client) as ws:
        await hello(ws, **({"lang": lang} if lang else {}))
        fault.error = "database or disk is full"
        await ws.send_json({"type": "message", "text": "где мой заказ?", "client_id": "c-1"})
        frame = await receive(ws)
        assert frame["type"] == "error" and frame["code"] == "unavailable", frame
        assert frame["client_id"] == "c-1" and frame["retry_after"] == UNAVAILABLE_RETRY_AFTER, frame
        assert frame["message"].startswith(SAID[lang]), frame
        assert f"{UNAVAILABLE_RETRY_AFTER}" in frame["message"], frame
        # closed after it, as before: a widget of an older version sends it again as it reconnects
        assert (await ws.receive(timeout=HANG)).type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)


def test_a_hello_the_store_could_not_answer_is_told_in_the_visitors_language() -> None:
    ru, en = unavailable_frame("ru-RU"), unavailable_frame(None)
    assert "client_id" not in ru and ru["retry_after"] == UNAVAILABLE_RETRY_AFTER
    assert ru["message"].startswith("Чат ненадолго недоступен") and en["message"].startswith("The chat is unavailable")
