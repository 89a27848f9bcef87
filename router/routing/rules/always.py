"""Conditions that can never hold (``a > 5 and a < 3``) or always hold
(``a > 5 or a <= 5``), for the checker's warnings: the comparisons of one fact
with constants, within one chain of ``and`` or of ``or``."""

from __future__ import annotations

import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from rule_engine import ast as re_ast

from router.routing.rules.ast_text import unparse

# -- always-false conjunctions, always-true disjunctions ---------------------------------

def flatten(node: Any, op: str) -> Iterator[Any]:
    if isinstance(node, re_ast.LogicExpression) and node.type == op:
        yield from flatten(node.left, op)
        yield from flatten(node.right, op)
    else:
        yield node


_FLIP = {"gt": "lt", "lt": "gt", "ge": "le", "le": "ge", "eq": "eq", "ne": "ne"}
Interval = tuple[float, bool, float, bool]  # low, low included, high, high included
_ALL: Interval = (-math.inf, False, math.inf, False)


def _subject(node: Any) -> bool:
    return isinstance(node, re_ast.SymbolExpression | re_ast.GetAttributeExpression | re_ast.GetItemExpression)


def _constraint(node: Any) -> tuple[str, str, Any] | None:
    """``(subject, op, literal)`` of a comparison of a fact with a constant."""
    if isinstance(node, re_ast.ContainsExpression) and _subject(node.member):
        if isinstance(node.container, re_ast.ArrayExpression | re_ast.SetExpression) and node.container.value:
            values = [m.value for m in node.container.value if isinstance(m, re_ast.LiteralExpressionBase)]
            if len(values) == len(node.container.value):
                return unparse(node.member), "in", frozenset(values)
        return None
    if not isinstance(node, re_ast.ComparisonExpression) or node.type not in _FLIP:
        return None
    left, right, op = node.left, node.right, node.type
    if _subject(right) and isinstance(left, re_ast.LiteralExpressionBase):
        left, right, op = right, left, _FLIP[op]
    if not _subject(left) or not isinstance(right, re_ast.FloatExpression | re_ast.StringExpression):
        return None
    return unparse(left), op, right.value


def _intervals(op: str, value: Any) -> list[Interval]:
    if op == "in":
        return [(float(v), True, float(v), True) for v in value]
    v = float(value)
    return {
        "gt": [(v, False, math.inf, False)], "ge": [(v, True, math.inf, False)],
        "lt": [(-math.inf, False, v, False)], "le": [(-math.inf, False, v, True)],
        "eq": [(v, True, v, True)], "ne": [(-math.inf, False, v, False), (v, False, math.inf, False)],
    }[op]


def _meet(a: Interval, b: Interval) -> Interval | None:
    low = max((a[0], not a[1]), (b[0], not b[1]))
    high = min((a[2], a[3]), (b[2], b[3]))
    lo, lo_in, hi, hi_in = low[0], not low[1], high[0], high[1]
    if lo > hi or (lo == hi and not (lo_in and hi_in)):
        return None
    return lo, lo_in, hi, hi_in


def _covers_all(intervals: list[Interval]) -> bool:
    reach, reach_in = -math.inf, True
    for lo, lo_in, hi, hi_in in sorted(intervals, key=lambda i: (i[0], not i[1])):
        if lo > reach or (lo == reach and not (reach_in or lo_in)):
            return False
        if hi > reach:
            reach, reach_in = hi, hi_in
        elif hi == reach:
            reach_in = reach_in or hi_in
    return reach == math.inf


def _values(op: str, value: Any) -> tuple[bool, frozenset[Any]]:
    """A string constraint as (True, allowed) or (False, excluded)."""
    return (op != "ne", frozenset(value) if op == "in" else frozenset([value]))


def _grouped(parts: list[Any]) -> dict[tuple[str, bool], list[tuple[str, Any, str]]]:
    groups: dict[tuple[str, bool], list[tuple[str, Any, str]]] = {}
    for part in parts:
        found = _constraint(part)
        if found is None:
            continue
        subject, op, value = found
        values = value if op == "in" else [value]
        numeric = all(isinstance(v, Decimal | int | float) and not isinstance(v, bool) for v in values)
        textual = all(isinstance(v, str) for v in values)
        if numeric or (textual and op in ("eq", "ne", "in")):
            groups.setdefault((subject, numeric), []).append((op, value, unparse(part)))
    return groups


def _no_string_left(items: list[tuple[str, Any, str]]) -> bool:
    """Whether string constraints joined by ``and`` leave no value: (allowed, values)
    is the set of allowed values, or (not allowed) every value but those."""
    allowed, values = _values(items[0][0], items[0][1])
    for op, value, _ in items[1:]:
        positive, these = _values(op, value)
        if allowed and positive:
            values = values & these
        elif allowed:
            values = values - these
        elif positive:
            allowed, values = True, these - values
        else:
            values = values | these
    return allowed and not values


def contradiction(parts: list[Any]) -> str | None:
    """Why conditions joined by ``and`` can never all hold, if they cannot."""
    for (_, numeric), items in _grouped(parts).items():
        if len(items) < 2:
            continue
        quoted = " and ".join(f"`{text}`" for _, _, text in items)
        if numeric:
            current = [_ALL]
            for op, value, _ in items:
                current = [m for a in current for b in _intervals(op, value) if (m := _meet(a, b)) is not None]
            if not current:
                return f"can never be true: {quoted} exclude each other"
        elif _no_string_left(items):
            return f"can never be true: {quoted} exclude each other"
    return None


def tautology(parts: list[Any]) -> str | None:
    """Why conditions joined by ``or`` always hold together, if they do."""
    for (_, numeric), items in _grouped(parts).items():
        if len(items) < 2:
            continue
        quoted = " or ".join(f"`{text}`" for _, _, text in items)
        if numeric:
            if _covers_all([i for op, value, _ in items for i in _intervals(op, value)]):
                return f"is always true: {quoted} cover every value"
        else:
            excluded: frozenset[Any] | None = None
            allowed: frozenset[Any] = frozenset()
            for op, value, _ in items:
                positive, these = _values(op, value)
                if positive:
                    allowed = allowed | these
                else:
                    excluded = these if excluded is None else excluded & these
            if excluded is not None and excluded <= allowed:
                return f"is always true: {quoted} cover every value"
    return None
