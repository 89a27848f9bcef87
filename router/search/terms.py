"""The terms a text is indexed and searched by, made here in Python for both
backends alike (SQLite's FTS5 table and PostgreSQL's ``tsvector`` hold these
terms, never their own parse of the text), so a query finds the same on both.

A text is first folded (``fold``): compatibility forms (full-width letters,
ligatures) as plain letters, lower case, accents off (é → e, ё → е, but
й stays й), and a word mixing Latin and Cyrillic look-alike letters
(«зaкaз» with Latin «a», "оrder" with a Cyrillic «о») written in the script
most of its letters are in. A word is letters of any alphabet and digits
(«Київ», «қала», "ışık" are words whole); a Russian word is reduced to its
Snowball stem by the Russian stemmer, an English one by the English, so
«заказ» finds «заказы», «заказов» and "order" finds "orders"; a word of
any other alphabet is kept as it is. Emails and URLs are their words (anna.smith@example.com: anna,
smith, example, com). Besides the words, a text has terms of what people
type in several ways:

- a phone number (digits with spaces, dots, dashes, brackets, a ``+``): its
  digits, its national part (the last 10) and its local part (the last 7);
  among other numbers (``+7 916 123-45-67 2 раза``, two phones on a line),
  those of every stretch of adjacent groups of 10 digits, or 11 from a 7 or 8;
- a date (``5.12.2026``, ``05/12/2026``, ``2026-12-05``): ``d20261205``;
- a code of letters and digits (``A-1234``, ``A1234``, a plate ``А123ВС``):
  ``a1234``, and its parts; a code's letters in Latin when each has a Latin
  look-alike, so «А-1234» typed on a Russian keyboard is "A-1234" (a word
  without digits keeps its script: "cop" and «сор» are two words).

A term is at most ``MAX_TERM_BYTES`` of UTF-8 (a longer one is its start).

A query is folded the same way; a query that is a phone number, a date or a
code is that one term. Snowball's stemmers run in C when PyStemmer is
installed (snowballstemmer uses it by itself): ``python -m bench.search
--stemmers`` measures both.

``TERMS_VERSION`` names these rules: an index built by other rules is built
again, in the background (SQLite's index file of messages at start; the
stores' other tables queued again by the indexer's first round, which keeps
the version in the store's ``meta``)."""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

import snowballstemmer

from router.search.stopwords import STOP_WORDS

TERMS_VERSION = "3"  # bump when a text's terms change: every index is built again
TERMS_KEY = "search-terms"  # where a store keeps the version its terms were made by (its meta table)
MIN_PHONE_DIGITS = 5  # fewer digits are a house number, not a phone
MAX_PHONE_DIGITS = 15  # E.164's longest; a longer run of digits is a list of numbers
MIN_PREFIX = 3  # a shorter term is matched whole: «ив» as a prefix matches nearly everyone
NATIONAL_DIGITS = 10  # a phone's digits after its country code (+7 916 123-45-67)
LOCAL_DIGITS = 7  # a phone's number within its area code (123-45-67)
# a term's most UTF-8 bytes; a longer one (a pasted key) is its first this many, in the index
# and in a query alike: PostgreSQL's lexemes end at 2,047 bytes, and array_to_tsvector does
# not check it (a longer one is stored corrupted)
MAX_TERM_BYTES = 200

