"""Choices a bot offers in plain text, and the customer's typed pick among them.

Every channel shows text, so a bot's options reach the customer as a
numbered list («1) Доставка»), the way the built-in bot's clarifying
question offers its two. The customer answers with the number ("2", «2-й»,
«второй», "the second one") or with the option's words as shown («оплата»,
"Оплата!"), case, ``ё`` and punctuation aside (``router.bot.config.phrasing``).
Anything else is no pick: the bot reads it as typed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, Field

from router.bot.config import phrasing

# how long a choice's words and its payload may be as kept with the bot's message
MAX_TITLE = 256
MAX_PAYLOAD = 2048

# Russian and English ordinal words, first to tenth, in any gender and case («вторую», «третьего»)
_RU_END = r"(?:ый|ий|ой|ая|яя|ое|ее|ую|юю|ого|его|ые|ие|ом|ем|ым|им)"
_ORDINALS: tuple[str, ...] = (
    rf"перв{_RU_END}|first", rf"втор{_RU_END}|second", r"трет(?:ий|ья|ье|ью|ьего|ьей|ьи|ьем)|third",
    rf"четв[её]рт{_RU_END}|fourth", rf"пят{_RU_END}|fifth", rf"шест{_RU_END}|sixth",
    rf"седьм{_RU_END}|seventh", rf"восьм{_RU_END}|eighth", rf"девят{_RU_END}|ninth", rf"десят{_RU_END}|tenth",
)
_ORDINAL_WORDS = {index: re.compile(rf"^(?:{words})$", re.IGNORECASE) for index, words in enumerate(_ORDINALS)}
# "2", "2)", "№2", "#2", «2-й», "2nd", «вариант 2», "option 2", "the second one", «второй вариант»
_NOUN = r"(?:вариант\w*|пункт\w*|номер|option|choice|number|no|one)"
_PICK = re.compile(
    rf"^\W*(?:the\s+)?(?:{_NOUN}\W*)?(?:(?P<number>\d{{1,3}})(?:-?(?:[а-я]{{1,3}})|st|nd|rd|th)?|(?P<word>[a-zа-яё]+))"
    rf"(?:\W*{_NOUN})?\W*$",
    re.IGNORECASE,
)


class Choice(BaseModel):
    """One option: its words as shown, and what picking it says to the bot."""

    title: Annotated[str, Field(min_length=1, max_length=MAX_TITLE)]
    payload: Annotated[str, Field(min_length=1, max_length=MAX_PAYLOAD)]


def ordinal(text: str, count: int) -> int | None:
    """The 0-based position ``text`` names by number or ordinal word among
    ``count`` options, or None (no number, or none of theirs)."""
    match = _PICK.match(text.strip())
    if match is None:
        return None
    if (number := match.group("number")) is not None:
        index = int(number) - 1
    else:
        index = next((i for i, word in _ORDINAL_WORDS.items() if word.match(match.group("word"))), -1)
    return index if 0 <= index < count else None


def picked(text: str, choices: Sequence[Choice]) -> Choice | None:
    """The choice ``text`` picks: by its words as shown (the first of two
    alike), else by its number; None when it picks none."""
    said = phrasing(text)
    if said:
        for choice in choices:
            if phrasing(choice.title) == said:
                return choice
    index = ordinal(text, len(choices))
    return choices[index] if index is not None else None


def numbered(choices: Sequence[Choice], first: int = 1) -> str:
    """The choices one a line, numbered from ``first``: «1) Доставка»."""
    return "\n".join(f"{n}) {choice.title}" for n, choice in enumerate(choices, first))


__all__ = ["Choice", "numbered", "ordinal", "picked"]
