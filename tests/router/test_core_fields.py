"""``extras`` is the platform's bag: the core's own data of a message lives in
typed fields (``InboundMessage``'s, ``Message.core``, ``OutboundMessage.template``).
This test reads the source of the core and of the connectors and fails on any
write or read of one of the core's keys in an ``extras`` (a dict literal given
as ``extras=``, merged into one or assigned to one; a subscript, ``get``,
``update``, ``setdefault`` or ``pop`` of one; SQL's ``json_extract(extras, '$.key')``),
so a new writer or reader cannot quietly bring the old place back."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from router.models import CoreMeta, InboundMessage

ROOT = Path(__file__).resolve().parents[2]
# every key the core kept in extras before migration 10, and the template request's parts
CORE_KEYS = frozenset(CoreMeta.model_fields) | {"customer_name"}
_SQL = re.compile(r"json_extract\(\s*(?:\w+\.)?extras\s*,\s*'\$\.(\w+)'")
_METHODS = {"get", "update", "setdefault", "pop"}
# keys no other dict of the core has: a dict literal with one is an extras, however it is passed on
# (``Outgoing.automatic(inbound, view, text, {"automatic": ...})`` took one positionally)
DISTINCT_KEYS = frozenset({"automatic", "aside", "follows_conversation", "automated", "sender_name", "agent_name",
                           "proven_phone", "proven_email", "claimed_phone", "claimed_email"})


def _is_extras(node: ast.expr) -> bool:
    """``extras``, ``x.extras`` or a name ending in ``extras`` (``more_extras``)."""
    if isinstance(node, ast.Name):
        return node.id.endswith("extras")
    return isinstance(node, ast.Attribute) and node.attr == "extras"


def _keys(node: ast.expr) -> Iterator[str]:
    if isinstance(node, ast.Dict):
        for key in node.keys:
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                yield key.value


def _constant(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _typed(tree: ast.AST) -> set[int]:
    """The dict literals that name typed fields, not an extras' keys: a
    ``model_copy(update=...)``, an outbox ``payload=`` of ``OutboundMessage``'s
    fields, a module's table of field names (``CLAIM_KEYS = {...}``)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in {"update", "payload"}:
            found.add(id(node.value))
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if all(isinstance(t, ast.Name) and t.id.isupper() for t in targets):
                found.add(id(node.value))
    return found


def _call_keys(node: ast.Call) -> Iterator[str]:
    for keyword in node.keywords:
        if keyword.arg == "extras":
            yield from _keys(keyword.value)
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr in _METHODS and _is_extras(func.value):
        if node.args and (key := _constant(node.args[0])) is not None:
            yield key
        for arg in node.args:
            yield from _keys(arg)
        yield from (k.arg for k in node.keywords if k.arg is not None)


def _used_keys(node: ast.AST, typed: set[int], literals: bool = True) -> Iterator[str]:
    """The string keys ``node`` puts in, or reads from, an extras (``literals``:
    a dict literal with a key only the core uses counts as one, however passed)."""
    if literals and isinstance(node, ast.Dict) and id(node) not in typed:
        yield from (key for key in _keys(node) if key in DISTINCT_KEYS)
    if isinstance(node, ast.Call):
        yield from _call_keys(node)
    elif isinstance(node, ast.Subscript) and _is_extras(node.value):
        if (key := _constant(node.slice)) is not None:
            yield key
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        if _is_extras(node.left) or _is_extras(node.right):
            yield from _keys(node.left)
            yield from _keys(node.right)
    elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if node.value is not None and any(_is_extras(t) for t in targets):
            yield from _keys(node.value)


def core_keys_in_extras(source: str, literals: bool = True) -> list[tuple[int, str]]:
    """``(line, key)`` of each core key written to or read from an extras in ``source``."""
    tree = ast.parse(source)
    typed = _typed(tree)
    found = {(getattr(node, "lineno", 0), key) for node in ast.walk(tree)
             for key in _used_keys(node, typed, literals) if key in CORE_KEYS}
    for number, line in enumerate(source.splitlines(), start=1):
        found |= {(number, key) for key in _SQL.findall(line) if key in CORE_KEYS}
    return sorted(found)


def _modules() -> list[Path]:
    # the connectors build dicts of the platform's own with such keys (a VK quote's sender_name): the core only
    return sorted(p for package in ("router", "agents_ui") for p in (ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_keeps_the_cores_data_in_extras(path: Path) -> None:
    if path.name == "migrations.py":  # migration 10 moves the old keys out: it has to name them
        return
    assert core_keys_in_extras(path.read_text(encoding="utf-8")) == [], f"{path}: use the typed fields"


@pytest.mark.parametrize("path", sorted((ROOT / "connectors").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_connector_hands_the_core_its_data_in_extras(path: Path) -> None:
    """A connector gives the core's part as typed fields (a proven phone, the
    thread, the language...): one written to, or read from, an ``extras`` would
    be ignored by the core. Dict literals of the platform's own (a VK quote's
    ``sender_name``) are no extras, so only what goes in or out of one counts."""
    assert core_keys_in_extras(path.read_text(encoding="utf-8"), literals=False) == [], f"{path}: use the typed fields"


@pytest.mark.parametrize(("source", "key"), [
    ('Outgoing.automatic(inbound, view, text, extras={"automatic": "handoff"})', "automatic"),
    ('message.model_copy(update={"extras": message.extras | {"identity": value}})', "identity"),
    ('extras: dict[str, object] = {"agent_name": agent.display_name}', "agent_name"),
    ('extras |= {"template": True}', "template"),
    ('Outgoing.automatic(inbound, view, text, {"automatic": MARKER, "verification": True})', "automatic"),
    ('extras = message.extras | ({"sender_name": name} if name else {})', "sender_name"),
    ('stored.extras.get("sender_name")', "sender_name"),
    ('m.extras["bot"]["intent"]', "bot"),
    ('extras["automated"] = message.automated', "automated"),
    ('extras.update(proven_phone=phone)', "proven_phone"),
    ('"SELECT 1 FROM messages WHERE json_extract(extras, \'$.automatic\') = ?"', "automatic"),
    ('"SELECT m.* FROM messages m WHERE json_extract(m.extras, \'$.identity\') = ?"', "identity"),
    ('extras["chat_id"] = 42; extras.get("description")', None),  # the platform's: fine
])
def test_the_check_finds_each_way_the_core_wrote_its_keys(source: str, key: str | None) -> None:
    assert {k for _, k in core_keys_in_extras(source)} == ({key} if key else set())


def test_every_key_a_connector_gives_the_core_is_a_typed_field_of_the_inbound_message() -> None:
    given = {"proven_phone", "proven_email", "claimed_phone", "claimed_email", "thread", "language", "automated",
             "sender_name", "replies_to"}
    assert given <= set(InboundMessage.model_fields)
