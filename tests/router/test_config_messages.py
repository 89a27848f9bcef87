"""A bad value in a config file is said once, in words: not once per shape
the value might have taken, with pydantic's internal names in its place."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from router.cli import main

SHIPPED = Path(__file__).resolve().parents[2] / "config"

CASES = [
    ("rules:\n  - {name: a, when: true, queue: {team: support}}\ndefault: {queue: {team: support}}\n",
     "rules.yaml:2: rules.0.when: should be a text or a list: write 'true' in quotes, which YAML otherwise reads "
     "as a boolean"),
    ("queues:\n  support:\n    steps:\n      - {after: 2 мин, team: senior}\nrules: []\n"
     "default: {queue: {team: support}}\n",
     "rules.yaml:4: queues.support.steps.0.after: '2 мин' is no duration (use 90s, 5m, 1h)"),
    ("rules:\n  - {name: a, when: \"text != ''\", queue: support}\ndefault: {queue: {team: support}}\n",
     "rules.yaml:2: rules.0.queue: should be a mapping ({key: value}), not 'support'"),
    ("rules:\n  - {name: a, when: \"text != ''\", queue: {team: поддержка}}\ndefault: {queue: {team: support}}\n",
     "rules.yaml:2: rules.0.queue.team: 'поддержка': a name here is Latin letters, digits, '_', '.' and '-' only "
     "(no spaces, no Cyrillic)"),
    ("calendars:\n  office:\n    timezone: Europe/Moscow\n    hours: {mon-fri: [\"09:00-18:00\"]}\n"
     "    holidays: [01.01.2026]\nrules: []\ndefault: {queue: {team: support}}\n",
     "rules.yaml:5: calendars.office.holidays.0: '01.01.2026' is no date: write it YYYY-MM-DD (2026-01-01)"),
    ("queues:\n  support:\n    after_hours_message: {EN: closed}\nrules: []\ndefault: {queue: {team: support}}\n",
     "rules.yaml:3: queues.support.after_hours_message.EN: 'EN': a language is two lower-case letters, ru or en"),
]


@pytest.mark.parametrize(("text", "said"), CASES, ids=["when true", "duration", "queue", "cyrillic", "date",
                                                       "language"])
def test_a_bad_value_is_said_once_in_words(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                           said: str) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copy(SHIPPED / "teams.yaml", folder / "teams.yaml")
    (folder / "rules.yaml").write_text(text, encoding="utf-8")
    assert main(["rules", "check", str(folder / "rules.yaml")]) == 1
    lines = [ln.removeprefix(f"{folder}/") for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert lines == [said]


TYPOS = [
    ("omnirouter.yaml", "  path: var/omnirouter.db", "  pth: var/omnirouter.db",
     "omnirouter.yaml:13: store.pth: unknown key: did you mean 'path'? the keys here are backend, pool_size, path,"),
    ("rules.yaml", "    queue: {team: support, priority: 40}", "    queu: {team: support, priority: 40}",
     "rules.yaml:44: rules.1.queu: unknown key: did you mean 'queue'? the keys here are queue, bot, name, when"),
    ("teams.yaml", "  support:\n", "  support:\n    titel: Поддержка\n",
     ": teams.support.titel: unknown key: did you mean 'title'? the keys here are title,"),
    ("bot.yaml", "lexical:   {threshold:", "lexical:   {treshold:",
     "bot.yaml:30: matching.lexical.treshold: unknown key: did you mean 'threshold'? the keys here are threshold,"),
]


@pytest.mark.parametrize(("name", "old", "new", "said"), TYPOS, ids=[t[0] for t in TYPOS])
def test_a_mistyped_key_is_named_with_the_key_meant_and_the_keys_its_place_takes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, old: str, new: str, said: str
) -> None:
    """An unknown key was refused in pydantic's words, 'Extra inputs are not permitted',
    which say neither that the key is unknown nor which one was meant."""
    folder = tmp_path / "config"
    shutil.copytree(SHIPPED, folder)
    text = (folder / name).read_text(encoding="utf-8")
    assert old in text
    (folder / name).write_text(text.replace(old, new, 1), encoding="utf-8")
    assert main(["config", "check", str(folder)]) == 1
    err = capsys.readouterr().err
    assert said in err, err


@pytest.mark.parametrize(("typo", "meant"), [("tokn_env: BOT_TOKEN", "token_env"), ("enabeld: false", "enabled")])
def test_a_mistyped_key_of_a_connector_is_named_with_the_options_of_its_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], typo: str, meant: str,
) -> None:
    """Every key of the section is offered: its type's options, and ``type`` and ``enabled``, every section's."""
    folder = tmp_path / "config"
    shutil.copytree(SHIPPED, folder)
    (folder / "omnirouter.yaml").write_text(
        f"connectors:\n  tg:\n    type: telegram\n    {typo}\n", encoding="utf-8")
    assert main(["config", "check", str(folder)]) == 1
    key = typo.split(":", maxsplit=1)[0]
    assert (f"omnirouter.yaml:4: connectors.tg.{key}: unknown key: did you mean {meant!r}? the keys here are "
            "type, enabled, api_base, label, token_env,") in capsys.readouterr().err
