"""Check a rule expression all the way down, not only its final type.

rule-engine types an expression as a whole: ``customer_tier in [...] or
customer_ltv >> 100000`` is "boolean" because ``or`` is, although its right
side is a bit shift (a number) that can never be a condition, so a typo
silently switched a rule off. Here every sub-expression of rule-engine's AST is
looked at with the types of the facts (``facts.py``): operands of ``and``,
``or`` and ``not`` must be yes/no, bit operators on numbers are refused with
the comparison that was probably meant, a string is never compared with a
number, unknown names get a "did you mean", and conditions that are always
true or always false (constants, ``x == x``, ``a > 5 and a < 3``) are warned
about. The offending part is quoted, as rule-engine would print it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, get_args

import rule_engine
from rule_engine import DataType
from rule_engine import ast as re_ast

from router.kinds import AttachmentKind
from router.routing.rules.always import contradiction, flatten, tautology
from router.routing.rules.ast_text import OPERATORS, children, literal, unparse, wrapped
from router.routing.rules.facts import FACTS
from router.routing.rules.patterns import prepared

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Severity
    message: str


TYPED = rule_engine.Context(
    type_resolver=rule_engine.type_resolver_from_dict({name: f.type for name, f in FACTS.items()}),
    default_timezone="UTC",
    # attributes['plan'], not attributes.plan: the dot form is going away in rule-engine 6
    mapping_attribute_lookup=False,
)
UNTYPED = rule_engine.Context(default_timezone="UTC", mapping_attribute_lookup=False)

# -- words ------------------------------------------------------------------------------

_TYPE_WORDS = {
    "FLOAT": "number", "STRING": "string", "BOOLEAN": "yes/no value", "DATETIME": "date and time",
    "TIMEDELTA": "duration", "SET": "set", "ARRAY": "list", "MAPPING": "mapping", "NULL": "null",
    "BYTES": "bytes value", "FUNCTION": "function", "UNDEFINED": "value",
}


def type_word(data_type: Any) -> str:
    return _TYPE_WORDS.get(getattr(data_type, "name", ""), str(getattr(data_type, "name", "value")).lower())


def _defined(data_type: Any) -> bool:
    return data_type is not None and data_type != DataType.UNDEFINED


def _is_boolean(data_type: Any) -> bool:
    return not _defined(data_type) or DataType.is_compatible(data_type, DataType.BOOLEAN)


# typed for another operator: rule-engine refuses (or, for >> and <<, accepts) them
_TYPOS: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"==="), "===", "=="),
    (re.compile(r"=>"), "=>", ">="),
    (re.compile(r"=<"), "=<", "<="),
    (re.compile(r"<>"), "<>", "!="),
    (re.compile(r"&&"), "&&", "and"),
    (re.compile(r"\|\|"), "||", "or"),
    (re.compile(r"!(?![=~])"), "!", "not"),
    (re.compile(r"(?<![=!<>])=(?![=~<>])"), "=", "=="),
]
_STRING = re.compile(r"""[rs]?(["'])(?:[^\\\n]|\\.)*?\1""")


def operator_typo(source: str) -> str | None:
    """A "did you mean" for an operator of another language, outside string literals."""
    masked = _STRING.sub(lambda m: " " * len(m.group(0)), source)
    for pattern, typed, meant in _TYPOS:
        if pattern.search(masked):
            return f"`{typed}` is no operator here: did you mean `{meant}`?"
    return None


def _syntax_message(source: str, exc: rule_engine.errors.RuleSyntaxError) -> str:
    token = exc.token
    if token is not None and isinstance(getattr(token, "lexpos", None), int):
        where = f" near `{source[token.lexpos:token.lexpos + 20].strip()}` (column {token.lexpos + 1})"
    else:
        where = " (it ends too early)"
    hint = operator_typo(source)
    return f"syntax error in {source!r}{where}" + (f": {hint}" if hint else "")


def _unknown_names(tree: Any) -> Iterator[str]:
    stack, bound = [tree], set()
    while stack:
        node = stack.pop()
        if isinstance(node, re_ast.ComprehensionExpression):
            bound.add(node.variable)
            stack.extend(n for n in (node.result, node.condition) if n is not None)
        if (isinstance(node, re_ast.SymbolExpression) and node.scope is None
                and node.name not in FACTS and node.name not in bound):
            yield node.name
        stack.extend(children(node))


def _name_message(name: str) -> str:
    close = difflib.get_close_matches(name, list(FACTS), n=1, cutoff=0.6)
    suggestion = f" (did you mean {close[0]!r}?)" if close else " (see `omnirouter rules facts`)"
    return f"unknown fact {name!r}{suggestion}"


# -- entry point ------------------------------------------------------------------------


def check(source: str) -> tuple[rule_engine.Rule | None, list[Finding]]:
    """The typed rule (None when there is an error) and every finding, errors first."""
    try:
        untyped = rule_engine.Rule(source, context=UNTYPED).statement.expression
    except rule_engine.errors.RuleSyntaxError as exc:
        return None, [Finding("error", _syntax_message(source, exc))]
    except rule_engine.errors.EngineError as exc:
        hint = operator_typo(source)
        return None, [Finding("error", f"{exc.message} in {source!r}" + (f": {hint}" if hint else ""))]
    unknown = list(dict.fromkeys(_unknown_names(untyped)))
    if unknown:
        return None, [Finding("error", _name_message(name)) for name in unknown]
    try:
        rule = prepared(rule_engine.Rule(source, context=TYPED))
    except rule_engine.errors.EngineError as exc:
        located = list(_innermost_failures(untyped))
        if not located:
            return None, [Finding("error", f"{exc.message} in {source!r}")]
        return None, [Finding("error", _failure_message(n, e)) for n, e in located]
    walker = _Walker()
    walker.top(rule.statement.expression, source)
    findings = sorted(walker.findings, key=lambda f: f.severity != "error")
    return (None if any(f.severity == "error" for f in findings) else rule), findings


def _typed(text: str) -> Any:
    """The typed AST of ``text``, or the engine's error."""
    try:
        return rule_engine.Rule(text, context=TYPED).statement.expression
    except rule_engine.errors.EngineError as exc:
        return exc


def _innermost_failures(node: Any) -> Iterator[tuple[Any, rule_engine.errors.EngineError]]:
    """The smallest parts that the typed engine refuses on their own (their
    children pass): where a type error really is."""
    found = False
    for child in children(node):
        for failure in _innermost_failures(child):
            found = True
            yield failure
    if found:
        return
    outcome = _typed(unparse(node))
    if isinstance(outcome, rule_engine.errors.EngineError):
        yield node, outcome


def _operand_types(node: Any) -> list[Any]:
    types = []
    for child in children(node):
        outcome = _typed(unparse(child))
        types.append(DataType.UNDEFINED if isinstance(outcome, rule_engine.errors.EngineError) else outcome.result_type)
    return types


def _failure_message(node: Any, exc: rule_engine.errors.EngineError) -> str:
    part = unparse(node)
    types = _operand_types(node)
    if isinstance(node, re_ast.BitwiseExpression):
        return _bitwise_message(node, types)
    if isinstance(node, re_ast.ComparisonExpression) and len(types) == 2 and exc.message == "data type mismatch":
        return f"`{part}` compares a {type_word(types[0])} with a {type_word(types[1])}"
    if len(types) == 2 and exc.message == "data type mismatch":
        op = "??" if isinstance(node, re_ast.CoalesceExpression) else OPERATORS.get(getattr(node, "type", ""), "?")
        return f"`{part}`: `{op}` cannot take a {type_word(types[0])} and a {type_word(types[1])}"
    suggestion = getattr(exc, "suggestion", None)
    return f"`{part}`: {exc.message}" + (f" (did you mean {suggestion!r}?)" if suggestion else "")


_SHIFT_HINTS = {"bwrsh": ">", "bwlsh": "<"}
_LOGIC_HINTS = {"bwand": "and", "bwor": "or"}


def _bitwise_message(node: Any, types: list[Any] | None = None) -> str:
    """Nobody routes by bits: a shift is a mistyped comparison, ``&``/``|`` a mistyped ``and``/``or``."""
    op = OPERATORS[node.type]
    meant = _SHIFT_HINTS.get(node.type)
    types = types or [node.left.result_type, node.right.result_type]
    if meant is None and any(_defined(t) and DataType.is_compatible(t, DataType.BOOLEAN) for t in types):
        meant = _LOGIC_HINTS.get(node.type)
    what = "a bit shift" if node.type in _SHIFT_HINTS else f"the bitwise `{op}`"
    hint = f": did you mean `{wrapped(node.left)} {meant} {wrapped(node.right)}`?" if meant else ""
    return f"`{unparse(node)}` is {what} (rules never need bit operations){hint}"


# -- the walk over a typed expression ----------------------------------------------------


# the values some facts can take, and nothing else: a rule comparing them with another never holds
VOCABULARY: dict[str, tuple[str, ...]] = {
    "language": ("ru", "en"),
    "now.weekday": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "attachment_kinds": get_args(AttachmentKind),
}


# facts whose values are in lower case: a literal with a capital letter is never one of them
LOWER_CASE = frozenset({"customer_tier", "customer_tags"})


def _strings(node: Any) -> list[str]:
    """The string literals of ``node``: itself, or an array's (``customer_tier in ['Gold', 'vip']``)."""
    if isinstance(node, re_ast.StringExpression):
        return [node.value]
    if isinstance(node, re_ast.ArrayExpression):
        return [item.value for item in node.value if isinstance(item, re_ast.StringExpression)]
    return []


class _Walker:
    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def error(self, message: str) -> None:
        self.findings.append(Finding("error", message))

    def warning(self, message: str) -> None:
        self.findings.append(Finding("warning", message))

    def top(self, node: Any, source: str) -> None:
        erred = self.visit(node)
        if erred:
            return
        if not _is_boolean(node.result_type):
            hint = f": compare it, e.g. `{source.strip()} > 0`" if node.result_type == DataType.FLOAT else ""
            self.error(f"`{source.strip()}` is a {type_word(node.result_type)}, not a yes/no condition{hint}")
        elif isinstance(node, re_ast.BooleanExpression):
            self.warning(f"`{source.strip()}` is always {literal(node.value)}: the rule "
                         + ("matches every conversation" if node.value else "never matches"))

    def visit(self, node: Any, parent: Any = None) -> bool:
        """Check ``node`` and below; True when an error was found there."""
        erred = False
        for child in children(node):
            erred = self.visit(child, node) or erred
        if erred:
            return True  # one error per part: its parents would only repeat it
        before = len([f for f in self.findings if f.severity == "error"])
        if isinstance(node, re_ast.BitwiseExpression):
            if any(DataType.is_compatible(c.result_type, DataType.FLOAT) or not _defined(c.result_type)
                   for c in (node.left, node.right)) and not _is_set(node):
                self.error(_bitwise_message(node))
        elif isinstance(node, re_ast.LogicExpression):
            self._yes_no_operands(node, [node.left, node.right], f"`{node.type}`")
            if not (isinstance(parent, re_ast.LogicExpression) and parent.type == node.type):
                self._chain(node)
        elif isinstance(node, re_ast.UnaryExpression) and node.type == "not":
            self._yes_no_operands(node, [node.right], "`not`")
        elif isinstance(node, re_ast.TernaryExpression):
            self._yes_no_operands(node, [node.condition], "`? :`")
        elif isinstance(node, re_ast.ComparisonExpression) and not isinstance(node, re_ast.FuzzyComparisonExpression):
            self._comparison(node)
        elif isinstance(node, re_ast.ContainsExpression):
            self._contains(node)
        return len([f for f in self.findings if f.severity == "error"]) > before

    def _yes_no_operands(self, node: Any, operands: list[Any], op: str) -> None:
        for operand in operands:
            if not _is_boolean(operand.result_type):
                self.error(f"`{unparse(operand)}` is a {type_word(operand.result_type)}, not a yes/no "
                           f"condition (an operand of {op} in `{unparse(node)}`)")

    def _comparison(self, node: Any) -> None:
        lt, rt = node.left.result_type, node.right.result_type
        if (_defined(lt) and _defined(rt) and DataType.NULL not in (lt, rt)
                and not DataType.is_compatible(lt, rt)):
            self.error(f"`{unparse(node)}` compares a {type_word(lt)} with a {type_word(rt)}: they are never equal")
            return
        if not isinstance(node.left, re_ast.LiteralExpressionBase) and unparse(node.left) == unparse(node.right):
            always = node.type in ("eq", "ge", "le")
            self.warning(f"`{unparse(node)}` compares a value with itself: always {literal(always)}")
        elif node.type in ("eq", "ne"):
            for fact, value in ((node.left, node.right), (node.right, node.left)):
                self._outside(node, fact, value, always=node.type == "ne")

    def _outside(self, node: Any, fact: Any, value: Any, always: bool) -> None:
        """``language == 'RU'``, ``now.weekday == 'Суббота'``: a value the fact never takes."""
        if unparse(fact) in LOWER_CASE and (cased := [v for v in _strings(value) if v != v.lower()]):
            self.warning(f"`{unparse(node)}`: {unparse(fact)} is in lower case, so {', '.join(map(repr, cased))} "
                         f"never matches: write {', '.join(repr(v.lower()) for v in cased)}")
            return
        known = VOCABULARY.get(unparse(fact))
        if known is not None and isinstance(value, re_ast.StringExpression) and value.value not in known:
            what = "holds only" if isinstance(node, re_ast.ContainsExpression) else "is one of"
            self.warning(f"`{unparse(node)}` is always {literal(always)}: {unparse(fact)} {what} "
                         f"{', '.join(repr(k) for k in known)}")

    def _contains(self, node: Any) -> None:
        self._outside(node, node.container, node.member, always=False)
        if unparse(node.member) in LOWER_CASE:  # customer_tier in ['Gold', 'platinum']
            self._outside(node, node.member, node.container, always=False)
        container, member = node.container.result_type, node.member.result_type
        inner = getattr(container, "value_type", None)
        if DataType.is_type(container, DataType.STRING) if _defined(container) else False:
            inner = DataType.STRING
        if (_defined(inner) and _defined(member) and DataType.NULL not in (member, inner)
                and not DataType.is_compatible(inner, member)):
            self.error(f"`{unparse(node)}` looks for a {type_word(member)} among {type_word(inner)}s: never found")

    def _chain(self, node: Any) -> None:
        parts = list(flatten(node, node.type))
        constant = next((p for p in parts if isinstance(p, re_ast.BooleanExpression)), None)
        if constant is not None:
            decides = constant.value == (node.type == "or")
            if decides:
                self.warning(f"`{unparse(node)}` is always {literal(constant.value)}: a part of it is the constant "
                             f"`{literal(constant.value)}`")
            else:
                self.warning(f"`{literal(constant.value)}` in `{unparse(node)}` changes nothing")
            return
        message = contradiction(parts) if node.type == "and" else tautology(parts)
        if message is not None:
            self.warning(f"`{unparse(node)}` {message}")


def _is_set(node: Any) -> bool:
    return any(DataType.is_type(c.result_type, DataType.SET) for c in (node.left, node.right)
               if _defined(c.result_type))


def conjunction_warnings(sources: list[str]) -> list[Finding]:
    """For a rule's list of conditions (all must hold): whether they exclude each other."""
    parts: list[Any] = []
    for source in sources:
        try:
            expression = rule_engine.Rule(source, context=TYPED).statement.expression
        except rule_engine.errors.EngineError:
            return []
        parts.extend(flatten(expression, "and"))
    message = contradiction(parts)
    return [Finding("warning", f"these conditions {message}")] if message else []
