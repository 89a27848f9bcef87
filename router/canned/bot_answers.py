"""The bot's answers offered as canned replies: filled in as the bot fills them
(``{name}``, ``{name|fallback}``: router.bot.config), but all or nothing, as a
person's reply is. The bot itself says "" for a missing ``{name}`` and prints a
yes/no flag as "True"; an agent's reply box never gets either: a variable
without a usable value and without a fallback is listed, and nothing is filled."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router.bot.config import PLACEHOLDER
from router.canned.template import plain


def bot_missing(template: str, values: Mapping[str, Any]) -> list[str]:
    """The variables of ``template`` that have no usable value here and no fallback, each once."""
    return list(dict.fromkeys(m.group(1) for m in PLACEHOLDER.finditer(template)
                              if m.group(2) is None and plain(values.get(m.group(1))) is None))


def bot_fill(template: str, values: Mapping[str, Any]) -> str:
    """The answer filled in: a value as the customer reads it, else the fallback
    (``bot_missing`` says beforehand whether every variable has one or the other)."""
    def one(match: Any) -> str:
        value = plain(values.get(match.group(1)))
        return value if value is not None else match.group(2) or ""

    return PLACEHOLDER.sub(one, template)
