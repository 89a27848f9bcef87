"""No broad ``except`` swallows an error: an ``except Exception`` /
``except BaseException`` / bare ``except`` in production code (router/,
connectors/, agents_ui/) re-raises, logs (at warning or above), or hands the
exception on by its name (to a caller, through a future). A body of only
``pass`` or ``...`` never does. ``contextlib.suppress`` of a broad type is the
same swallow in other words."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("router", "connectors", "agents_ui")
BROAD = {"Exception", "BaseException"}
LOUD = {"exception", "error", "warning", "critical"}


def _names(node: ast.expr | None) -> set[str]:
    if node is None:
        return {"BaseException"}  # a bare except
    if isinstance(node, ast.Tuple):
        return {n for e in node.elts for n in _names(e)}
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attribute):
        return {node.attr}
    return set()


def _own_nodes(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every node of the handler's body, not of functions defined in it."""
    pending: list[ast.AST] = list(body)
    while pending:
        node = pending.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            pending.extend(ast.iter_child_nodes(node))


def _handles(handler: ast.ExceptHandler) -> bool:
    if all(isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
           for s in handler.body):
        return False
    for node in _own_nodes(handler.body):
        if isinstance(node, ast.Raise):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in LOUD:
            return True
        if handler.name and isinstance(node, ast.Name) and node.id == handler.name:
            return True  # handed on
    return False


def offences(source: str, where: str) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ExceptHandler) and _names(node.type) & BROAD and not _handles(node):
            found.append(f"{where}:{node.lineno}: a broad except that neither re-raises, logs nor hands it on")
        if (isinstance(node, ast.Call) and _names(node.func) & {"suppress"}
                and any(_names(a) & BROAD for a in node.args)):
            found.append(f"{where}:{node.lineno}: contextlib.suppress of a broad type swallows every error")
    return found


def test_no_broad_except_swallows_an_error() -> None:
    found = [o for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
             for o in offences(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert found == []


def test_the_check_finds_each_kind_of_swallow() -> None:
    """The check itself, on the shapes it must refuse and those it must let be."""
    swallows = [
        "try:\n    f()\nexcept Exception:\n    pass\n",
        "try:\n    f()\nexcept BaseException:\n    ...\n",
        "try:\n    f()\nexcept:\n    pass\n",
        "try:\n    f()\nexcept (OSError, Exception):\n    x = 1\n",
        "try:\n    f()\nexcept Exception as exc:\n    log.debug('quiet')\n",
        "try:\n    f()\nexcept Exception:\n    def g():\n        raise\n",
        "with contextlib.suppress(Exception):\n    f()\n",
    ]
    for source in swallows:
        assert offences(source, "x.py"), source
    handled = [
        "try:\n    f()\nexcept Exception:\n    log.exception('said')\n",
        "try:\n    f()\nexcept BaseException:\n    close()\n    raise\n",
        "try:\n    f()\nexcept Exception as exc:\n    future.set_exception(exc)\n",
        "try:\n    f()\nexcept OSError:\n    pass\n",
        "with contextlib.suppress(OSError):\n    f()\n",
    ]
    for source in handled:
        assert offences(source, "x.py") == [], source
