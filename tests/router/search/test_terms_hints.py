"""The quick looks ``text_terms`` takes before its slower scans of a text with
digits (phones, dates, codes): each must find something whenever its scan
would, or terms go missing from the index without a word."""

from __future__ import annotations

import random
import re

import pytest

from router.search import terms
from router.search.terms import text_terms

# letters of both scripts, digits of several, every separator the scans know, and pieces of
# what they look for, so that random texts hit the edges of each pattern often
_PIECES = [*"abezoAEKMлдржзаеёйЁЙоск0123456789  ..//--‐‑–()+_\t\n,#é", "\u0301", "٣", "５", "12", "2026", "916",
           "+7", "8 (916)", "a-1", "А-", "5.12.", "/12/", "2026-1", "-45-67", "x_", "шт"]


def _texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 30))) for _ in range(count)]


_SCANS = [
    ("phones", terms._PHONE_HINT, lambda t: [r for r in terms._DIGIT_RUN.findall(t) if terms._run_phone_terms(r)]),
    ("dates", terms._DATE_HINT, terms._dates),
    ("codes", terms._CODE_HINT, terms._CODE.findall),
]


@pytest.mark.parametrize(("name", "hint", "scan"), _SCANS, ids=[s[0] for s in _SCANS])
def test_a_hint_is_found_wherever_its_scan_finds_something(name: str, hint: re.Pattern[str], scan: object) -> None:
    assert callable(scan)
    found = 0
    for text in _texts(40000, seed=len(name)):
        folded = terms.fold(text)
        if scan(folded):
            found += 1
            assert hint.search(folded), f"{name}: {folded!r}"
    assert found > 200  # the corpus did reach the scan's matches, many times


@pytest.mark.parametrize(("text", "term"), [
    ("Заказ от 2026-12-05", "d20261205"),
    ("приходите 5.12.2026", "d20261205"),
    ("paid on 12/25/2026", "d20261225"),
    ("номер А-1234", "a1234"),
    ("plate а123вс", "a123bc"),
    ("шкаф з-15", "з15"),
    ("id x_ab12", "ab12"),
    ("call 1 2 3 4 5", "12345"),
    ("+7 916 123-45-67", "1234567"),
    ("8(916)1234567", "9161234567"),
])
def test_what_each_scan_finds_is_still_a_term(text: str, term: str) -> None:
    assert term in text_terms(text)


def test_a_plain_english_text_is_its_words() -> None:
    # the quick way for a text of ASCII only: lower case, stems, a lone digit a word of its own
    assert text_terms("Hello, this is message 5 of the Orders") == [
        "hello", "this", "is", "messag", "5", "of", "the", "order"]
