"""The connector contract holds for every connector module: a connector gets
callbacks from the core and never reaches into it (README.md, "Layout")."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, cast, get_args, get_origin

import pytest
from pydantic import ValidationError

import connectors
from connectors import CONNECTOR_TYPES, connector_class
from router.connector import Connector, ConnectorOptions, split_text

CONNECTORS_DIR = Path(connectors.__file__).parent
# the contract the core offers (router/connector.py and the guarded fetcher it hands
# each connector, router/fetch.py) and the models it speaks in
ALLOWED_CORE_MODULES = {"router.connector", "router.fetch", "router.models"}


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names if node.module == "router")
    return found


@pytest.mark.parametrize("path", sorted(CONNECTORS_DIR.rglob("*.py")), ids=lambda p: p.name)
def test_connectors_import_nothing_of_the_core_but_its_contract_and_models(path: Path) -> None:
    core = {m for m in imported_modules(path) if m == "router" or m.startswith("router.")}
    assert core <= ALLOWED_CORE_MODULES, f"{path.name} imports {sorted(core - ALLOWED_CORE_MODULES)}"


@pytest.mark.parametrize("type_name", sorted(CONNECTOR_TYPES))
def test_every_registered_type_is_a_connector_named_as_registered(type_name: str) -> None:
    cls = connector_class(type_name)
    assert issubclass(cls, Connector)
    assert cls.type_name == type_name


@pytest.mark.parametrize("type_name", sorted(CONNECTOR_TYPES))
def test_every_type_reads_its_section_with_the_options_it_is_typed_over(type_name: str) -> None:
    """``Connector[TelegramOptions]`` is the one place a connector names its
    options: its section is parsed with that model (a key of its own is
    accepted, a typo refused), and ``self.options`` is typed as it."""
    cls = connector_class(type_name)
    (declared,) = [get_args(base)[0] for base in cls.__orig_bases__ if get_origin(base) is Connector]
    assert declared is not ConnectorOptions
    assert cls.options_model is declared
    with pytest.raises(ValidationError) as refused:
        cls.parse_options({"no_such_key": 1})
    assert refused.value.title == declared.__name__


@pytest.mark.parametrize("type_name", sorted(CONNECTOR_TYPES))
def test_a_connector_given_options_of_another_model_says_so_at_once(type_name: str) -> None:
    cls = connector_class(type_name)
    with pytest.raises(TypeError, match=f"needs {cls.options_model.__name__}, not ConnectorOptions"):
        cls("main", ConnectorOptions(), cast(Any, None))


def test_a_long_text_is_cut_at_line_breaks_and_never_leaves_an_empty_part() -> None:
    assert split_text("", 10) == [""]
    assert split_text("abcdefghij", 10) == ["abcdefghij"]
    assert split_text("a" * 20, 10) == ["a" * 10, "a" * 10]  # VK's copy used to add an empty third part
    assert split_text("line one\nline two", 12) == ["line one\n", "line two"]
    # a break early in the text is not worth a tiny part: cut at the limit
    assert split_text("a\n" + "b" * 15, 10) == ["a\n" + "b" * 8, "b" * 7]
