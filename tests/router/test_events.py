"""The events the core publishes are declared in one module (router/events.py):
the console reads them by name, so a name it handles that nothing declares is
an event it waits for in vain, and an event built elsewhere escapes the one
place that fixes its shape."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from router import events

ROOT = Path(__file__).resolve().parents[2]
# an event type is compared in the console's scripts as `x.type === "a.b"` or `case "a.b":`
_HANDLED = re.compile(r"""(?:\.type\s*[!=]==?\s*|case\s+)["']([a-z_]+\.[a-z_]+)["']""")


def handled_by_console() -> set[str]:
    found: set[str] = set()
    for script in (ROOT / "agents_ui" / "static").glob("*.js"):
        found |= set(_HANDLED.findall(script.read_text(encoding="utf-8")))
    return found


def test_every_event_the_console_handles_is_declared() -> None:
    handled = handled_by_console()
    assert "message.created" in handled  # the scan finds what the console does handle
    assert handled - events.TYPES == set()


def test_no_event_is_built_outside_the_events_module() -> None:
    """Every publish site uses a typed constructor: ``Event(...)`` appears
    only in router/events.py and in the bus itself (its end marker)."""
    allowed = {ROOT / "router" / "events.py", ROOT / "router" / "bus.py"}
    built = []
    for package in ("router", "agents_ui", "connectors"):
        for path in (ROOT / package).rglob("*.py"):
            if path not in allowed:
                built += [f"{path.relative_to(ROOT)}:{line}" for line in _events_built(ast.parse(path.read_text()))]
    assert built == []


# the agents' merge and unmerge, which the identity slice is moving out of
# router/core.py this round: they switch to events.customer_merged/unmerged there
_NOT_YET = frozenset({"merge_customers", "unmerge_customers"})


def _events_built(node: ast.AST) -> list[int]:
    lines = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.AsyncFunctionDef | ast.FunctionDef) and child.name in _NOT_YET:
            continue
        if isinstance(child, ast.Call) and isinstance(child.func, ast.Name) and child.func.id == "Event":
            lines.append(child.lineno)
        lines += _events_built(child)
    return lines
