"""The core's domain slices (issue 20): each ``router/<slice>/store.py``
declares a narrow store protocol of at most 15 methods, and ``Store`` inherits
every one of them, so a caller of the whole store loses nothing while a
consumer of one slice is typed against that slice alone."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
from typing import Any

import pytest

import router
from router.store.base import Store

MOST_METHODS = 15


def _slice_protocols() -> list[Any]:
    found = []
    for info in pkgutil.iter_modules(router.__path__):
        if not info.ispkg or importlib.util.find_spec(f"router.{info.name}.store") is None:
            continue
        module = importlib.import_module(f"router.{info.name}.store")
        found += [cls for _, cls in inspect.getmembers(module, inspect.isclass)
                  if cls.__module__ == module.__name__ and getattr(cls, "_is_protocol", False)]
    return found


def test_there_is_a_slice_to_check() -> None:
    assert "AccountStore" in {p.__name__ for p in _slice_protocols()}


@pytest.mark.parametrize("protocol", _slice_protocols(), ids=lambda p: p.__name__)
def test_a_slice_protocol_is_narrow_and_part_of_the_store(protocol: Any) -> None:
    assert 0 < len(protocol.__abstractmethods__) <= MOST_METHODS
    assert protocol in Store.__mro__


def test_the_outbox_is_a_slice() -> None:
    assert "OutboxStore" in {p.__name__ for p in _slice_protocols()}


def test_routing_is_a_slice() -> None:
    assert "AssignmentStore" in {p.__name__ for p in _slice_protocols()}


def test_ingest_and_conversations_are_slices() -> None:
    found = {p.__name__ for p in _slice_protocols()}
    assert {"IngestStore", "ConversationStore", "MessageStore", "OutboundStore"} <= found


def test_identity_is_a_slice() -> None:
    assert {"CustomerStore", "VerificationStore", "ClaimStore", "MergeStore"} <= {
        p.__name__ for p in _slice_protocols()}
