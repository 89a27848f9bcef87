"""The connector contract's error tree at the host (``Router``): whatever goes
wrong in the core reaches a connector as ``HostError``, an outage as
``HostUnavailable`` and anything else as ``HostFailed``, logged once by the
host and never with the customer's text. On a real SQLite store that refuses
the write (tests/refusal.py)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from email.utils import formatdate
from pathlib import Path

import pytest

from router.bus import EventBus
from router.config import RoutingConfig
from router.connector import HostError, HostFailed, HostUnavailable, retry_after
from router.core import Router, _for_connectors
from router.metrics import Metrics
from router.models import IdentityRef, InboundMessage
from router.redaction import textless_traceback
from router.routing.decide import DefaultTeamRouting
from router.store.sqlite import SQLiteStore
from tests.refusal import WORDS, Refusal, stored

TEXT = "моя карта 4276 0000 1111 2222, где заказ?"


@pytest.fixture
async def router(tmp_path: Path) -> AsyncIterator[Router]:
    async with SQLiteStore(tmp_path / "core.db") as store:
        yield Router(store, EventBus(), DefaultTeamRouting(RoutingConfig(default_team="sales")), Metrics())


def message(external_id: str) -> InboundMessage:
    return InboundMessage(channel="webchat", external_id=external_id,
                          sender=IdentityRef(kind="webchat", value="v1"), text=TEXT)


def test_the_tree() -> None:
    assert issubclass(HostUnavailable, HostError) and issubclass(HostFailed, HostError)
    assert not issubclass(HostFailed, HostUnavailable)


async def test_a_refused_write_is_host_failed_logged_once_and_the_next_message_is_taken(
    router: Router, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await router.on_message(message("before"))  # the schema exists
    refusal = Refusal(tmp_path / "core.db")
    refusal.on()
    with pytest.raises(HostFailed) as info:
        await router.on_message(message("during"))
    assert not isinstance(info.value, HostUnavailable)
    assert "IntegrityViolation" in info.value.reason and TEXT not in info.value.reason
    [record] = [r for r in caplog.records if r.exc_info or "\n" in r.getMessage()]
    assert record.name == "router.core" and "webchat/during" in record.getMessage()
    assert WORDS in caplog.text  # the backend's words say which rule broke
    assert TEXT not in caplog.text
    assert stored(tmp_path / "core.db", "during") == 0

    refusal.off()
    accepted = await router.on_message(message("during"))
    assert not accepted.duplicate and stored(tmp_path / "core.db", "during") == 1


async def test_a_bug_in_the_core_is_host_failed_logged_with_its_frames_but_not_its_words(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A poller must not die of a bug, and the log must not quote the customer:
    an exception's words often do (a validation error quotes its input)."""

    def buggy() -> None:
        raise ValueError(f"cannot parse {TEXT!r}")

    with pytest.raises(HostFailed) as info, _for_connectors("message %s/%s", "telegram", "42"):
        buggy()
    assert info.value.reason.startswith("an internal error (ValueError")
    assert isinstance(info.value.__cause__, ValueError)
    [record] = caplog.records
    assert record.levelno == logging.ERROR and "message telegram/42" in record.getMessage()
    assert "in buggy" in record.getMessage() and "ValueError" in record.getMessage()
    assert TEXT not in caplog.text


def test_a_textless_traceback_keeps_every_frame_and_type_of_the_chain() -> None:
    def inner() -> None:
        raise KeyError(TEXT)

    try:
        try:
            inner()
        except KeyError as exc:
            raise RuntimeError(TEXT) from exc
    except RuntimeError as exc:
        text = textless_traceback(exc)
    assert TEXT not in text
    assert text.index("in inner") < text.index("KeyError") < text.index("which led to") < text.index("RuntimeError")


@pytest.mark.parametrize(("value", "seconds"), [
    ("7", 7.0), ("1.5", 1.5), ("-3", 0.0), (None, 1.0), ("soon", 1.0),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date gone by: at once
])
def test_retry_after_reads_seconds_and_http_dates(value: str | None, seconds: float) -> None:
    assert retry_after(value) == seconds


def test_retry_after_of_a_date_to_come_is_the_seconds_until_it() -> None:
    assert 55 <= retry_after(formatdate(time.time() + 60, usegmt=True)) <= 60
