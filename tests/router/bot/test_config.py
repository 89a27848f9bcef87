"""bot.yaml is checked whole on start: every problem with its file:line."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from router.bot import load_bot_config
from router.config import Settings
from router.server.app import create_app
from router.yamlconf import ConfigError
from tests.router.routing.rules.conftest import write_config

GOOD = """\
matching: {method: lexical, lexical: {threshold: 0.4}}
intents:
  - name: hours
    title: {ru: часы работы, en: opening hours}
    examples:
      ru: ["Когда вы работаете?"]
      en: ["When are you open?"]
    answer: {ru: "С 9 до 18.", en: "From 9 to 6."}
  - name: payment
    title: {en: payment}
    examples:
      en: ["How can I pay?"]
    answer: {en: "By card."}
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "bot.yaml"
    path.write_text(dedent(text), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_bot_config(path)
    return [p.replace(f"{path}:", "") for p in caught.value.problems]


def test_a_good_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text(GOOD, encoding="utf-8")
    config = load_bot_config(path)
    assert [i.name for i in config.intents] == ["hours", "payment"]


def test_a_duplicate_intent_is_refused_with_its_line(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("  - name: payment", "  - name: hours"))
    assert found == ["9: intents.1.name: intent 'hours' is defined twice (first as intents.0)"]


def test_an_empty_answer_is_refused_with_its_line(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace('answer: {en: "By card."}', 'answer: {en: "   "}'))
    assert found == ["13: intents.1.answer.en: must not be empty"]
    assert problems(tmp_path, GOOD.replace('answer: {en: "By card."}', "answer: {}"))[0].startswith(
        "13: intents.1.answer: give the text in at least one language")


@pytest.mark.parametrize(("value", "message"), [
    ("1.5", "matching.lexical.threshold: Input should be less than 1"),
    ("0", "matching.lexical.threshold: Input should be greater than 0"),
    ("high", "matching.lexical.threshold: Input should be a valid number"),
])
def test_a_bad_threshold_is_refused_with_its_line(tmp_path: Path, value: str, message: str) -> None:
    assert problems(tmp_path, GOOD.replace("threshold: 0.4", f"threshold: {value}"))[0].startswith(f"1: {message}")


@pytest.mark.parametrize("twin", [
    "when are you  open?", "When are you open", "WHEN ARE YOU OPEN!", "when are  you open ?", "When are you open?"])
def test_one_example_for_two_intents_is_refused(tmp_path: Path, twin: str) -> None:
    """Case, spaces, ё/е and the punctuation around the words make no other
    question: it passed the check, and the bot then asked «1) сроки доставки
    или 2) сроки доставки?». Both places are named, file:line (``problems``
    leaves the file's name out)."""
    found = problems(tmp_path, GOOD.replace("How can I pay?", twin))
    assert found == [f"12: intents.1.examples.en.0: example {twin!r} is also an example of intent 'hours' "
                     "(7: intents.0.examples.en.0: 'When are you open?')"]


def test_e_and_yo_are_one_letter_to_the_duplicate_check(tmp_path: Path) -> None:
    text = GOOD.replace('ru: ["Когда вы работаете?"]', 'ru: ["сколько идёт  доставка"]').replace(
        'en: ["How can I pay?"]', 'ru: ["Сколько идет доставка?"]')
    found = problems(tmp_path, text)
    assert found == ["12: intents.1.examples.ru.0: example 'Сколько идет доставка?' is also an example of intent "
                     "'hours' (6: intents.0.examples.ru.0: 'сколько идёт  доставка')"]
    off_topic = problems(tmp_path, GOOD + 'off_topic: {en: ["when are you open"]}\n')
    assert off_topic == ["14: off_topic.en.0: 'when are you open' is also an example of intent 'hours' "
                         "(7: intents.0.examples.en.0: 'When are you open?')"]


def test_a_bot_command_is_an_example_in_either_language(tmp_path: Path) -> None:
    """/start is no language's words: under ``ru:`` it was refused as Russian in Latin letters."""
    path = tmp_path / "bot.yaml"
    commands = 'ru: ["Когда вы работаете?", "/hours", "/start hours"]'
    path.write_text(GOOD.replace('ru: ["Когда вы работаете?"]', commands), encoding="utf-8")
    assert load_bot_config(path).intents[0].examples["ru"][1:] == ["/hours", "/start hours"]


def test_a_russian_example_in_latin_letters_is_refused_with_its_line(tmp_path: Path) -> None:
    """Its words would become known English words, and the customers' own
    translit made of them would no longer be read as Russian."""
    latin = GOOD.replace('ru: ["Когда вы работаете?"]', 'ru: ["Когда вы работаете?", "kogda otkryty?"]')
    found = problems(tmp_path, latin + "off_topic: {ru: [pogoda], en: [weather]}\n")
    assert found == [
        "6: intents.0.examples.ru.1: Russian example 'kogda otkryty?' is in Latin letters: write it in Cyrillic "
        "(a customer's translit is read as Russian anyway)",
        "14: off_topic.ru.0: Russian example 'pogoda' is in Latin letters: write it in Cyrillic "
        "(a customer's translit is read as Russian anyway)",
    ]


def test_unknown_keys_languages_and_an_external_bot_without_url_are_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, GOOD.replace("threshold: 0.4", "treshold: 0.4"))[0].startswith(
        "1: matching.lexical.treshold: unknown key: did you mean 'threshold'? the keys here are threshold,")
    assert problems(tmp_path, GOOD.replace('ru: ["Когда вы работаете?"]', "de: [Wann]"))[0].startswith(
        "6: intents.0.examples.de")
    assert problems(tmp_path, "engine: external\n")[0].startswith(
        "1: (top): engine: external needs an 'external:' section")
    assert problems(tmp_path, "engine: external\nexternal: {url: 'not a url', timeout: 5s}\n")[0].startswith(
        "2: external.url: ")
    assert problems(tmp_path, "engine: external\nexternal: {url: 'http://bot:5005/x', timeout: 0s}\n")[0].startswith(
        "2: external: timeout must be more than 0")


