"""A plain private text message is read from the update's JSON without
aiogram's models (``connectors.telegram_inbound.plain_text``): what the router
is handed must be what aiogram's reading makes of the same update, field for
field, and any update with more in it must still go through aiogram."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from aiogram import Bot
from aiogram.types import Update

from connectors.telegram_inbound import ReadUpdate, plain_text, read_inbound, read_update
from router.models import InboundMessage

BOT = Bot("123456:TEST")
PLAIN: dict[str, Any] = {"update_id": 5, "message": {
    "message_id": 7, "from": {"id": 42, "is_bot": False, "first_name": "Иван"},
    "chat": {"id": 42, "first_name": "Иван", "type": "private"}, "date": 1765000000, "text": "где мой заказ?"}}


def _with(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    raw = copy.deepcopy(PLAIN)
    change(raw["message"])
    return raw


def _by_aiogram(raw: dict[str, Any]) -> InboundMessage | None:
    return read_inbound("tg", ReadUpdate(raw["update_id"], Update.model_validate(raw, context={"bot": BOT}), raw))


@pytest.mark.parametrize("raw", [
    PLAIN,
    _with(lambda m: m["from"].update(last_name="Петров", username="ivan_p", language_code="ru")),
    _with(lambda m: m["from"].update(last_name="", username="")),
    _with(lambda m: m["from"].update(first_name="N" * 300)),
    _with(lambda m: m.update(text="x" * 5000)),  # over the router's length: cut, and kept whole in extras
    _with(lambda m: m.update(date=0)),
], ids=["plain", "full-name", "empty-parts", "long-name", "long-text", "epoch"])
def test_a_plain_text_message_reads_as_aiogram_reads_it(raw: dict[str, Any]) -> None:
    read = read_update(copy.deepcopy(raw), BOT)
    assert read.plain is not None and read.update is None
    fast, slow = read_inbound("tg", read), _by_aiogram(raw)
    assert fast is not None and slow is not None
    assert fast.model_dump() == slow.model_dump()
    assert fast.model_fields_set == slow.model_fields_set


@pytest.mark.parametrize("change", [
    lambda m: m.update(entities=[{"type": "bold", "offset": 0, "length": 3}]),
    lambda m: m["chat"].update(type="group"),
    lambda m: m["from"].update(is_bot=True),
    lambda m: m.update(text=""),
    lambda m: m["from"].update(last_name=None),
    lambda m: m.update(date=True),
    lambda m: m.update(date=3 * 10**10),  # pydantic would read it as milliseconds
    lambda m: m.update(reply_to_message={"message_id": 1, "date": 1, "chat": {"id": 42, "type": "private"}}),
], ids=["entities", "group", "bot", "no-text", "null-name", "bool-date", "ms-date", "reply"])
def test_anything_more_goes_through_aiogram(change: Callable[[dict[str, Any]], object]) -> None:
    raw = _with(change)
    assert plain_text(raw) is None
    assert read_update(raw, BOT).plain is None


def test_an_update_of_another_kind_is_no_plain_message() -> None:
    edited = copy.deepcopy(PLAIN)
    edited["edited_message"] = edited.pop("message")
    assert plain_text(edited) is None
