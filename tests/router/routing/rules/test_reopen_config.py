"""rules.yaml's ``reopen``: how long after a resolve a customer's message
reopens the conversation, per team; bad values refused on their line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from router.cli import main
from router.routing.rules import load_rules
from router.routing.rules.engine import RulesRouting
from router.yamlconf import ConfigError
from tests.router.routing.rules.conftest import write_config

DEFAULT = "rules: []\ndefault: {queue: {team: support}}\n"


def _routing(tmp_path: Path, text: str) -> RulesRouting:
    return RulesRouting(load_rules(write_config(tmp_path, text)))


def test_without_the_section_a_resolve_is_reopened_within_a_day(tmp_path: Path) -> None:
    routing = _routing(tmp_path, DEFAULT)
    assert routing.reopen_within("support") == routing.reopen_within(None) == timedelta(hours=24)


@pytest.mark.parametrize(("value", "window"), [("2h", timedelta(hours=2)), ("0", timedelta(0)),
                                                ("off", timedelta(0)), ("'off'", timedelta(0)),
                                                ("90", timedelta(seconds=90)), ("3d", timedelta(days=3))])
def test_the_window_is_a_duration_and_0_or_off_means_never(tmp_path: Path, value: str, window: timedelta) -> None:
    assert _routing(tmp_path, DEFAULT + f"reopen:\n  within: {value}\n").reopen_within("support") == window


def test_a_team_may_have_its_own_window(tmp_path: Path) -> None:
    routing = _routing(tmp_path, DEFAULT + "reopen:\n  within: 2h\n  teams:\n    senior: off\n")
    assert routing.reopen_within("senior") == timedelta(0)
    assert routing.reopen_within("support") == routing.reopen_within(None) == timedelta(hours=2)


BAD = [
    ("not a duration", "reopen:\n  within: soon\n", 4, "no duration"),
    ("negative", "reopen:\n  within: -1h\n", 4, "no duration"),
    ("unknown team", "reopen:\n  teams:\n    vip-desk: 2h\n", 5, "unknown team 'vip-desk'"),
    ("unknown key", "reopen:\n  window: 2h\n", 4, "reopen.window: unknown key: "),
    ("team's bad value", "reopen:\n  teams:\n    senior: tomorrow\n", 5, "no duration"),
]


@pytest.mark.parametrize(("case", "text", "line", "words"), BAD, ids=[c[0] for c in BAD])
def test_a_bad_reopen_section_is_refused_with_its_line(tmp_path: Path, case: str, text: str, line: int,
                                                       words: str) -> None:
    path = write_config(tmp_path, DEFAULT + text)
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert any(p.startswith(f"{path}:{line}: ") and words in p for p in caught.value.problems), caught.value.problems


def test_rules_check_reports_the_bad_value_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, DEFAULT + "reopen:\n  within: soon\n")
    assert main(["rules", "check", str(path)]) != 0
    assert f"{path}:4: reopen.within" in capsys.readouterr().err
