"""csat.yaml: the per-team choices over the file's, both languages in every
default, a bad file refused with file:line; and what a typed answer reads as."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.csat.answers import typed_score
from router.csat.config import CSAT_FILE, CsatConfig, load_csat_config
from router.yamlconf import ConfigError

SHIPPED = Path(__file__).resolve().parents[3] / "config"


def test_without_the_file_nobody_is_asked(tmp_path: Path) -> None:
    assert not load_csat_config(tmp_path).policy("support").enabled
    assert not load_csat_config(None).enabled


def test_the_shipped_file_asks_and_every_default_text_is_in_both_languages() -> None:
    config = load_csat_config(SHIPPED)
    assert config.enabled and config.policy("senior").enabled
    assert not config.policy("support").after_hours and config.policy("nobody").after_hours
    defaults = CsatConfig()
    for texts in (defaults.question, defaults.number_hint, defaults.thanks, defaults.reask, defaults.labels):
        assert set(texts) == {"ru", "en"}
    assert defaults.comment_prompt is not None and set(defaults.comment_prompt) == {"ru", "en"}


def test_a_team_overrides_only_what_it_says(tmp_path: Path) -> None:
    (tmp_path / "teams.yaml").write_text("teams: {vip: {}, quiet: {}}\n", encoding="utf-8")
    (tmp_path / CSAT_FILE).write_text(
        "enabled: true\nafter_hours: false\ncomment_prompt: null\nteams:\n"
        "  vip: {question: {en: 'How was it?'}, comment_prompt: {ru: 'Что улучшить?'}}\n"
        "  quiet: {enabled: false}\n", encoding="utf-8")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "teams.yaml").write_text("teams: {brief: {}}\n", encoding="utf-8")
    (tmp_path / "other" / CSAT_FILE).write_text(
        "enabled: true\nteams:\n  brief: {comment_prompt: false}\n", encoding="utf-8")
    other_file = load_csat_config(tmp_path / "other")
    assert other_file.policy("brief").comment_prompt is None  # this team asks for no comment
    assert other_file.policy("support").comment_prompt == CsatConfig().comment_prompt
    config = load_csat_config(tmp_path)
    vip, quiet, other = config.policy("vip"), config.policy("quiet"), config.policy(None)
    assert vip.enabled and not vip.after_hours and vip.question == {"en": "How was it?"}
    assert vip.comment_prompt == {"ru": "Что улучшить?"}
    assert not quiet.enabled and other.enabled and other.comment_prompt is None
    assert other.question == CsatConfig().question


@pytest.mark.parametrize(("text", "where"), [
    ("enabled: maybe\n", ":1: enabled"),
    ("labels: {en: [a, b, c]}\n", ":1: labels"),
    ("teams:\n  support: {asked: true}\n", ":2: teams.support.asked"),
    ("teams:\n  support: {}\n  suport: {enabled: false}\n", ":3: teams.suport: unknown team 'suport' (did you mean "
                                                        "'support'?)"),
    ("question: {de: 'Wie war es?'}\n", ":1: question.de"),
    ("answer_window: soon\n", ":1: answer_window"),
    ("answer_window: 0s\n", ":1: answer_window"),
    ("comment_window: 0\n", ":1: comment_window"),
    ("comment_prompt: true\n", ":1: comment_prompt"),
    ("teams:\n  support: {comment_prompt: true}\n", ":2: teams.support.comment_prompt"),
])
def test_a_bad_file_is_refused_with_its_line(tmp_path: Path, text: str, where: str) -> None:
    (tmp_path / "teams.yaml").write_text("teams: {support: {}, senior: {}}\n", encoding="utf-8")
    (tmp_path / CSAT_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_csat_config(tmp_path)
    assert where in str(refused.value)


@pytest.mark.parametrize(("text", "score"), [
    ("4", 4), (" 5 ", 5), ("5!", 5), ("3/5", 3), ("4 из 5", 4), ("2 of 5", 2), ("⭐⭐⭐", 3), ("★ ★ ★ ★", 4),
    ("7", 7), ("0", 0), ("10", 10),
    ("5 stars please", None), ("order 3", None), ("", None), ("спасибо", None), ("1042", None), ("4.5", None),
])
def test_what_a_typed_answer_reads_as(text: str, score: int | None) -> None:
    assert typed_score(text) == score


def test_a_true_comment_prompt_is_told_plainly(tmp_path: Path) -> None:
    (tmp_path / CSAT_FILE).write_text("comment_prompt: true\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_csat_config(tmp_path)
    assert "null (no comment asked)" in str(refused.value) and "union_tag" not in str(refused.value)


def test_labels_of_one_language_keep_the_others_defaults(tmp_path: Path) -> None:
    (tmp_path / CSAT_FILE).write_text("labels: {en: ['1', '2', '3', '4', '5']}\n", encoding="utf-8")
    labels = load_csat_config(tmp_path).labels
    assert labels["en"] == ["1", "2", "3", "4", "5"] and labels["ru"] == CsatConfig().labels["ru"]


def test_a_team_needs_a_teams_file_that_has_it(tmp_path: Path) -> None:
    """Without teams.yaml no team exists: a csat.yaml naming one is a typo or a forgotten file."""
    (tmp_path / CSAT_FILE).write_text("enabled: true\nteams:\n  support: {after_hours: false}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_csat_config(tmp_path)
    assert refused.value.problems == [f"{tmp_path / CSAT_FILE}:3: teams.support: unknown team 'support' "
                                      "(teams.yaml has none)"]
    (tmp_path / "teams.yaml").write_text("teams: {billing: {}}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_csat_config(tmp_path)
    assert "unknown team 'support' (teams: billing)" in str(refused.value)
