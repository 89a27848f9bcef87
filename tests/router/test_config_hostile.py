"""Configuration an admin gets wrong, answered with ``file:line: what`` and
never a traceback or a silent guess: files that are not UTF-8, a key written
twice, a date no calendar has, a time zone that is a number, durations past
what a date holds, a --config folder that is not there, a port past 65535."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from router.cli import build_parser
from router.config import Settings
from router.routing.rules import load_rules
from router.server.settings import load_settings
from router.yamlconf import ConfigError, read_yaml


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        read_yaml(path)
    return refused.value.problems


def test_a_file_that_is_not_utf8_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_bytes(b"default:\n  team: support\n\xff\n")
    assert problems(path) == [f"{path}:3: not UTF-8 text (invalid start byte at byte 25): save it as UTF-8"]
    utf16 = tmp_path / "omnirouter.yaml"
    utf16.write_text("server:\n  port: 8080\n", encoding="utf-16")
    assert problems(utf16)[0].startswith(f"{utf16}:1: not UTF-8 text (")


def test_a_key_written_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    """PyYAML kept the last and dropped the first: a second ``server:`` replaced the whole first one."""
    path = tmp_path / "omnirouter.yaml"
    path.write_text("server:\n  port: 8080\n  host: 0.0.0.0\nstore:\n  path: a.db\n  path: b.db\nserver:\n"
                    "  port: 1\n", encoding="utf-8")
    assert problems(path) == [
        f"{path}:6: the key 'path' is written twice in one mapping (first on line 5): keep one",
        f"{path}:7: the key 'server' is written twice in one mapping (first on line 1): keep one",
    ]


def test_a_merge_may_still_override_and_an_alias_bomb_stays_cheap(tmp_path: Path) -> None:
    path = tmp_path / "teams.yaml"
    path.write_text("base: &b\n  x: 1\n  y: 2\nother:\n  <<: *b\n  x: 3\n", encoding="utf-8")
    assert read_yaml(path)[0] == {"base": {"x": 1, "y": 2}, "other": {"x": 3, "y": 2}}
    bomb = tmp_path / "bomb.yaml"
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"] + [
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]" for i in range(8)]
    bomb.write_text("\n".join(levels) + "\n", encoding="utf-8")
    data, _ = read_yaml(bomb)  # the walk for twice-written keys visits each node once, not 10**8 times
    assert data["i"][0][0] is data["g"]  # the aliases' lists shared, never copied


def test_a_date_no_calendar_has_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("default:\n  team: support\nholidays: [2026-02-28, 2026-02-30]\n", encoding="utf-8")
    assert problems(path) == [f"{path}:3: '2026-02-30': day is out of range for month"]


def test_a_time_zone_that_is_a_number_is_no_zone(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("timezone: 5\ndefault:\n  queue: {team: support}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_rules(path)
    assert any("unknown time zone 5" in p for p in refused.value.problems)


@pytest.mark.parametrize("text", ["reopen:\n  within: 9999999999999d\n",
                                  "queues:\n  support:\n    first_response: 99999999999999d\n"])
def test_a_duration_past_what_a_date_holds_is_refused(tmp_path: Path, text: str) -> None:
    """It passed, then every routing decision counting back from now failed with an OverflowError."""
    path = tmp_path / "rules.yaml"
    path.write_text("default:\n  queue: {team: support}\n" + text, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_rules(path)
    assert any("less than or equal to 3153600000" in p for p in refused.value.problems), refused.value.problems


def test_a_session_of_a_hundred_years_and_more_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate({"console": {"session_hours": 1e12}})


@pytest.mark.parametrize(("text", "line", "words"), [
    ("outbox:\n  backoff_initial: 60\n  backoff_max: 5\n", 2, "backoff_max (5 s) is below backoff_initial (60 s)"),
    ("webhooks:\n  backoff_max: 1\n", 2, "backoff_max (1 s) is below backoff_initial (5 s)"),
    ("outbox:\n  backoff_max: .inf\n", 2, "finite number"),
    ("server:\n  shutdown_timeout: .nan\n", 2, "finite number"),
    ("server:\n  port: true\n", 2, "valid integer"),
    ("server:\n  public_url: chat.example.com\n", 2, "'chat.example.com' is no web address"),
    ("server:\n  public_url: https://chat.example.com/?x=1\n", 2, "is no web address"),
    ("store:\n  path: ''\n", 2, "at least 1 character"),
])
def test_settings_that_contradict_themselves_or_mean_nothing_are_refused(
        tmp_path: Path, text: str, line: int, words: str) -> None:
    (tmp_path / "omnirouter.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_settings(tmp_path)
    assert any(p.startswith(f"{tmp_path / 'omnirouter.yaml'}:{line}: ") and words in p
               for p in refused.value.problems), refused.value.problems


def test_a_config_folder_that_is_not_there_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A mistyped --config started the service on the defaults, with a new store and admin in the working folder."""
    with pytest.raises(ConfigError) as refused:
        load_settings(tmp_path / "nosuchdir")
    assert refused.value.problems == [f"{tmp_path / 'nosuchdir'}: no such configuration folder"]
    # where no folder was named and the default one is not there: the embedded defaults, as ever
    monkeypatch.chdir(tmp_path)
    assert load_settings(Path("config")) == Settings()


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_a_port_past_65535_is_refused(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The system took 99999 as 34463 without a word."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--port", port])
    assert "argument --port" in capsys.readouterr().err
    assert build_parser().parse_args(["run", "--port", "0"]).port == 0


@pytest.mark.parametrize(("argv", "said"), [
    (["--log-level", "LOUD", "rules", "facts"], "argument --log-level: invalid choice: 'LOUD'"),  # was INFO, silently
    (["rules", "replay", "rules.yaml", "--limit", "-1"], "argument --limit: -1 is below 0"),  # listed all but one
])
def test_a_command_line_value_that_means_nothing_is_refused(
        argv: list[str], said: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)
    assert said in capsys.readouterr().err


def test_log_levels_are_taken_in_any_case() -> None:
    assert build_parser().parse_args(["--log-level", "debug", "rules", "facts"]).log_level == "DEBUG"
