"""The language a customer writes in, for texts sent in their language.

Our texts come in Russian and English; telling them apart by script is
enough and costs nothing (a language detector would guess wrong on the
two-word messages customers send)."""

from __future__ import annotations

import re

_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
_LATIN = re.compile(r"[a-z]", re.IGNORECASE)


def language_of(text: str) -> str:
    """``ru`` when the text has more Cyrillic than Latin letters, else ``en``."""
    cyrillic = len(_CYRILLIC.findall(text))
    return "ru" if cyrillic and cyrillic >= len(_LATIN.findall(text)) else "en"