# a word: letters of any alphabet and digits (Київ, ўсё, қала, ışık are words whole)
_WORD = re.compile(r"[^\W_]+")
_CYRILLIC = re.compile(r"[а-я]")
_LATIN = re.compile(r"[a-z]")
# a whole word with a Latin and a Cyrillic letter in it: only such a word can change script; a
# Russian text with one Latin word in it (a brand, a code) no longer calls back into Python for each
# of its words (its fold 18 -> 6 µs, its terms 42 -> 30 µs, measured)
_MIXED_WORD = re.compile(r"(?<![^\W_])(?=[^\W_]*[a-z])(?=[^\W_]*[а-я])[^\W_]+")
_RUSSIAN_WORD = re.compile(r"[а-яё]+")  # stemmed as Russian; other alphabets' words are kept whole
_ENGLISH_WORD = re.compile(r"[a-z]+")
_LETTERS_DIGITS = re.compile(r"[^\W\d_]+|\d+")
# digits as a phone number is typed: 8 (916) 123-45-67, +7.916.123.45.67; a "+" after a
# space starts another
# number (spaces taken whole, possessively: a long run of them is read once, never again per space)
_DIGIT_RUN = re.compile(r"(?<![^\W_])\+?\d(?:[\d().\-]|\s++(?!\+))*\d(?![^\W_])")
_GROUP = re.compile(r"\S+")  # a run's groups, as spaces part them: +7 916 123-45-67
_PHONE_LIKE = re.compile(r"^\+?[\d\s().\-]+$")
_DIGIT = re.compile(r"\d")
_DATE_DMY = re.compile(r"(?<![\d.])(\d{1,2})[./](\d{1,2})[./](\d{4})(?![\d.])")
_DATE_YMD = re.compile(r"(?<![\d-])(\d{4})-(\d{1,2})-(\d{1,2})(?![\d-])")
# letters then digits, with a dash or nothing between: A-1234, AB1234, з-15
_CODE = re.compile(r"(?<![^\W_])([^\W\d_]{1,4})[-‐‑–]?(\d+)(?![^\W_])")
# what each scan of a text with digits needs, looked for first: a regex that starts with a
# digit is scanned for in C, one with a lookbehind first is tried at every position (the date
# scans 5-8 µs a message, this 0.7; tests/router/search/test_terms_hints.py holds each to its scan)
_DATE_HINT = re.compile(r"\d[./-]\d")  # a date's first two parts, either order
_CODE_HINT = re.compile(r"\d(?:(?<=[^\W\d_]\d)|(?<=[^\W\d_][-‐‑–]\d))")  # a letter, a dash or not, a digit
_PHONE_HINT = re.compile(rf"\d(?:\D*+\d){{{MIN_PHONE_DIGITS - 1}}}")  # a phone's fewest digits

# lower-case letters of each script that look like the other's
_LAT_TO_CYR = dict(zip("abekmhopctyxu", "авекмнорстухи", strict=True))
_CYR_TO_LAT = {c: lat for lat, c in _LAT_TO_CYR.items()}
# accents as Unicode's decomposition leaves them, but й's breve: й is a letter of its own
_MARKS = re.compile("(?<![иИ])\u0306|[\u0300-\u0305\u0307-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff]")

_STEMMERS = {"ru": snowballstemmer.stemmer("russian"), "en": snowballstemmer.stemmer("english")}
# a stemmer object keeps the word it works on: one word at a time (the indexer's
# thread and a request's may stem at once)
_STEMMING = threading.Lock()


def _strip_accents_slowly(text: str) -> str:
    return unicodedata.normalize("NFC", _MARKS.sub("", unicodedata.normalize("NFKD", text)))


# the UTF-8 lead bytes of the combining marks ``_MARKS`` takes off (U+0300–036F, 1AB0–1AFF, 1DC0–1DFF, 20D0–20FF)
_MARK_BYTES = (b"\xcc", b"\xcd", b"\xe1\xaa", b"\xe1\xab", b"\xe1\xb7", b"\xe2\x83")


def _strip_accents(text: str) -> str:
    """Accents off but й's, compatibility forms as plain letters. Most texts
    have nothing of the kind (й aside): three quick checks tell, and spare
    them Unicode's normalisations, which cost more than all the rest. ё is
    е here as the normalisations would make it, so a Russian text with ё
    (most of them) takes the quick way too."""
    if text.isascii():  # no accent, nothing to normalise: most English texts
        return text
    text = text.replace("ё", "е").replace("Ё", "Е")
    if unicodedata.is_normalized("NFC", text) and \
            unicodedata.is_normalized("NFKD", text.replace("й", "и").replace("Й", "И")):
        raw = text.encode("utf-8", "surrogatepass")
        if not any(lead in raw for lead in _MARK_BYTES):
            return text
    return _strip_accents_slowly(text)


