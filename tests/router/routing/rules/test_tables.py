"""rule-engine's parser tables ship with us (router/routing/rules/_parsetab.py): they
must be the installed rule-engine's, or every start builds them again."""

from __future__ import annotations

import subprocess
import sys

from router.routing.rules import tables


def test_the_shipped_tables_are_the_installed_grammars() -> None:
    assert tables.shipped_signature() == tables.grammar_signature(), (
        "rule-engine's grammar changed: run python -m router.routing.rules.tables"
        " and commit router/routing/rules/_parsetab.py")


def test_rule_engine_reads_the_shipped_tables_instead_of_building_them() -> None:
    probe = ("import sys, router.routing.rules.engine as e; "
             "print(sys.modules['rule_engine.parser.parsetab'].__file__); "
             "print(e.rule_engine.Rule(\"tier == 'gold' and ltv > 5\").matches({'tier': 'gold', 'ltv': 6}))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [str(tables.SHIPPED), "True"]
