"""Routing rules: ``config/rules.yaml`` and ``config/teams.yaml``, a safe
expression language over the message, the customer, the conversation and
time (rule-engine, never ``eval``), decisions with an explanation trace."""

from router.rules.engine import RuleSet, RulesRouting, load_rules
from router.rules.schema import RULES_FILE, TEAMS_FILE, RulesFile, TeamsFile

__all__ = ["RULES_FILE", "TEAMS_FILE", "RuleSet", "RulesFile", "RulesRouting", "TeamsFile", "load_rules"]
