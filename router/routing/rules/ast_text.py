"""rule-engine's AST printed back as text, to quote the part of a condition
that is wrong (the AST keeps no source positions), and its children."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from rule_engine import ast as re_ast

OPERATORS = {
    "and": "and", "or": "or", "eq": "==", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<=",
    "eq_fzm": "=~", "eq_fzs": "=~~", "ne_fzm": "!~", "ne_fzs": "!~~", "add": "+", "sub": "-", "mul": "*",
    "tdiv": "/", "fdiv": "//", "mod": "%", "pow": "**", "bwand": "&", "bwor": "|", "bwxor": "^",
    "bwlsh": "<<", "bwrsh": ">>",
}


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, Decimal | float | int):
        number = Decimal(value)
        return str(int(number)) if number == number.to_integral_value() and abs(number) < 10**18 else str(number)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, set | frozenset):
        return "{" + ", ".join(sorted(literal(v) for v in value)) + "}"
    return repr(value)


def wrapped(node: Any, parent: Any = None) -> str:
    """A child as an operand: parenthesised when it is itself an operation
    (except a comparison under ``and``/``or``, which binds tighter anyway)."""
    text = unparse(node)
    if isinstance(parent, re_ast.LogicExpression):
        loose = (isinstance(node, re_ast.LogicExpression) and node.type != parent.type) or isinstance(
            node, re_ast.TernaryExpression | re_ast.CoalesceExpression)
        return f"({text})" if loose else text
    operation = (re_ast.BinaryExpressionBase, re_ast.CoalesceExpression, re_ast.TernaryExpression,
                 re_ast.ContainsExpression, re_ast.UnaryExpression)
    return f"({text})" if isinstance(node, operation) else text


def _slice(node: Any) -> str:
    start = unparse(node.start) if node.start is not None else ""
    stop = unparse(node.stop) if node.stop is not None else ""
    return f"{wrapped(node.container)}{'&[' if node.safe else '['}{start}:{stop}]"


def _comprehension(node: Any) -> str:
    condition = f" if {unparse(node.condition)}" if node.condition is not None else ""
    return f"[{unparse(node.result)} for {node.variable} in {unparse(node.iterable)}{condition}]"


# one printer per node class, most specific first (isinstance order matters)
_PRINTERS: list[tuple[type[Any] | tuple[type[Any], ...], Callable[[Any], str]]] = [
    (re_ast.Statement, lambda n: unparse(n.expression)),
    (re_ast.SymbolExpression, lambda n: ("$" if n.scope is not None else "") + n.name),
    (re_ast.BinaryExpressionBase,
     lambda n: f"{wrapped(n.left, n)} {OPERATORS.get(n.type, n.type)} {wrapped(n.right, n)}"),
    (re_ast.CoalesceExpression, lambda n: f"{wrapped(n.left)} ?? {wrapped(n.right)}"),
    (re_ast.UnaryExpression, lambda n: ("not " if n.type == "not" else "-") + wrapped(n.right)),
    (re_ast.ContainsExpression, lambda n: f"{wrapped(n.member)} in {wrapped(n.container)}"),
    (re_ast.TernaryExpression,
     lambda n: f"{wrapped(n.condition)} ? {wrapped(n.case_true)} : {wrapped(n.case_false)}"),
    (re_ast.GetAttributeExpression, lambda n: f"{wrapped(n.object)}{'&.' if n.safe else '.'}{n.name}"),
    (re_ast.GetItemExpression, lambda n: f"{wrapped(n.container)}{'&[' if n.safe else '['}{unparse(n.item)}]"),
    (re_ast.GetSliceExpression, _slice),
    (re_ast.FunctionCallExpression, lambda n: f"{wrapped(n.function)}({', '.join(unparse(a) for a in n.arguments)})"),
    (re_ast.ComprehensionExpression, _comprehension),
    (re_ast.ArrayExpression, lambda n: "[" + ", ".join(unparse(m) for m in n.value) + "]"),
    (re_ast.SetExpression, lambda n: "{" + ", ".join(unparse(m) for m in n.value) + "}"),
    (re_ast.MappingExpression, lambda n: "{" + ", ".join(f"{unparse(k)}: {unparse(v)}" for k, v in n.value) + "}"),
    (re_ast.DatetimeExpression, lambda n: f"d'{n.value.isoformat()}'"),
    (re_ast.LiteralExpressionBase, lambda n: literal(n.value)),
]


def unparse(node: Any) -> str:
    """An expression's text as rule-engine would read it back (constants folded)."""
    for kind, printer in _PRINTERS:
        if isinstance(node, kind):
            return printer(node)
    return repr(node)


def children(node: Any) -> list[Any]:
    if isinstance(node, re_ast.BinaryExpressionBase | re_ast.CoalesceExpression):
        return [node.left, node.right]
    if isinstance(node, re_ast.UnaryExpression):
        return [node.right]
    if isinstance(node, re_ast.ContainsExpression):
        return [node.member, node.container]
    if isinstance(node, re_ast.TernaryExpression):
        return [node.condition, node.case_true, node.case_false]
    if isinstance(node, re_ast.GetAttributeExpression):
        return [node.object]
    if isinstance(node, re_ast.GetItemExpression):
        return [node.container, node.item]
    if isinstance(node, re_ast.GetSliceExpression):
        return [n for n in (node.container, node.start, node.stop) if n is not None]
    if isinstance(node, re_ast.FunctionCallExpression):
        return [node.function, *node.arguments]
    if isinstance(node, re_ast.ComprehensionExpression):
        # only the iterable stands alone: the result and condition use the loop variable
        return [node.iterable]
    if isinstance(node, re_ast.ArrayExpression | re_ast.SetExpression):
        return list(node.value)
    return []


def _expressions(value: Any) -> Iterator[Any]:
    if isinstance(value, re_ast.ExpressionBase):
        yield value
    elif isinstance(value, list | tuple):  # arrays, sets, a mapping's (key, value) pairs
        for item in value:
            yield from _expressions(item)


def _all_children(node: Any) -> Iterator[Any]:
    """The expressions right under ``node``, a comprehension's result and
    condition included (``children`` leaves those out on purpose)."""
    names: set[str] = set(getattr(node, "__dict__", ()))
    for cls in type(node).__mro__:
        names.update(getattr(cls, "__slots__", ()))
    for name in sorted(names):
        yield from _expressions(getattr(node, name, None))


def every_node(node: Any) -> Iterator[Any]:
    """``node`` and every expression under it, comprehensions' parts included."""
    yield node
    for child in _all_children(node):
        yield from every_node(child)


def calendars_named(expression: Any) -> Iterator[str]:
    """The literal names in ``open['name']`` anywhere in ``expression``."""
    for node in every_node(expression):
        if (isinstance(node, re_ast.GetItemExpression) and isinstance(node.container, re_ast.SymbolExpression)
                and node.container.name == "open" and isinstance(node.item, re_ast.StringExpression)):
            yield node.item.value
