"""A rule's regular expression can never hold routing up: a pattern that would
backtrack for ever against a customer's text is given up, the condition is
false, the next rule decides, and the trace and the log say why (the log
without the customer's text)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from router.models import Customer, Direction, Message, RouteDecision
from router.routing.rules import RulesRouting, load_rules
from router.routing.rules.engine import Condition
from tests.liveness import finishes
from tests.router.routing.rules.conftest import write_config

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
# With the standard library's re each of these takes longer than the age of the
# universe on HOSTILE: (a|aa)+ tries every way of splitting the a's.
RUNAWAY = "(a|aa)+$"
HOSTILE = "a" * 80 + "b"

RULES = f"""\
rules:
  - {{name: runaway literal, when: "text =~ '{RUNAWAY}'", queue: {{team: senior, priority: 90}}}}
  - {{name: runaway from the customer, when: "text =~~ attributes['pattern']", queue: {{team: senior, priority: 80}}}}
  - {{name: runaway in a list, when: "[t for t in customer_tags if t =~ '{RUNAWAY}'].length > 0",
     queue: {{team: senior, priority: 70}}}}
  - {{name: refund, when: "text =~~ '(?i)возврат|refund'", queue: {{team: senior, priority: 50}}}}
default: {{queue: {{team: support}}}}
"""


def message(text: str) -> Message:
    return Message(id="msg_1", conversation_id=None, customer_id=None, direction=Direction.IN, author="customer",
                   channel="webchat", text=text, created_at=NOW)


def customer(**attributes: Any) -> Customer:
    return Customer(id="cus_1", attributes=attributes, created_at=NOW, updated_at=NOW)


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    return write_config(tmp_path / "config", RULES)


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _decide_here(path: str, text: str, attributes: dict[str, Any]) -> tuple[RouteDecision, list[str]]:
    handler = _Warnings()
    logging.getLogger("router").addHandler(handler)
    try:
        routing = RulesRouting(load_rules(Path(path)), clock=lambda: NOW)
        return routing.decide(message(text), customer(**attributes)), handler.lines
    finally:
        logging.getLogger("router").removeHandler(handler)


def decide(path: Path, text: str, **attributes: Any) -> tuple[RouteDecision, list[str]]:
    return finishes(_decide_here, str(path), text, attributes)  # type: ignore[no-any-return]


def test_a_runaway_pattern_is_given_up_and_the_next_rule_decides(rules_file: Path) -> None:
    text = HOSTILE + " хочу возврат"
    decision, warnings = decide(rules_file, text, pattern=RUNAWAY.replace("$", " "), tags=[HOSTILE])

    assert decision.trace is not None
    assert (decision.trace.matched_rule, decision.team, decision.priority) == ("refund", "senior", 50)
    given_up = {r.rule: r.conditions[0].error for r in decision.trace.rules if not r.matched}
    assert set(given_up) == {"runaway literal", "runaway from the customer", "runaway in a list"}
    for error in given_up.values():
        assert error is not None and "took longer" in error
    assert len(warnings) == 3 and all(RUNAWAY.rstrip("$") in w for w in warnings)
    assert not any("возврат" in w or HOSTILE in w for w in warnings)  # the customer's text stays out of the log


def test_patterns_still_match_as_before(rules_file: Path) -> None:
    """The same syntax as rule-engine's own: a match at the start (=~), a search
    (=~~), inline flags, Cyrillic."""
    routing = RulesRouting(load_rules(rules_file), clock=lambda: NOW)
    assert routing.decide(message("aaaa"), customer()).trace.matched_rule == "runaway literal"  # type: ignore[union-attr]
    assert routing.decide(message("Где мой ВОЗВРАТ?"), customer()).trace.matched_rule == "refund"  # type: ignore[union-attr]
    plain = routing.decide(message("hello"), customer(pattern="^hel+o$"))
    assert plain.trace is not None and plain.trace.matched_rule == "runaway from the customer"
    nothing = routing.decide(message("hello"), customer())
    assert nothing.trace is not None and nothing.trace.matched_rule is None and nothing.team == "support"
    assert all(c.error is None for r in nothing.trace.rules for c in r.conditions
               if r.rule != "runaway from the customer")  # no attribute: that one is a fact of the wrong shape


@pytest.mark.parametrize(("pattern", "text"), [("(?i)счёт", "Выставьте счет"), ("(?i)счет", "ВЫСТАВЬТЕ СЧЁТ"),
                                               ("ещё", "а еще?")])
def test_yo_and_ye_match_each_other(pattern: str, text: str) -> None:
    """«ё» is written «е» as often as not: «счёт» missed «счет», though the
    rules' own asked_for_human already takes them as one letter."""
    assert Condition.of(f"text =~~ '{pattern}'").evaluate({"text": text}).value is True
