"""The terms a text is indexed and searched by, the same on both sides of a
search: lower-case words, ``ё`` as ``е``, each reduced to its Snowball stem in
its own script's language (Cyrillic words by the Russian stemmer, Latin ones by
the English), so «заказ» finds «заказы», «заказов» and "order" finds "orders".

SQLite has no Russian stemmer: the catch-up indexer stores these terms in its
FTS5 tables, and a query is turned into the same terms. Snowball's stemmers
run in C when PyStemmer is installed (snowballstemmer uses it by itself):
``python -m bench.search --stemmers`` measures both."""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import snowballstemmer

from router.search.stopwords import STOP_WORDS
from router.words import script_of, words

# a query (or an identity's value) made of a phone number's characters only
_PHONE_LIKE = re.compile(r"^[\d\s()+\-.]+$")
_DIGITS = re.compile(r"\d")
MIN_PHONE_DIGITS = 5  # fewer digits are a house number, not a phone
MIN_PREFIX = 3  # a shorter term is matched whole: «ив» as a prefix matches nearly everyone
NATIONAL_DIGITS = 10  # a phone's digits after its country code (+7 916 123-45-67)

_STEMMERS = {"ru": snowballstemmer.stemmer("russian"), "en": snowballstemmer.stemmer("english")}
# a stemmer object keeps the word it works on: one word at a time (the indexer's
# thread and a request's may stem at once)
_STEMMING = threading.Lock()


@lru_cache(maxsize=131072)
def stem(word: str) -> str:
    if word.isdigit():
        return word
    with _STEMMING:
        return str(_STEMMERS[script_of(word)].stemWord(word))


def text_terms(text: str) -> list[str]:
    """A message's terms, in order (repeats kept: the index counts them once)."""
    return [stem(w) for w in words(text)]


def _phone_terms(value: str) -> list[str]:
    digits = "".join(_DIGITS.findall(value))
    if len(digits) < MIN_PHONE_DIGITS:
        return []
    # the whole number and its national part: "+7 916…", "8 916…" and "916…" all find it
    return sorted({digits, digits[-NATIONAL_DIGITS:]})


def customer_terms(name: str | None, values: list[str]) -> list[str]:
    """A customer's terms: the words of their name and of every identity's
    value (an email's parts, a chat id), and each phone-like value's digits."""
    found = text_terms(name or "")
    for value in values:
        found += text_terms(value)
        found += _phone_terms(value)
    return list(dict.fromkeys(found))


def query_terms(query: str, drop_stop_words: bool = False, phone: bool = True) -> list[str]:
    """A query's terms: with ``phone``, a phone number typed any way is one
    term of its digits (its national part when it has a country code), as
    customers' phones are indexed; else the stems of its words, as a message
    is indexed (``text_terms``), without the stop words when ``drop_stop_words``
    (a query of messages, as PostgreSQL reads one: ``router.search.stopwords``)."""
    if phone and _PHONE_LIKE.match(query.strip()):
        digits = "".join(_DIGITS.findall(query))
        if len(digits) >= MIN_PHONE_DIGITS:
            return [digits[-NATIONAL_DIGITS:] if len(digits) > NATIONAL_DIGITS else digits]
    kept = [w for w in words(query) if not (drop_stop_words and w in STOP_WORDS)]
    return list(dict.fromkeys(stem(w) for w in kept))
