"""Reading a typed answer to the survey: a number, or stars."""

from __future__ import annotations

import re

# "4", "4/5", "4 из 5", "4 of 5", "4!", "5." — nothing else around it
_NUMBER = re.compile(r"^\s*(\d{1,3})\s*(?:(?:/|из|of|out of)\s*5)?\s*[.!)]?\s*$", re.IGNORECASE)
_STARS = frozenset("★⭐🌟")


def typed_score(text: str) -> int | None:
    """The number the customer typed (maybe outside 1-5: the caller re-asks),
    or None when the message is something else (words, a question)."""
    match = _NUMBER.match(text)
    if match is not None:
        return int(match.group(1))
    stars = "".join(text.split()).replace("\ufe0f", "")
    if stars and set(stars) <= _STARS:
        return len(stars)
    return None