def _one_script(word: str) -> str:
    """A word of Latin and Cyrillic letters in the script most of them are in,
    when its other letters all have look-alikes there; else as it is."""
    latin, cyrillic = len(_LATIN.findall(word)), len(_CYRILLIC.findall(word))
    if not latin or not cyrillic:
        return word
    to_cyrillic = (_LAT_TO_CYR, _LATIN)
    to_latin = (_CYR_TO_LAT, _CYRILLIC)
    for table, other in (to_cyrillic, to_latin) if cyrillic >= latin else (to_latin, to_cyrillic):
        if all(ch in table for ch in other.findall(word)):
            return "".join(table.get(ch, ch) for ch in word)
    return word


def fold(text: str) -> str:
    """Lower case, without accents, compatibility forms as plain letters, each
    word in one script where its look-alike letters allow."""
    folded = _strip_accents(text).casefold()
    if folded.isascii() or not (_LATIN.search(folded) and _CYRILLIC.search(folded)):
        return folded
    return _MIXED_WORD.sub(lambda m: _one_script(m.group(0)), folded)


def code_script(code: str) -> str:
    """A code's letters (A-1234, а123вс) in Latin when they all have Latin
    look-alikes: a code typed on a Russian keyboard («А-1234», a plate
    «А123ВС») is the one typed on a Latin one. Else as it is (з-15)."""
    if not _CYRILLIC.search(code):
        return code
    letters = [ch for ch in code if ch.isalpha()]
    if all(ch in _CYR_TO_LAT or _LATIN.match(ch) for ch in letters):
        return "".join(_CYR_TO_LAT.get(ch, ch) for ch in code)
    return code


@lru_cache(maxsize=131072)
def stem(word: str) -> str:
    """A Russian or an English word's Snowball stem; any other word (digits,
    another alphabet's letters: Київ, қала) as it is."""
    language = "ru" if _RUSSIAN_WORD.fullmatch(word) else "en" if _ENGLISH_WORD.fullmatch(word) else None
    if language is None:
        return word
    with _STEMMING:
        return str(_STEMMERS[language].stemWord(word))


def _date(day: str, month: str, year: str) -> str | None:
    d, m = int(day), int(month)
    if m > 12 >= d:  # 12/25/2026: written month first
        d, m = m, d
    if not (1 <= d <= 31 and 1 <= m <= 12):
        return None
    return f"d{year}{m:02d}{d:02d}"


def _dates(text: str) -> list[str]:
    found = [_date(*m.groups()) for m in _DATE_DMY.finditer(text)]
    found += [_date(m.group(3), m.group(2), m.group(1)) for m in _DATE_YMD.finditer(text)]
    return [d for d in found if d]


def _run_phone_terms(run: str) -> list[str]:
    """A run of digit groups' phone terms: the whole run's, and those of
    every stretch of adjacent groups with a phone's digits, so a number is
    found when others stand next to it (+7 916 123-45-67 2 раза; two numbers
    on a line; an order's number then a phone)."""
    groups = [digits for g in _GROUP.findall(run) if (digits := "".join(_DIGIT.findall(g)))]
    found = _phone_terms("".join(groups))
    if len(groups) < 2:
        return found
    for start in range(len(groups)):
        digits = ""
        for end in range(start, len(groups)):  # a few groups each: a window ends past 11 digits
            digits += groups[end]
            if len(digits) > NATIONAL_DIGITS + 1:
                break
            if len(digits) == NATIONAL_DIGITS or (len(digits) == NATIONAL_DIGITS + 1 and digits[0] in "78"):
                found += _phone_terms(digits)
    return found


