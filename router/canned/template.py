"""The variables of a canned reply: ``{customer.name}``, ``{agent.name}``,
``{customer.order_id}`` (any attribute of the customer), ``{conversation.id}``.

One strict grammar, checked when a reply is saved and again when it is
filled, so nothing half-filled can reach a customer: ``{`` opens a variable
that ``}`` closes, ``{{`` and ``}}`` are a literal brace, and anything else
between braces, a brace left open or a lone ``}`` is refused with where it
is. Filling needs a value for every variable (an empty one counts as none):
a reply missing any is refused whole, naming every variable missing."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from router.models import Agent, Conversation, Customer

# the variables every reply may use besides the customer's attributes
FIXED = ("customer.name", "customer.first_name", "agent.name", "agent.first_name", "conversation.id")
ATTRIBUTE_PREFIX = "customer."
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_][A-Za-z0-9_-]*)*")
_ATTRIBUTE = re.compile(r"customer\.[A-Za-z0-9_][A-Za-z0-9_-]*")
_TOKEN = re.compile(r"\{\{|\}\}|\{|\}")
# how much of a broken variable an error quotes
QUOTED = 40


class TemplateError(ValueError):
    """A reply's text that cannot be filled as written. ``code`` names the
    failure for the console's catalogues, ``details`` its variables."""

    code = "canned_template"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


class BadTemplate(TemplateError):
    code = "canned_bad_template"

    def __init__(self, fragment: str, position: int) -> None:
        super().__init__(f"{fragment!r} at character {position + 1} is not a variable: write a variable as "
                         "{customer.name}, and a brace meant as text as {{ or }}",
                         fragment=fragment, position=position + 1)


class UnknownVariable(TemplateError):
    code = "canned_unknown_variable"

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown variable {{{name}}}: use one of {', '.join('{' + v + '}' for v in FIXED)}"
                         " or {customer.<attribute>}", variable=name, known=list(FIXED))


class MissingValue(TemplateError):
    code = "canned_missing_value"

    def __init__(self, names: list[str]) -> None:
        listed = ", ".join("{" + n + "}" for n in names)
        super().__init__(f"this customer has no value for {listed}: nothing was filled in; fill it in by hand "
                         "or add it to the customer's profile", variables=names, variable=names[0])


@dataclass(frozen=True, slots=True)
class Part:
    """A piece of a parsed text: words as they are, or a variable's name."""

    text: str
    variable: bool = False


def parse(template: str) -> list[Part]:
    """The text's parts; ``BadTemplate`` where the grammar breaks,
    ``UnknownVariable`` for a name no reply may use."""
    parts: list[Part] = []
    literal: list[str] = []
    pos = 0
    while (token := _TOKEN.search(template, pos)) is not None:
        literal.append(template[pos:token.start()])
        pos = token.end()
        if token.group() in ("{{", "}}"):
            literal.append(token.group()[0])
            continue
        if token.group() == "}":
            raise BadTemplate("}", token.start())
        close = template.find("}", pos)
        name = template[pos:close] if close >= 0 else ""
        if close < 0 or not _NAME.fullmatch(name):
            end = close + 1 if close >= 0 else len(template)
            raise BadTemplate(template[token.start():end][:QUOTED], token.start())
        _check_known(name)
        parts += [Part("".join(literal)), Part(name, variable=True)]
        literal = []
        pos = close + 1
    parts.append(Part("".join(literal) + template[pos:]))
    return [p for p in parts if p.variable or p.text]


def _check_known(name: str) -> None:
    if name not in FIXED and not _ATTRIBUTE.fullmatch(name):
        raise UnknownVariable(name)


def variables(template: str) -> list[str]:
    """The variables a text uses, each once, in order (and the text checked)."""
    return list(dict.fromkeys(p.text for p in parse(template) if p.variable))


def plain(value: Any) -> str | None:
    """A value as the customer reads it; None for nothing usable (empty, a
    list, a nested object, a yes/no flag: never printed into a reply)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str | int | float):
        text = str(value).strip()
        return text or None
    return None


def _first(name: str | None) -> str | None:
    return name.split()[0] if name and name.strip() else None


def values_for(customer: Customer, agent: Agent, conversation: Conversation) -> dict[str, str]:
    """Every variable that has a value in this conversation."""
    found: dict[str, str | None] = {
        f"{ATTRIBUTE_PREFIX}{key}": plain(value) for key, value in customer.attributes.items()
    }
    found.update({
        "customer.name": plain(customer.display_name),
        "customer.first_name": _first(plain(customer.display_name)),
        "agent.name": plain(agent.display_name),
        "agent.first_name": _first(plain(agent.display_name)),
        "conversation.id": conversation.id,
    })
    return {k: v for k, v in found.items() if v is not None}


def fill(template: str, values: Mapping[str, str]) -> str:
    """The text with every variable filled; ``MissingValue`` naming all the
    variables without a value (then nothing is filled at all)."""
    parts = parse(template)
    missing = [p.text for p in parts if p.variable and p.text not in values]
    if missing:
        raise MissingValue(list(dict.fromkeys(missing)))
    return "".join(values[p.text] if p.variable else p.text for p in parts)
