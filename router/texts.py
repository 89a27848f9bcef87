"""Texts the service writes to people, in Russian and English: the types
every config file uses for them, and picking one language's text.

Kept apart from any capability so that each (the bot, identity, the rules)
can use them without importing another."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

Language = Literal["ru", "en"]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def _not_only_spaces(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


Text = Annotated[str, AfterValidator(_not_blank), Field(max_length=4000)]
# a piece of a message the service writes: kept exactly as written, because its
# leading and trailing spaces can matter (options_joiner " или " joins two options)
Piece = Annotated[str, AfterValidator(_not_only_spaces), Field(max_length=4000)]


def _some_language(value: dict[Language, str]) -> dict[Language, str]:
    if not value:
        raise ValueError("give the text in at least one language (ru, en)")
    return value


Localized = Annotated[dict[Language, Text], AfterValidator(_some_language)]
LocalizedPiece = Annotated[dict[Language, Piece], AfterValidator(_some_language)]


def ru_en(ru: str, en: str) -> dict[Language, str]:
    """A default text in both languages."""
    return {"ru": ru, "en": en}


def localized(texts: Mapping[Language, str], language: str | None) -> str:
    """The text in ``language``, else in the first language given."""
    for lang, text in texts.items():
        if lang == language:
            return text
    return next(iter(texts.values()))
