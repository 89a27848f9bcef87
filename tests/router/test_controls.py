"""The one check of characters no name or text may hold (router/controls.py),
by Unicode category, at every slice that takes such text: an agent's display
name, a canned reply (title and text), a label, a file name. Each category
is tried, with the characters the old list missed."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from agents_ui.agents_api import DisplayName
from router.canned.service import ControlCharacter, _bounded
from router.controls import NAME, TEXT, control_character
from router.files.service import clean_name
from router.search.service import SearchError, label_name

# one or more of each category, by name
CHARACTERS = {
    "Cc NUL": "\x00", "Cc ESC": "\x1b", "Cc line feed": "\n", "Cc DEL": "\x7f", "Cc C1 NEL": "\x85",
    "Cf LRM": "\u200e", "Cf RLM": "\u200f", "Cf Arabic letter mark": "\u061c", "Cf RLO": "\u202e",
    "Cf isolate": "\u2066", "Cf zero width space": "\u200b", "Cf BOM": "\ufeff", "Cf soft hyphen": "\u00ad",
    "Zl line separator": "\u2028", "Zp paragraph separator": "\u2029", "Cs lone surrogate": "\ud800",
}
NAMES = pytest.mark.parametrize("ch", list(CHARACTERS.values()), ids=list(CHARACTERS))
DISPLAY_NAME: TypeAdapter[str] = TypeAdapter(DisplayName)


@NAMES
def test_no_name_holds_one(ch: str) -> None:
    assert control_character(f"An{ch}n", NAME) == (f"U+{ord(ch):04X}", 3)
    # (pydantic itself refuses a lone surrogate in a string)
    with pytest.raises(ValidationError, match=f"U\\+{ord(ch):04X}|unicode string"):
        DISPLAY_NAME.validate_python(f"An{ch}n")
    with pytest.raises(ControlCharacter):
        _bounded("title", f"An{ch}n", 100)
    with pytest.raises(SearchError) as refused:
        label_name(f"vi{ch}p")
    assert refused.value.code == "label_bad_characters"
    assert clean_name(f"сч{ch}ёт.pdf") == "счёт.pdf"  # a file's name is kept, without it


@NAMES
def test_a_text_holds_none_but_its_line_breaks(ch: str) -> None:
    if ch in TEXT:
        assert _bounded("texts.en", f"Hello{ch}there", 1000, TEXT) == f"Hello{ch}there"
    else:
        with pytest.raises(ControlCharacter):
            _bounded("texts.en", f"Hello{ch}there", 1000, TEXT)


def test_a_text_keeps_its_lines_and_emoji_sequences() -> None:
    text = "Здравствуйте!\r\n\tВаш заказ в пути 👩\u200d💻"
    assert control_character(text, TEXT) is None
    assert control_character("Ann Lee", NAME) is None
