"""The rules' regular expressions (``=~``, ``=~~``, ``!~``, ``!~~``), each match
bounded in time.

rule-engine runs them with the standard library's ``re``, which backtracks
without limit: a pattern such as ``(a|aa)+$`` (an admin's slip, not an
attack) against a customer's ``aaa…ab`` holds the event loop, and with it
every conversation, for minutes. The ``regex`` package matches the same
syntax, avoids much of that backtracking outright and gives up on the rest
after ``MATCH_SECONDS``; the condition is then false, as for any fact of the
wrong shape at run time, and its trace says why.

rule-engine compiles a literal pattern once when the rule is built and any
other at each evaluation (``_compile_regex``); both are replaced on the
rule's own nodes, so no class of the library is patched."""

from __future__ import annotations

import logging
from typing import Any

import regex
import rule_engine
from rule_engine import ast as re_ast

from router.routing.rules.ast_text import every_node

log = logging.getLogger(__name__)

# Far above any sane pattern's time on a message (microseconds, a few ms for a
# long e-mail on a busy machine), and short enough that a runaway one stalls
# the other conversations for no longer than a slow database call.
MATCH_SECONDS = 0.1


_YO = str.maketrans("ёЁ", "еЕ")


def _yo(text: str) -> str:
    return text.translate(_YO) if "ё" in text or "Ё" in text else text


class TimedPattern:
    """What rule-engine calls on a compiled pattern (``match``, ``search``), with
    a time limit."""

    __slots__ = ("_compiled", "_source")

    def __init__(self, source: str, flags: int) -> None:
        self._source = source
        try:
            # «ё» is written «е» as often as not: a pattern and a text match whichever each has
            self._compiled = regex.compile(_yo(source), flags | regex.VERSION0)
        except regex.error as exc:
            raise rule_engine.errors.RegexSyntaxError("invalid regular expression", error=exc, value=source) from None

    @property
    def pattern(self) -> str:
        return self._source

    def match(self, text: str) -> Any:
        return self._run(self._compiled.match, _yo(text))

    def search(self, text: str) -> Any:
        return self._run(self._compiled.search, _yo(text))

    def _run(self, method: Any, text: str) -> Any:
        try:
            return method(text, timeout=MATCH_SECONDS)
        except TimeoutError:
            # the pattern is the admin's; the text is the customer's and stays out of the log
            log.warning("a rule's pattern %r gave up after %s s on a text of %d characters; the condition "
                        "counts as false: rewrite it without nested repetition", self.pattern, MATCH_SECONDS, len(text))
            raise rule_engine.errors.EvaluationError(
                f"the pattern {self.pattern!r} took longer than {MATCH_SECONDS} s on this text and was given up"
            ) from None


def bound(rule: rule_engine.Rule) -> rule_engine.Rule:
    """The same rule, its regular expressions matched by ``TimedPattern``."""
    flags = rule.context.regex_flags
    for node in every_node(rule.statement.expression):
        if not isinstance(node, re_ast.FuzzyComparisonExpression):
            continue
        if hasattr(node, "_right"):  # a literal pattern, compiled with the rule
            node._right = TimedPattern(node._right.pattern, node._right.flags)
        node._compile_regex = lambda source, _flags=flags: TimedPattern(source, _flags)
    return rule


def prepared(rule: rule_engine.Rule) -> rule_engine.Rule:
    """The rule as the service evaluates it: ``bound``, and a custom attribute
    the customer has not got read as null (``attributes['segment'] != 'b2b'``
    holds for everyone who is not b2b, those without a segment too; before,
    the failed lookup made the whole condition false)."""
    for node in every_node(rule.statement.expression):
        if (isinstance(node, re_ast.GetItemExpression) and isinstance(node.container, re_ast.SymbolExpression)
                and node.container.name == "attributes"):
            node.safe = True
    return bound(rule)
