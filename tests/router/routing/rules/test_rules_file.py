"""rules.yaml and teams.yaml: what loads, what is refused and on which line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from router.cli import main
from router.cli.rules import json_schema
from router.routing.rules import load_rules
from router.yamlconf import ConfigError
from tests.router.routing.rules.conftest import RULES, TEAMS, write_config

REPO = Path(__file__).resolve().parents[4]

BAD_RULES = [
    # (case, rules.yaml, expected line, words in the message)
    ("yaml syntax", "rules:\n  - name: x\n    when: [unclosed\ndefault: {queue: {team: support}}\n", 4, "expected"),
    ("unknown field", "rules: []\ndefault: {queue: {team: support}}\nescalate: yes\n", 3,
     "escalate: unknown key: the keys here are "),
    ("misspelt rule key", "rules:\n  - name: x\n    wen: channel == 'sms'\n    queue: {team: support}\n"
     "default: {queue: {team: support}}\n", 3, "wen"),
    ("wrong type", "rules:\n  - name: x\n    when: text == ''\n    queue: {team: support, priority: high}\n"
     "default: {queue: {team: support}}\n", 4, "priority"),
    ("priority out of range", "rules: []\ndefault: {queue: {team: support, priority: 1000}}\n", 2, "100"),
    ("two targets", "rules:\n  - name: x\n    when: text == ''\n    queue: {team: support}\n"
     "    bot: {then: {team: support}}\ndefault: {queue: {team: support}}\n", 2, "exactly one"),
    ("no default", "rules: []\n", 1, "default"),
    ("unknown fact", "rules:\n  - name: x\n    when: customer_teir == 'gold'\n    queue: {team: support}\n"
     "default: {queue: {team: support}}\n", 3, "customer_teir"),
    ("type mismatch", "rules:\n  - name: x\n    when: customer_ltv > 'gold'\n    queue: {team: support}\n"
     "default: {queue: {team: support}}\n", 3, "compares a number with a string"),
    ("expression syntax", "rules:\n  - name: x\n    when:\n      - channel == 'sms'\n      - text ==\n"
     "    queue: {team: support}\ndefault: {queue: {team: support}}\n", 5, "syntax"),
    ("not a condition", "rules:\n  - name: x\n    when: customer_ltv + 1\n    queue: {team: support}\n"
     "default: {queue: {team: support}}\n", 3, "not a yes/no"),
    ("bad handoff", "rules:\n  - name: x\n    when: text == ''\n    bot:\n      handoff: bot_fail\n"
     "      then: {team: support}\ndefault: {queue: {team: support}}\n", 5, "bot_fail"),
    ("unknown team", "rules:\n  - name: x\n    when: text == ''\n    queue: {team: vip-desk}\n"
     "default: {queue: {team: support}}\n", 4, "unknown team 'vip-desk'"),
    ("unknown skill", "rules: []\ndefault:\n  queue:\n    team: support\n    skills: {french: 2}\n", 5, "french"),
    ("skill level", "rules: []\ndefault: {queue: {team: support, skills: {billing: 9}}}\n", 2, "5"),
    ("duplicate names", "rules:\n  - {name: x, when: text == '', queue: {team: support}}\n"
     "  - {name: x, when: text != '', queue: {team: support}}\ndefault: {queue: {team: support}}\n", 3, "two rules"),
    ("bad time zone", "timezone: Mars/Olympus\nrules: []\ndefault: {queue: {team: support}}\n", 1, "time zone"),
    ("after-hours text in no language", "queues:\n  support:\n    after_hours_message: {}\n"
     "rules: []\ndefault: {queue: {team: support}}\n", 3, "at least one language"),
    ("a placeholder never filled in", "queues:\n  support:\n    after_hours_message:\n"
     "      ru: 'Откроемся {opens}, закроемся {closes}'\nrules: []\ndefault: {queue: {team: support}}\n", 4,
     "unknown placeholder {closes}: only {opens}"),
    ("an empty list of conditions", "rules:\n  - name: x\n    when: []\n    queue: {team: support}\n"
     "default: {queue: {team: support}}\n", 3, "at least 1 item"),
    ("a calendar no one defined", "calendars:\n  office: {timezone: UTC, hours: {mon-fri: ['09:00-18:00']}}\nrules:\n"
     "  - {name: x, when: \"open['ofice'] and text != ''\", queue: {team: support}}\n"
     "default: {queue: {team: support}}\n", 4, "unknown calendar 'ofice' (did you mean 'office'?)"),
    ("open[] with no calendars", "rules:\n  - name: x\n    bot:\n      handoff: not open['office']\n"
     "      then: {team: support}\n    when: text != ''\ndefault: {queue: {team: support}}\n", 4,
     "unknown calendar 'office' (this file defines no calendars)"),
    ("after-hours language not a code", "queues:\n  support:\n    after_hours_message:\n      russian: Закрыто\n"
     "rules: []\ndefault: {queue: {team: support}}\n", 4, "a language is two lower-case letters, ru or en"),
]


@pytest.mark.parametrize(("case", "text", "line", "words"), BAD_RULES, ids=[c[0] for c in BAD_RULES])
def test_bad_rules_are_refused_with_their_line(tmp_path: Path, case: str, text: str, line: int, words: str) -> None:
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    problems = caught.value.problems
    assert any(p.startswith(f"{path}:{line}: ") and words in p for p in problems), problems


BAD_TEAMS = [
    ("unknown team of an agent", TEAMS.replace("teams: [senior]", "teams: [seniors]"), 8, "seniors"),
    ("unknown skill of an agent", TEAMS.replace("{billing: 3}", "{cooking: 3}"), 9, "cooking"),
    ("capacity not a number", TEAMS + "    capacity: {chat: many}\n", 10, "capacity"),
    ("agent twice", TEAMS + "  - username: anna\n", 10, "twice"),
    ("a capacity of a kind no channel has", TEAMS + "    capacity: {chats: 2, email: 1}\n", 10,
     "unknown channel kind 'chats' (kinds: chat, email;"),
    ("a title in no language", TEAMS.replace("senior: {}", "senior: {title: {}}"), 5, "at least one language"),
    ("a blank title", TEAMS.replace("senior: {}", "senior: {title: {ru: '  '}}"), 5, "must not be empty"),
    ("a title's language not a code", TEAMS.replace("senior: {}", "senior: {title: {russian: Старшие}}"), 5,
     "russian"),
    ("a title too long", TEAMS.replace("senior: {}", f"senior: {{title: {'Я' * 65}}}"), 5, "64"),
]


@pytest.mark.parametrize(("case", "teams", "line", "words"), BAD_TEAMS, ids=[c[0] for c in BAD_TEAMS])
def test_bad_teams_are_refused_with_their_line(tmp_path: Path, case: str, teams: str, line: int, words: str) -> None:
    path = write_config(tmp_path, RULES, teams)
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    first = caught.value.problems[0]
    assert first.startswith(f"{tmp_path / 'teams.yaml'}:{line}: "), first
    assert words in first


def test_a_team_is_titled_for_people_in_either_language(tmp_path: Path) -> None:
    """An id is what rules and files use (latin letters); people read the title, given once or per language: one
    language given stands for the other, and a team with none is read by its id."""
    teams = TEAMS.replace("support: {}", "support: {title: {ru: Поддержка, en: Support}}\n"
                          "  night: {title: Ночная смена}\n  vip: {}").replace(
        "senior: {}", "senior: {title: {ru: Старшие специалисты}}")
    loaded = load_rules(write_config(tmp_path, RULES, teams)).teams.teams
    titles = {name: team.titles(name) for name, team in loaded.items()}
    assert titles == {"night": {"ru": "Ночная смена", "en": "Ночная смена"}, "vip": {"ru": "vip", "en": "vip"},
                      "support": {"ru": "Поддержка", "en": "Support"},
                      "senior": {"ru": "Старшие специалисты", "en": "Старшие специалисты"}}


def test_every_problem_is_reported_not_only_the_first(tmp_path: Path) -> None:
    text = ("rules:\n  - name: a\n    when: nope == 1\n    queue: {team: ghosts}\n"
            "default: {queue: {team: phantoms}}\n")
    with pytest.raises(ConfigError) as caught:
        load_rules(write_config(tmp_path, text))
    lines = [p.split(": ")[0].rsplit(":", 1)[1] for p in caught.value.problems]
    assert lines == ["3", "4", "5"]


def test_rules_without_teams_file_name_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_rules(write_config(tmp_path, RULES, teams=None))
    assert "teams.yaml does not exist" in caught.value.problems[0]


def test_version_follows_the_content(tmp_path: Path) -> None:
    first = load_rules(write_config(tmp_path / "a")).version
    again = load_rules(write_config(tmp_path / "b")).version
    changed = load_rules(write_config(tmp_path / "c", RULES.replace("5000", "6000"))).version
    assert first == again != changed


def test_check_command_exit_codes_and_lines(
    tmp_path: Path, rules_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rules", "check", str(rules_path)]) == 0
    assert "ok, 2 rules," in capsys.readouterr().out
    bad = write_config(tmp_path / "bad", RULES.replace("customer_tier", "customer_tear"))
    assert main(["rules", "check", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"{bad}:3: rules.0.when: unknown fact 'customer_tear' (did you mean 'customer_tier'?)"]


def test_check_of_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(tmp_path / "none.yaml")]) == 1
    assert "none.yaml:1: cannot read" in capsys.readouterr().err


def test_shipped_config_is_valid() -> None:
    assert main(["rules", "check", str(REPO / "config" / "rules.yaml")]) == 0


@pytest.mark.parametrize("kind", ["rules", "teams"])
def test_committed_json_schema_is_current(kind: str) -> None:
    committed = (REPO / "config" / f"{kind}.schema.json").read_text(encoding="utf-8")
    assert committed == json_schema(kind), f"regenerate: omnirouter rules schema {kind} > config/{kind}.schema.json"
    schema = json.loads(committed)
    assert "rules" in schema["properties"] or "agents" in schema["properties"]