def test_bad_yaml_is_refused_with_its_line(tmp_path: Path) -> None:
    assert problems(tmp_path, GOOD.replace("  - name: payment", "  - name: [payment"))[0].startswith("10: ")


def test_an_invalid_bot_file_stops_the_start(settings: Settings, tmp_path: Path) -> None:
    folder = write_config(tmp_path / "config").parent
    (folder / "bot.yaml").write_text(GOOD.replace("threshold: 0.4", "threshold: 2"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        create_app(settings, folder, base_dir=tmp_path)
    assert caught.value.problems[0].startswith(f"{folder / 'bot.yaml'}:1: matching.lexical.threshold")


def test_each_matching_method_has_its_own_thresholds_checked_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text(GOOD.replace("method: lexical", "method: hybrid"), encoding="utf-8")
    config = load_bot_config(path)
    # the lexical threshold is the lexical matcher's; the hybrid keeps its own measured default
    assert (config.matching.lexical.threshold, config.matching.chosen.threshold) == (0.4, 0.50)
    assert config.matching.chosen.off_topic_margin == 0.10
    text = "matching:\n  method: embedding\n  embedding:\n    clarify_margin: -1\n" + GOOD.split("\n", 1)[1]
    assert problems(tmp_path, text) == [
        "4: matching.embedding.clarify_margin: Input should be greater than or equal to 0"]
    text = "matching:\n  method: hybrid\n  hybrid: {off_topic_margin: 1.5}\n" + GOOD.split("\n", 1)[1]
    assert problems(tmp_path, text) == ["3: matching.hybrid.off_topic_margin: Input should be less than 1"]
    assert problems(tmp_path, GOOD.replace("method: lexical", "method: neural"))[0].startswith(
        "1: matching.method: Input should be 'hybrid', 'embedding' or 'lexical'")


def test_every_message_piece_keeps_its_spaces(tmp_path: Path) -> None:
    """Message pieces are glued into sentences: a joiner's spaces are part of it."""
    path = tmp_path / "bot.yaml"
    path.write_text(GOOD + dedent("""\
        messages:
          clarify: {ru: "Вы о чём: {options}? ", en: " Which one: {options}?"}
          options_joiner: {ru: " или ", en: " or "}
          handoff: {ru: " Передаю. ", en: "Passing on. "}
        """), encoding="utf-8")
    messages = load_bot_config(path).messages
    assert messages.options_joiner == {"ru": " или ", "en": " or "}
    assert messages.clarify == {"ru": "Вы о чём: {options}? ", "en": " Which one: {options}?"}
    assert messages.handoff == {"ru": " Передаю. ", "en": "Passing on. "}
    assert problems(tmp_path, GOOD + 'messages: {options_joiner: {en: "   "}}\n') == [
        "14: messages.options_joiner.en: must not be empty"]
