"""``omnirouter config check [DIR]``: each file of a config folder broken the
way admins break them is reported with its file:line and exit 1; a good
folder passes; nothing is started or written. And ``omnirouter run`` on a
broken folder stops with the same file:line before anything exists."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from router import bot
from router.cli import main
from router.cli.config import BOT_FILE, CSAT_FILE, IDENTITY_FILE, RULES_FILE, SERVICE_FILE, TEAMS_FILE
from router.config import Settings
from router.identity import service as identity
from router.routing.rules import schema
from router.server import settings
from router.server.app import create_app
from router.yamlconf import ConfigError

SHIPPED = Path(__file__).resolve().parents[2] / "config"

# (file, text in the shipped file, what it becomes, the message expected on that text's line)
BROKEN = [
    (SERVICE_FILE, "  port: 8080", "  port: eighty", "server.port: Input should be a valid integer"),
    (SERVICE_FILE, "    mode: webhook", "    mode: pigeon", "connectors.telegram.mode: Input should be"),
    (SERVICE_FILE, "  backend: sqlite", "  backend: sqlite: x", "mapping values are not allowed"),
    (TEAMS_FILE, "    teams: [senior, support]", "    teams: [senior, sales]", "unknown team 'sales'"),
    (RULES_FILE, "    when: asked_for_human", "    when: asked_for_humans", "asked_for_humans"),
    (RULES_FILE, "    queue: {team: support, priority: 40}", "    queue: {team: billing, priority: 40}",
     "unknown team 'billing'"),
    (BOT_FILE, "  method: hybrid", "  method: psychic", "matching.method: Input should be"),
    (BOT_FILE, "    title: {ru: \"сроки доставки\", en: \"delivery times\"}", "    title: {}",
     "intents.0.title: give the text in at least one language"),
    (IDENTITY_FILE, "default_region: RU", "default_region: 7", "default_region"),
    (IDENTITY_FILE, "  ttl_seconds: 600", "  ttl_seconds: soon", "verification.ttl_seconds"),
    (CSAT_FILE, "  senior:", "  seniors:", "teams.seniors: unknown team 'seniors' (did you mean 'senior'?)"),
]


def files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # a var/ made by mistake would appear here
    copy = tmp_path / "config"
    shutil.copytree(SHIPPED, copy)
    return copy


def test_the_shipped_folder_passes(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = files(folder.parent)
    assert main(["config", "check", str(folder)]) == 0
    out = capsys.readouterr().out
    for name in (SERVICE_FILE, TEAMS_FILE, RULES_FILE, BOT_FILE, IDENTITY_FILE):
        assert f"{folder / name}: ok" in out
    assert out.rstrip().endswith(f"{folder}: ok")
    assert files(folder.parent) == before


@pytest.mark.parametrize(("name", "old", "new", "message"), BROKEN)
def test_a_broken_file_is_reported_with_its_line(
    folder: Path, capsys: pytest.CaptureFixture[str], name: str, old: str, new: str, message: str
) -> None:
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not once in the shipped {name}"
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new), encoding="utf-8")
    before = files(folder.parent)
    assert main(["config", "check", str(folder)]) == 1
    err = capsys.readouterr().err
    assert any(ln.startswith(f"{path}:{line}: ") and message in ln for ln in err.splitlines()), err
    assert files(folder.parent) == before


def test_problems_in_several_files_are_all_reported(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, old, new, _ in (BROKEN[0], BROKEN[6], BROKEN[9]):
        path = folder / name
        path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    assert main(["config", "check", str(folder)]) == 1
    err = capsys.readouterr().err
    for name in (SERVICE_FILE, BOT_FILE, IDENTITY_FILE):
        assert f"{folder / name}:" in err


def test_a_missing_folder_says_which(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "confg"
    assert main(["config", "check", str(missing)]) == 1
    assert f"{missing}: no such folder" in capsys.readouterr().err
    assert not missing.exists()


def test_a_folder_without_config_files_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(tmp_path)]) == 1
    assert f"{tmp_path}: no config file here (expected omnirouter.yaml" in capsys.readouterr().err


def test_a_missing_file_the_rules_need_says_which(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / TEAMS_FILE).unlink()
    assert main(["config", "check", str(folder)]) == 1
    err = capsys.readouterr().err
    assert f"({folder / TEAMS_FILE} does not exist)" in err and f"{folder / RULES_FILE}:" in err


def test_absent_optional_files_are_named_in_the_summary(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / BOT_FILE).unlink()
    assert main(["config", "check", str(folder)]) == 0
    captured = capsys.readouterr()
    assert f"{folder / BOT_FILE}: absent" in captured.out
    assert "rules send conversations to the bot, but there is no bot.yaml" in captured.err


def test_the_file_names_agree_with_the_loaders() -> None:
    assert (SERVICE_FILE, TEAMS_FILE, RULES_FILE, BOT_FILE, IDENTITY_FILE) == (
        settings.MAIN_FILE, schema.TEAMS_FILE, schema.RULES_FILE, bot.BOT_FILE, identity.IDENTITY_FILE)


@pytest.mark.parametrize(("name", "old", "new", "message"), [BROKEN[3], BROKEN[6], BROKEN[9]])
def test_run_on_a_broken_folder_stops_with_file_line_before_creating_anything(
    folder: Path, capsys: pytest.CaptureFixture[str], name: str, old: str, new: str, message: str
) -> None:
    path = folder / name
    text = path.read_text(encoding="utf-8")
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new), encoding="utf-8")
    before = files(folder.parent)
    assert main(["run", "--config", str(folder), "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert any(ln.startswith(f"{path}:{line}: ") and message in ln for ln in err.splitlines()), err
    assert files(folder.parent) == before  # no var/, no database


def test_a_connector_the_start_would_refuse_is_a_problem_too(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # a token in webhook mode without its secret: `omnirouter run` refuses it, so the check must not pass it
    monkeypatch.setenv("OMNIROUTER_TELEGRAM_TOKEN", "123456789:AAF-shipped-config-check-token-xyz01")
    monkeypatch.delenv("OMNIROUTER_TELEGRAM_SECRET", raising=False)
    assert main(["config", "check", str(folder)]) == 1
    assert (f"{folder / SERVICE_FILE}: connectors.telegram (telegram): mode webhook needs a secret: "
            "set OMNIROUTER_TELEGRAM_SECRET") in capsys.readouterr().err


def test_the_start_refuses_a_survey_team_that_teams_yaml_lacks(folder: Path) -> None:
    """As ``run`` does (the test above): the app is refused before anything
    exists (not through ``run`` itself, which would serve forever were the
    file accepted)."""
    name, old, new, message = BROKEN[10]
    path = folder / name
    text = path.read_text(encoding="utf-8")
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new), encoding="utf-8")
    before = files(folder.parent)
    with pytest.raises(ConfigError) as refused:
        create_app(Settings(), config_dir=folder, base_dir=folder.parent)
    assert refused.value.problems == [f"{path}:{line}: {message}"]
    assert files(folder.parent) == before


def test_a_default_team_teams_yaml_lacks_is_refused_without_rules(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without rules.yaml every conversation queues to routing.default_team: one
    teams.yaml does not have was a queue nobody was ever offered, and both the
    check and the start said nothing."""
    (folder / RULES_FILE).unlink()
    (folder / CSAT_FILE).unlink()  # it names the rules' teams
    service = folder / SERVICE_FILE
    text = service.read_text(encoding="utf-8")
    service.write_text(text.replace("  default_team: support\n", "  default_team: sales\n"), encoding="utf-8")
    assert main(["config", "check", str(folder)]) == 1
    assert "routing.default_team: 'sales' is no team of" in capsys.readouterr().err
    before = files(folder.parent)
    assert main(["run", "--config", str(folder), "--port", "0"]) == 1
    assert "routing.default_team: 'sales' is no team of" in capsys.readouterr().err
    assert files(folder.parent) == before
