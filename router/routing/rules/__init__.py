"""Routing rules: ``config/rules.yaml`` and ``config/teams.yaml``, a safe
expression language over the message, the customer, the conversation and
time (rule-engine, never ``eval``), decisions with an explanation trace.

Its names load on first use: a module that needs only the schema (the
bot's config) should not pay for rule-engine."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from router.routing.rules.tables import install

if TYPE_CHECKING:
    from router.routing.rules.engine import RuleSet, RulesRouting, load_rules
    from router.routing.rules.schema import RULES_FILE, TEAMS_FILE, RulesFile, TeamsFile

# before any module of this package imports rule-engine
install()

_ENGINE, _SCHEMA = f"{__name__}.engine", f"{__name__}.schema"
_LAZY = {
    "RuleSet": _ENGINE, "RulesRouting": _ENGINE, "load_rules": _ENGINE,
    "RULES_FILE": _SCHEMA, "TEAMS_FILE": _SCHEMA, "RulesFile": _SCHEMA, "TeamsFile": _SCHEMA,
}

__all__ = ["RULES_FILE", "TEAMS_FILE", "RuleSet", "RulesFile", "RulesRouting", "TeamsFile", "load_rules"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
