"""Search's rules without a database (router/search/service.py, terms.py):
the terms a text is indexed and searched by, the checks of a query, cursors,
label names and snooze times."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from router.search import terms
from router.search.service import (
    Filters,
    Kind,
    SearchError,
    label_name,
    make_search,
    read_cursor,
    snooze_until,
    write_cursor,
)
from router.search.terms import customer_terms, query_terms, text_terms

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def test_the_fast_accent_table_folds_every_character_as_unicode_does() -> None:
    """The table that spares most texts Unicode's normalisations must fold
    each character, and a text of several, exactly as they would."""
    every = "".join(chr(p) for p in range(0x20, 0x2000)) + "ﬁﬂＡＢＣａｂｃ１２３"
    for ch in every:
        assert terms._strip_accents(ch) == terms._strip_accents_slowly(ch), hex(ord(ch))
    for text in (every, "и\u0306 е\u0308 e\u0301 Й й Ё ё Crème brûlée", "x² ½ ℃ ﬃ"):
        assert terms._strip_accents(text) == terms._strip_accents_slowly(text)


@pytest.mark.parametrize(("a", "b"), [("заказ", "заказов"), ("заказы", "заказами"), ("order", "orders"),
                                      ("delivery", "deliveries"), ("ёлка", "елки"), ("Доставка", "доставкой")])
def test_forms_of_a_word_have_one_term(a: str, b: str) -> None:
    assert text_terms(a) == text_terms(b)


def test_a_phone_is_found_however_it_is_typed() -> None:
    terms = customer_terms("Иван", ["+79161234567"])
    for typed in ("+7 916 123-45-67", "8 (916) 123 45 67", "9161234567", "79161234567"):
        assert query_terms(typed)[0] in terms, typed


def test_an_email_is_found_by_its_parts() -> None:
    terms = customer_terms(None, ["anna.smith@example.com"])
    assert set(query_terms("anna.smith@example.com")) <= set(terms)


def test_stop_words_leave_a_query_of_messages_only() -> None:
    assert make_search(Kind.MESSAGES, "где мои заказы", Filters(), None, 20).terms == tuple(query_terms("мои заказы"))
    with pytest.raises(SearchError) as refused:
        make_search(Kind.MESSAGES, "the и", Filters(), None, 20)
    assert refused.value.code == "query_only_stop_words"
    # a customer named like a stop word is still found
    assert make_search(Kind.CUSTOMERS, "Она", Filters(), None, 20).terms


@pytest.mark.parametrize(("kind", "text", "filters", "limit", "code"), [
    (Kind.MESSAGES, "", Filters(), 20, "query_empty"),
    (Kind.CUSTOMERS, "  ", Filters(), 20, "query_empty"),
    (Kind.MESSAGES, "я" * 201, Filters(), 20, "query_too_long"),
    (Kind.MESSAGES, "!!!", Filters(), 20, "query_no_words"),
    (Kind.MESSAGES, " ".join(f"слово{n}" for n in range(13)), Filters(), 20, "query_too_many_words"),
    (Kind.CUSTOMERS, "иван", Filters(team="support"), 20, "filters_not_for_customers"),
    (Kind.CONVERSATIONS, None, Filters(since=NOW, until=NOW), 20, "bad_date_range"),
    (Kind.CONVERSATIONS, None, Filters(), 0, "bad_limit"),
    (Kind.CONVERSATIONS, None, Filters(), 101, "bad_limit"),
])
def test_a_bad_query_is_refused_with_its_code(kind: Kind, text: str | None, filters: Filters, limit: int,
                                              code: str) -> None:
    with pytest.raises(SearchError) as refused:
        make_search(kind, text, filters, None, limit)
    assert refused.value.code == code


def test_a_cursor_goes_back_to_its_own_kind_of_search_only() -> None:
    assert read_cursor(Kind.MESSAGES, write_cursor(Kind.MESSAGES, 42)) == 42
    for bad in ("x", write_cursor(Kind.CONVERSATIONS, 42), "WyJtZXNzYWdlcyIsLTFd", "WyJtZXNzYWdlcyIsdHJ1ZV0"):
        with pytest.raises(SearchError):
            read_cursor(Kind.MESSAGES, bad)


def test_label_names() -> None:
    assert label_name("  VIP ") == "VIP"
    assert label_name("е\u0308лка") == "ёлка"  # one form of the same letters
    for bad, code in (("", "label_empty"), (" ", "label_empty"), ("x" * 41, "label_too_long"),
                      ("a\tb", "label_bad_characters"), ("a\u202eb", "label_bad_characters")):
        with pytest.raises(SearchError) as refused:
            label_name(bad)
        assert refused.value.code == code


def test_snooze_times() -> None:
    assert snooze_until(NOW + timedelta(hours=1), NOW) == NOW + timedelta(hours=1)
    for until, code in ((NOW, "snooze_in_past"), (NOW + timedelta(days=367), "snooze_too_far"),
                        (datetime(2030, 1, 1), "snooze_no_timezone")):
        with pytest.raises(SearchError) as refused:
            snooze_until(until, NOW)
        assert refused.value.code == code


# (a message, a phone number as someone types it in search, whether it is found)
PHONES_AMONG_NUMBERS = [
    ("позвоните +7 916 123-45-67 2 раза", "+7 916 123-45-67", True),
    ("позвоните +7 916 123-45-67 2 раза", "9161234567", True),
    ("тел. 8 (916) 123-45-67, звонить после 18", "+79161234567", True),
    ("+7 916 123-45-67 +7 495 765-43-21", "8 495 765 43 21", True),
    ("+7 916 123-45-67 +7 495 765-43-21", "+7 916 1234567", True),
    ("8 916 123-45-67 8 495 765-43-21", "+7 916 123 45 67", True),
    ("8 916 123-45-67 8 495 765-43-21", "84957654321", True),
    ("89161234567 89057778899", "+7 905 777-88-99", True),
    ("заказ 4455667 89161234567", "+7 916 123-45-67", True),
    ("заказ 123456 8 916 123 45 67", "9161234567", True),
    ("London +44 20 7946 0958 or +44 161 496 0000", "+44 20 7946 0958", True),
    ("London +44 20 7946 0958 or +44 161 496 0000", "0161 496 0000", True),
    ("код 4455 66 77 88 99", "+7 916 123-45-67", False),
    ("8 916 123-45-67 8 495 765-43-21", "12345678495", False),  # no number across two phones
]


@pytest.mark.parametrize(("text", "typed", "found"), PHONES_AMONG_NUMBERS)
def test_a_phone_among_other_numbers_is_found(text: str, typed: str, found: bool) -> None:
    assert (query_terms(typed)[0] in text_terms(text)) is found


@pytest.mark.parametrize(("text", "typed"), [
    ("Заявка А-1234", "A-1234"), ("Заявка A-1234", "а-1234"), ("номер А123ВС 77", "A123BC"),
    ("номер A123BC", "а123вс"), ("ВК-77", "bk77"),
])
def test_a_code_is_found_whichever_keyboard_typed_it(text: str, typed: str) -> None:
    assert set(query_terms(typed)) <= set(text_terms(text))


def test_words_keep_their_script_and_other_alphabets_stay_whole() -> None:
    assert text_terms("cop сор CEO") == ["cop", "сор", "ceo"]
    assert text_terms("Київ") == ["киів"]  # ї's diaeresis off, as every accent
    assert text_terms("қала") == ["қала"]
    assert "ulasmadı" in text_terms("ulaşmadı")


def test_a_text_folds_as_its_words_fold_one_by_one() -> None:
    """Only words with both scripts' letters are looked at one by one (the rest of a Russian
    text with one Latin word is left to the regex); what comes out is what folding each word
    on its own gives, and ё is е as the accents' removal makes it."""
    rng = random.Random(24)
    letters = "aeopcxyk" + "аеорсхукзйё" + "АЕОРСХЁ" + "_1-. é\u0301\u0308"
    for _ in range(5000):
        text = "".join(rng.choice(letters) for _ in range(rng.randint(1, 24)))
        plain = terms._strip_accents_slowly(text.replace("ё", "е").replace("Ё", "Е")).casefold()
        assert terms.fold(text) == terms._WORD.sub(lambda m: terms._one_script(m.group(0)), plain)
    assert terms.fold("зaкaз ЁЛКА оrder") == "заказ елка order"
