"""Telling a typed rating and a comment from a new request, in both languages."""

from __future__ import annotations

import pytest

from router.csat.answers import MAX_COMMENT, is_comment, typed_score


@pytest.mark.parametrize(("text", "score"), [
    ("4", 4), ("4/5", 4), ("4 из 5", 4), ("4 of 5", 4), ("3 out of 5", 3), ("5.", 5), ("⭐⭐⭐", 3),
    ("5, спасибо!", 5), ("Оценка 5", 5), ("5 звёзд", 5), ("5 звезд, спасибо большое", 5), ("ставлю 4 балла", 4),
    ("5 stars, thanks", 5), ("5 stars", 5), ("Thank you, 5", 5), ("my rating: 4", 4),
    # out of 1-5: the caller asks again
    ("10/10", 10), ("7", 7), ("0", 0),
])
def test_a_typed_rating(text: str, score: int) -> None:
    assert typed_score(text) == score


@pytest.mark.parametrize("text", [
    "order 3", "заказ 3", "Где мой заказ 1042?", "5?", "Can I change 2 things?", "Hello", "",
    "5 and 4", "1042", "5 звёзд, но курьер опоздал на 2 часа",
])
def test_not_a_rating(text: str) -> None:
    assert typed_score(text) is None


def test_a_comment_is_short_plain_words() -> None:
    assert is_comment("Отвечали долго, но помогли", has_files=False)
    assert is_comment("Quick and kind", has_files=False)
    assert not is_comment("Quick and kind", has_files=True)  # a file is a new request
    assert not is_comment("А можно поменять адрес доставки?", has_files=False)
    assert not is_comment("x" * (MAX_COMMENT + 1), has_files=False)
    assert not is_comment("   ", has_files=False)
