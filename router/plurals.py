"""A count and its noun, agreed: the CLI's words ("1 rule", "2 rules", "0 rules"), never "1 rule(s)".

Light to import (the CLI's ``--help`` answers at once): babel's data is read only when a count is said."""

from __future__ import annotations


def counted(count: int, one: str, other: str) -> str:
    """``count`` and the noun English agrees with it (CLDR's plural rule, through babel): ``one`` for 1,
    ``other`` for 0, 2, 21..."""
    from babel import Locale  # noqa: PLC0415 - babel's locale data: only when a count is said

    return f"{count} {one if Locale('en').plural_form(count) == 'one' else other}"


__all__ = ["counted"]
