"""Text typed on the wrong keyboard layout is read as meant (router.keyboard):
«ghbdtn» is «привет», «руддщ» is "hello". Read as typed it was no language, so
the bot handed it to people in the wrong language."""

from __future__ import annotations

import pytest

from router.human_request import HumanRequest
from router.keyboard import as_meant, retyped
from router.language import written_language


@pytest.mark.parametrize(("typed", "meant"), [
    ("ghbdtn", "привет"),
    ("crjkmrj cnjbn ljcnfdrf?", "сколько стоит доставка?"),
    ("rfr jncktlbnm pfrfp", "как отследить заказ"),
    ("cgfcb,j", "спасибо"),  # the key of «б» is ","
    ("ghbdtn, rfr ltkf?", "привет, как дела?"),  # a comma after a word stays one
    ("[jxe dthyenm njdfh", "хочу вернуть товар"),
    ("VJQ PFRFP", "МОЙ ЗАКАЗ"),
    ("iPhone 15 ult yfqnb pfrfp", "iPhone 15 где найти заказ"),  # a brand keeps its letters
    ("рщц дщтп ьн вудшмукн", "how long my delivery"),  # English on the Russian layout
])
def test_text_typed_on_the_other_layout_is_read_as_meant(typed: str, meant: str) -> None:
    assert retyped(typed) == meant
    assert as_meant(typed) == meant


@pytest.mark.parametrize("text", [
    "hello", "how long is delivery", "thx", "pls", "wtf", "XXXL", "Order AB-12345", "ok",
    "privet, gde moy zakaz",  # translit: Russian in Latin letters, but no wrong layout
    "Привет", "Где мой заказ", "ЖКХ", "СДЭК", "ок", "Хочу iPhone 15", "👍", "5", "",
])
def test_text_typed_as_meant_is_left_as_it_is(text: str) -> None:
    assert retyped(text) is None
    assert as_meant(text) == text


@pytest.mark.parametrize(("typed", "language"), [
    ("ghbdtn", "ru"), ("crjkmrj cnjbn ljcnfdrf?", "ru"), ("jgthfnjh", "ru"), ("рщц дщтп ьн вудшмукн", "en"),
])
def test_the_language_is_the_one_meant(typed: str, language: str) -> None:
    assert written_language(typed) == language


@pytest.mark.parametrize("typed", ["jgthfnjh", "gjpjdbnt xtkjdtrf", "ctqxfc cjtlbybnt c vtytl;thjv"])
def test_a_request_for_a_person_on_the_wrong_layout_is_one(typed: str) -> None:
    """«оператор», «позовите человека», «сейчас соедините с менеджером»: the rules hand off at once."""
    assert HumanRequest().find(typed) is not None
