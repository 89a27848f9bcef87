"""Text typed on the wrong keyboard layout, read as it was meant.

A customer who forgets to switch the layout sends «ghbdtn» for «привет»,
«crjkmrj cnjbn ljcnfdrf?» for «сколько стоит доставка?», or «рщц дщтп ьн
вудшмукн» for "how long my delivery". Read as typed it is no language: the
bot handed it to people, answered in the wrong language, and the rules did
not see «jgthfnjh» («оператор») ask for a person. Each key of the Russian
ЙЦУКЕН layout stands here for the key of the US QWERTY one in the same
place, and back (the two layouts every Russian keyboard carries).

Which reading is meant is told by the words people use (wordfreq's lists of
common Russian and English words, small lists: ~60,000 and ~29,000 words): a
message is re-typed when more of its words are words once re-typed than as
typed. In a re-typed message a word that is a word only as typed (a brand,
"iPhone") keeps its letters. Translit («privet, gde moy zakaz») is Latin
Russian of another kind, read by ``router.words``: no layout is wrong there.

No library does the re-typing for Python 3.11 (key-flip needs 3.13; the
others drive a desktop's layout, not text): the two layouts are a table.
"""

from __future__ import annotations

import gzip
import importlib.util
import re
from functools import lru_cache
from pathlib import Path

import msgpack

# the Russian letter on each key of the US layout: unshifted, then with Shift; the keys of the
# punctuation that are Russian letters («б» on ",", «ж» on ";»…) count as letters in a word
_LATIN_KEYS = "`qwertyuiop[]asdfghjkl;'zxcvbnm,.~QWERTYUIOP{}ASDFGHJKL:\"ZXCVBNM<>"
_RUSSIAN_KEYS = "ёйцукенгшщзхъфывапролджэячсмитьбюЁЙЦУКЕНГШЩЗХЪФЫВАПРОЛДЖЭЯЧСМИТЬБЮ"
_TO_RUSSIAN = str.maketrans(_LATIN_KEYS, _RUSSIAN_KEYS)
# back: the Russian layout's letters (its punctuation keys type the US layout's own)
_TO_LATIN = str.maketrans(_RUSSIAN_KEYS, _LATIN_KEYS)

# a word typed on the US layout: Latin letters and the keys of Russian letters; "," and "." only
# before another such key («cgfcb,j», «,scnhj»): at a word's end they are a comma or a full stop
_KEY = r"A-Za-z\[\]{};:'\"`~<>"
_LATIN_WORD = re.compile(rf"(?:[{_KEY}]|[,.](?=[{_KEY}]))+")
_CYRILLIC_WORD = re.compile(r"[а-яёА-ЯЁ]+")
_ANY_LATIN = re.compile(r"[A-Za-z]")
_ANY_CYRILLIC = re.compile(r"[а-яёА-ЯЁ]")
_NOT_A_LETTER = re.compile(r"[^a-zа-яё]+")


def _common_words(language: str) -> frozenset[str]:
    """wordfreq's "small" list of ``language``: the words used at least once in a
    million. Read from its data file as wordfreq documents its cBpack format (a
    gzipped msgpack list: a header, then the words band by band), without importing
    wordfreq: its package loads ftfy, regex and langcodes (~14 MB) the lists need not."""
    spec = importlib.util.find_spec("wordfreq")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("wordfreq is not installed: pip install 'wordfreq>=3.1'")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"small_{language}.msgpack.gz"
    with gzip.open(path) as packed:
        header, *bands = msgpack.load(packed, raw=False)
    if not isinstance(header, dict) or header.get("format") != "cB":
        raise ImportError(f"{path} is not a word list of the format this release of wordfreq wrote")
    return frozenset(word for band in bands for word in band)


# loaded once as the module is (before the service serves: never on the event loop)
_RUSSIAN = _common_words("ru")
_ENGLISH = _common_words("en")


def _known(word: str, language: frozenset[str]) -> bool:
    """``word`` (as typed, punctuation inside it aside) is a word of ``language``."""
    bare = _NOT_A_LETTER.sub("", word.lower())
    return bool(bare) and (bare in language or bare.replace("ё", "е") in language)


@lru_cache(maxsize=1024)  # one message is asked of by the rules, the bot and each notice's language
def retyped(text: str) -> str | None:
    """``text`` as meant when it was typed on the other layout (Russian on
    the US keys, or English on the Russian ones), else None."""
    has_latin, has_cyrillic = _ANY_LATIN.search(text), _ANY_CYRILLIC.search(text)
    if has_latin and not has_cyrillic:
        pattern, table, typed, meant = _LATIN_WORD, _TO_RUSSIAN, _ENGLISH, _RUSSIAN
    elif has_cyrillic and not has_latin:
        pattern, table, typed, meant = _CYRILLIC_WORD, _TO_LATIN, _RUSSIAN, _ENGLISH
    else:
        return None  # both scripts (a model's name among Russian words) or no letters: as typed
    found = list(pattern.finditer(text))
    as_typed = sum(_known(m.group(), typed) for m in found)
    # a word re-typed that was none as typed: "thx", «ок» and the brands stay as they are
    as_meant = sum(_known(m.group().translate(table), meant) and not _known(m.group(), typed) for m in found)
    if as_meant <= as_typed:
        return None
    parts: list[str] = []
    at = 0
    for match in found:
        word = match.group()
        again = word.translate(table)
        keep = _known(word, typed) and not _known(again, meant)
        parts += [text[at:match.start()], word if keep else again]
        at = match.end()
    parts.append(text[at:])
    return "".join(parts)


def as_meant(text: str) -> str:
    """``text`` re-typed when it was typed on the wrong layout, else as it is."""
    return retyped(text) or text


__all__ = ["as_meant", "retyped"]
