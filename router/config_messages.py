"""pydantic's validation errors as an admin reads them.

A value that may take several shapes (a condition or a list of them, a text
or one per language, a duration or ``sla``) failed once per shape, each with
the shape's internal name in its place: ``rules.0.when.list[constrained-str]:
Input should be a valid list``, or ``after.function-after[functools.partial(
<function less_than_or_equal_validator at 0x7f…>…``. Here each such value
gets one line: the shape the value came closest to (it failed inside it),
else what the value may be; and a few of pydantic's words get ours ("use
Latin letters…" for a name's pattern, "YYYY-MM-DD" for a date)."""

from __future__ import annotations

import difflib
import types
from collections.abc import Sequence
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

# pydantic's names for a shape in a place (a union's members), never a key of a file
_SHAPES = frozenset({"str", "int", "float", "bool", "none", "list", "dict", "constrained-str", "constrained-int",
                     "constrained-float", "lax-or-strict"})
# what a value of the failed shapes may be, in an admin's words
_EXPECTED = {"string_type": "a text", "list_type": "a list", "dict_type": "a mapping ({key: value})",
             "model_type": "a mapping ({key: value})", "model_attributes_type": "a mapping ({key: value})",
             "int_type": "a whole number", "int_parsing": "a whole number", "float_type": "a number",
             "float_parsing": "a number", "bool_type": "true or false", "bool_parsing": "true or false"}
_NAME_PATTERN = "^[A-Za-z0-9_.-]+$"
_LANGUAGE_PATTERN = "^[a-z]{2}$"
_YAML_WORDS = {True: "true", False: "false"}


def _is_shape(part: Any) -> bool:
    return isinstance(part, str) and (part in _SHAPES or "[" in part or "(" in part)


def _place(loc: Sequence[Any]) -> tuple[tuple[Any, ...], tuple[Any, ...] | None]:
    """``(the value's place in the file, the place of the union it failed a shape of, if any)``."""
    real = tuple(p for p in loc if not _is_shape(p))
    first = next((i for i, p in enumerate(loc) if _is_shape(p)), None)
    union = tuple(p for p in loc[:first] if not _is_shape(p)) if first is not None else None
    return real, union


def _words(err: ErrorDetails) -> str:
    """One error's message, in ours where pydantic's say little."""
    kind, msg = err["type"], str(err["msg"])
    if kind == "value_error" and msg.startswith("Value error, "):
        return msg[len("Value error, "):]
    pattern = (err.get("ctx") or {}).get("pattern")
    if kind == "string_pattern_mismatch" and pattern == _NAME_PATTERN:
        return (f"{err.get('input')!r}: a name here is Latin letters, digits, '_', '.' and '-' only "
                "(no spaces, no Cyrillic)")
    if kind == "string_pattern_mismatch" and pattern == _LANGUAGE_PATTERN:
        return f"{err.get('input')!r}: a language is two lower-case letters, ru or en"
    if kind.startswith(("date_", "datetime_")):
        return f"{err.get('input')!r} is no date: write it YYYY-MM-DD (2026-01-01)"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"should be {_EXPECTED[kind]}, not {err.get('input')!r}"
    return msg


def _one_of(errs: list[ErrorDetails]) -> str:
    """The message for a value that fitted none of its shapes, failing each at its top."""
    expected = list(dict.fromkeys(_EXPECTED.get(e["type"], _words(e)) for e in errs))
    value = errs[0].get("input")
    said = f"should be {' or '.join(expected)}"
    if isinstance(value, bool) and "a text" in expected:
        # ``when: true``: YAML reads true/false/yes/no/on/off unquoted as a boolean
        return f"{said}: write {_YAML_WORDS[value]!r} in quotes, which YAML otherwise reads as a boolean"
    return said


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models a field's type holds: itself, or inside ``X | None``, ``list[X]``, ``dict[str, X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType, list, tuple, set, frozenset):
        return [m for arg in get_args(annotation) for m in _models_in(arg)]
    if origin is dict and len(args := get_args(annotation)) == 2:
        return _models_in(args[1])  # a mapping's values; its keys are names
    return []


def _keys_at(model: type[BaseModel], place: tuple[Any, ...]) -> list[str] | None:
    """The keys the section at ``place`` takes, where its model can be told (else None)."""
    current: type[BaseModel] | None = model
    parts = list(place)
    while parts and current is not None:
        part = parts.pop(0)
        fields = {f.alias or name: f for name, f in current.model_fields.items()}
        if not isinstance(part, str) or part not in fields:
            return None
        annotation = fields[part].annotation
        inner = _models_in(annotation)
        if len(inner) != 1:
            return None
        current = inner[0]
        if get_origin(annotation) in (list, tuple, dict) and parts:
            parts.pop(0)  # the item's index or the mapping's key
    if current is None or current.model_config.get("extra") != "forbid":
        return None
    return [f.alias or name for name, f in current.model_fields.items()]


def _unknown_key(model: type[BaseModel] | None, place: tuple[Any, ...], shared: Sequence[str] = ()) -> str:
    """A key no setting has: the nearest known one (a typo), and the keys that place takes."""
    known = _keys_at(model, place[:-1]) if model is not None else None
    if known is not None and len(place) == 1:
        known = [*shared, *known]
    if not known:
        return "unknown key: no setting of that name here"
    close = difflib.get_close_matches(str(place[-1]), known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key: {hint}the keys here are {', '.join(known)}"


def plain(errors: Sequence[ErrorDetails], model: type[BaseModel] | None = None, shared: Sequence[str] = ()
          ) -> list[tuple[tuple[Any, ...], str]]:
    """``(place, message)`` for each value that failed, once; ``model``, the one validated,
    names the keys a place takes when a key is unknown; ``shared``, the keys its top level
    takes besides its own (a connector's section: ``type`` and ``enabled``, read before it)."""
    unions: dict[tuple[Any, ...], list[ErrorDetails]] = {}
    found: list[tuple[tuple[Any, ...], str]] = []
    for err in errors:
        real, union = _place(err["loc"])
        if err["type"] == "extra_forbidden" and union is None:
            found.append((real, _unknown_key(model, real, shared)))
        elif union is None:
            found.append((real, _words(err)))
        else:
            unions.setdefault(union, []).append(err)
    for union, errs in unions.items():
        deepest = max(len(_place(e["loc"])[0]) for e in errs)
        inside = [e for e in errs if len(_place(e["loc"])[0]) == deepest]
        own = [e for e in inside if e["type"] not in _EXPECTED and e["type"] != "literal_error"]
        if deepest > len(union) or own:  # the value took one of the shapes and failed inside it
            for err in own or inside:
                found.append((_place(err["loc"])[0], _words(err)))
        else:
            found.append((union, _one_of(errs)))
    return found


def where(place: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in place) or "(top)"


__all__ = ["plain", "where"]

