"""A typed pick among a bot's numbered options (router.bot.choices): by
number or ordinal word, Russian or English, or by the option's words."""

from __future__ import annotations

import pytest

from router.bot.choices import Choice, numbered, ordinal, picked

OPTIONS = [Choice(title="Доставка", payload="/delivery"), Choice(title="Оплата", payload="/payment"),
           Choice(title="Возврат товара", payload="/return")]


@pytest.mark.parametrize(("text", "index"), [
    ("2", 1), (" 2 ", 1), ("2.", 1), ("2)", 1), ("№2", 1), ("#2", 1), ("2-й", 1), ("2й", 1), ("2nd", 1),
    ("вариант 2", 1), ("Вариант №2", 1), ("option 2", 1), ("второй", 1), ("Второе", 1), ("вторую", 1),
    ("второй вариант", 1), ("the second one", 1), ("second", 1), ("первый", 0), ("first", 0), ("третий", 2),
    ("третью", 2), ("3rd", 2),
])
def test_a_number_or_an_ordinal_word_picks_that_option(text: str, index: int) -> None:
    assert ordinal(text, 3) == index


@pytest.mark.parametrize("text", ["4", "0", "четвёртый", "2 часа", "вариант", "пятница", "2 и 3", "", "one"])
def test_anything_else_picks_nothing(text: str) -> None:
    assert ordinal(text, 3) is None


@pytest.mark.parametrize(("text", "payload"), [
    ("оплата", "/payment"), ("ОПЛАТА!", "/payment"), ("  Возврат   товара ", "/return"), ("возврат товара.", "/return"),
    ("1", "/delivery"), ("третий", "/return"),
])
def test_a_pick_by_words_or_number(text: str, payload: str) -> None:
    chosen = picked(text, OPTIONS)
    assert chosen is not None and chosen.payload == payload


@pytest.mark.parametrize("text", ["оплата картой", "возврат", "где мой заказ?", "4"])
def test_words_that_are_not_an_options_pick_nothing(text: str) -> None:
    assert picked(text, OPTIONS) is None


def test_a_title_that_is_a_number_is_read_as_its_words_first() -> None:
    # a bot's rating buttons «5», «4», … : the customer types what they see on the button
    scores = [Choice(title=str(n), payload=f"/rate{{\"score\": {n}}}") for n in (5, 4, 3, 2, 1)]
    chosen = picked("4", scores)
    assert chosen is not None and chosen.payload == '/rate{"score": 4}'


def test_the_options_are_numbered_one_a_line_from_where_they_start() -> None:
    assert numbered(OPTIONS) == "1) Доставка\n2) Оплата\n3) Возврат товара"
    assert numbered(OPTIONS[:1], 4) == "4) Доставка"
