"""Words of Russian and English text as the bot and the rules read them:
lower case, ``ё`` as ``е``, Latin look-alike letters inside Cyrillic words
fixed, a letter stretched for emphasis read once («приииивет»), Snowball
stems (so «доставки», «доставкой» are one term), and Russian typed in Latin
letters ("translit") read back as Cyrillic.

Shared by the bot's matching (router.bot.matching) and the vocabulary of
"ask for a person" (router.human_request), which the rules use too: it
imports nothing of either."""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"[0-9a-zа-яё]+", re.IGNORECASE)
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
_LATIN = re.compile(r"[a-z]", re.IGNORECASE)

# a letter held down or typed again and again for emphasis («приииивет», «спасибооо», "pleeease"):
# no word of either language has one letter three times in a row
_STRETCHED = re.compile(r"([^\W\d_])\1{2,}")

# Latin letters that look like Cyrillic ones, in words that mix both scripts
_LOOKALIKES = str.maketrans("AaBEeKkMHOoPpCcTyXxu", "АаВЕеКкМНОоРрСсТуХхи")

# Russian typed in Latin letters (common "translit"), longest first
_TRANSLIT = (
    ("shch", "щ"), ("sch", "щ"), ("yo", "ё"), ("zh", "ж"), ("kh", "х"), ("ch", "ч"), ("sh", "ш"),
    ("ts", "ц"), ("yu", "ю"), ("ya", "я"), ("ye", "е"), ("iy", "ий"), ("y", "ы"),
    ("a", "а"), ("b", "б"), ("v", "в"), ("w", "в"), ("g", "г"), ("d", "д"), ("e", "е"), ("z", "з"),
    ("i", "и"), ("j", "й"), ("k", "к"), ("l", "л"), ("m", "м"), ("n", "н"), ("o", "о"), ("p", "п"),
    ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"), ("f", "ф"), ("h", "х"), ("c", "ц"), ("q", "к"),
    ("x", "кс"),
)
_TRANSLIT_RE = re.compile("|".join(latin for latin, _ in _TRANSLIT))
_TRANSLIT_MAP = dict(_TRANSLIT)

STEMMERS = {"ru": snowballstemmer.stemmer("russian"), "en": snowballstemmer.stemmer("english")}
# a Snowball stemmer keeps the word it works on in the object: with the bot
# matching in worker threads, two words at once would be stemmed into each other
_STEMMING = threading.Lock()


def script_of(word: str) -> str:
    return "ru" if _CYRILLIC.search(word) else "en"


def transliterate(word: str) -> str:
    return _TRANSLIT_RE.sub(lambda m: _TRANSLIT_MAP[m.group(0)], word.lower())


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    with _STEMMING:
        return str(STEMMERS[script_of(word)].stemWord(word))


def word_spans(text: str) -> list[tuple[str, int, int]]:
    """``words`` with where each stands in ``text``: (word, start, end)."""
    found: list[tuple[str, int, int]] = []
    stretched = _STRETCHED.search(text) is not None  # seldom: the words need no look then
    for match in _WORD.finditer(text):
        raw = match.group()
        word = raw.translate(_LOOKALIKES) if _CYRILLIC.search(raw) and _LATIN.search(raw) else raw
        word = word.lower().replace("ё", "е")
        if stretched:
            word = _STRETCHED.sub(r"\1", word)
        found.append((word, match.start(), match.end()))
    return found


def words(text: str) -> list[str]:
    """Lower-cased words with look-alike letters fixed, ``ё`` read as ``е`` and a
    letter stretched for emphasis read once («приииивет» is «привет»)."""
    return [word for word, _, _ in word_spans(text)]