def _phone_terms(digits: str) -> list[str]:
    if not MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS:
        return []
    found = [digits]
    if len(digits) > NATIONAL_DIGITS:
        found.append(digits[-NATIONAL_DIGITS:])
    if len(digits) >= NATIONAL_DIGITS:
        found.append(digits[-LOCAL_DIGITS:])
    return found


def _word_terms(word: str) -> list[str]:
    # letters and digits together (a1234, 12шт, mp3): the whole (a code's letters in one
    # script: а123вс as a123bc), and each part as it was written
    return [code_script(word), *(stem(p) for p in _LETTERS_DIGITS.findall(word))]


def text_terms(text: str) -> list[str]:
    """A text's terms, without repeats: its words' stems, and the terms of the
    phone numbers, dates and codes in it."""
    folded = fold(text)
    found: list[str] = []
    for word in _WORD.findall(folded):
        if word.isalpha() or word.isdigit():
            found.append(stem(word))
        else:
            found += _word_terms(word)
    if _DIGIT.search(folded):  # the rest are made of digits: most texts have none, and skip the scans
        if _PHONE_HINT.search(folded):
            for run in _DIGIT_RUN.findall(folded):
                found += _run_phone_terms(run)
        if _DATE_HINT.search(folded):
            found += _dates(folded)
        if _CODE_HINT.search(folded):
            found += [code_script(letters + digits) for letters, digits in _CODE.findall(folded)]
    return _capped(found)


def _capped(terms: list[str]) -> list[str]:
    """``terms`` without repeats, each cut to ``MAX_TERM_BYTES`` (at a whole character)."""
    unique = list(dict.fromkeys(terms))
    if max(map(len, unique), default=0) * 4 <= MAX_TERM_BYTES:  # none can be over (4 bytes a character at most)
        return unique
    return list(dict.fromkeys(
        t if len(t) * 4 <= MAX_TERM_BYTES else t.encode()[:MAX_TERM_BYTES].decode("utf-8", "ignore") for t in terms))


def customer_terms(name: str | None, values: list[str]) -> list[str]:
    """A customer's terms: those of their name and of every identity's value
    (an email's parts, a phone's digits, a chat id)."""
    found = text_terms(name or "")
    for value in values:
        found += text_terms(value)
    return list(dict.fromkeys(found))


def _query_phone(query: str) -> str | None:
    if not _PHONE_LIKE.match(query) or _dates(query):
        return None
    digits = "".join(_DIGIT.findall(query))
    if not MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS:
        return None
    return digits[-NATIONAL_DIGITS:] if len(digits) > NATIONAL_DIGITS else digits


def query_terms(query: str, drop_stop_words: bool = False) -> list[str]:
    """A query's terms, as a text's are made: a phone number typed any way is
    one term of its digits (its national part when it has a country code); a
    date is its date term and a code (A-1234) its whole; else the stems of its
    words, without the stop words when ``drop_stop_words`` (a query of
    messages: «где мои заказы» searches «заказы»)."""
    folded = fold(query).strip()
    if phone := _query_phone(folded):
        return [phone]
    found: list[str] = []

    def keep(match: re.Match[str], term: str | None) -> str:
        if term is None:
            return match.group(0)
        found.append(term)
        return " "

    folded = _DATE_DMY.sub(lambda m: keep(m, _date(*m.groups())), folded)
    folded = _DATE_YMD.sub(lambda m: keep(m, _date(m.group(3), m.group(2), m.group(1))), folded)
    folded = _CODE.sub(lambda m: keep(m, code_script(m.group(1) + m.group(2))), folded)
    for word in _WORD.findall(folded):
        if not (drop_stop_words and word in STOP_WORDS):
            found.append(code_script(word) if not (word.isalpha() or word.isdigit()) else stem(word))
    return _capped(found)
