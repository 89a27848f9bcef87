"""``omnirouter config check [DIR]``: every YAML file of a config folder
checked by the loaders the service itself uses, without starting anything
or creating any file. Problems are ``file:line: message`` lines."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from router.plurals import counted

# the files of a config folder, in the order they are checked (names kept here, not
# imported: ``omnirouter --help`` must not pay for the loaders' imports)
SERVICE_FILE = "omnirouter.yaml"
TEAMS_FILE = "teams.yaml"
RULES_FILE = "rules.yaml"
BOT_FILE = "bot.yaml"
IDENTITY_FILE = "identity.yaml"
CSAT_FILE = "csat.yaml"
FILES = (SERVICE_FILE, TEAMS_FILE, RULES_FILE, BOT_FILE, IDENTITY_FILE, CSAT_FILE)


@dataclass
class CheckReport:
    """What ``check_folder`` found: problems (each one ``file:line: message``),
    warnings that do not stop the service, and one summary line per file."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)

    def run(self, path: Path, load: Callable[[], str]) -> bool:
        """``load`` the file (its summary on success); its problems otherwise."""
        from router.yamlconf import ConfigError  # noqa: PLC0415

        try:
            self.summary.append(f"{path}: ok, {load()}")
        except ConfigError as exc:
            self.problems.extend(p for p in exc.problems if p not in self.problems)
            return False
        return True


def _service(folder: Path) -> str:
    from router.server.settings import load_settings, start_problems  # noqa: PLC0415
    from router.yamlconf import ConfigError  # noqa: PLC0415

    settings = load_settings(folder)
    if problems := start_problems(settings):
        raise ConfigError([f"{folder / SERVICE_FILE}: {p}" for p in problems])
    return f"{counted(len(settings.connectors), 'connector', 'connectors')}, port {settings.server.port}"


def _teams(folder: Path) -> str:
    from router.routing.rules.engine import load_teams  # noqa: PLC0415

    teams = load_teams(folder / TEAMS_FILE)
    return f"{counted(len(teams.teams), 'team', 'teams')}, {counted(len(teams.agents), 'agent', 'agents')}"


def _identity(folder: Path) -> str:
    from router.identity.service import load_identity_config  # noqa: PLC0415

    load_identity_config(folder)
    return "identity keys and merge rules"


def _csat(folder: Path) -> str:
    from router.csat.config import load_csat_config  # noqa: PLC0415

    config = load_csat_config(folder)
    teams = counted(len(config.teams), "team", "teams")
    return "satisfaction surveys " + ("on" if config.enabled else "off") + f", {teams} of their own"


def _bot(folder: Path) -> str:
    from router.bot.config import load_bot_config  # noqa: PLC0415

    config = load_bot_config(folder / BOT_FILE)
    return f"{config.engine} bot, {counted(len(config.intents), 'intent', 'intents')}"


def _rules(folder: Path, report: CheckReport) -> str:
    from router.routing.rules.engine import load_rules  # noqa: PLC0415
    from router.yamlconf import present  # noqa: PLC0415

    ruleset = load_rules(folder / RULES_FILE)
    report.warnings.extend(ruleset.warnings)
    if ruleset.sends_to_bot() and not present(folder / BOT_FILE):
        report.warnings.append(f"{folder / RULES_FILE}: rules send conversations to the bot, but there is no "
                               f"{BOT_FILE}: they wait for an agent")
    return f"{counted(len(ruleset.rules), 'rule', 'rules')}, version {ruleset.version}"


def check_folder(folder: Path) -> CheckReport:
    """Check each file of ``folder`` that exists; a missing folder, or one
    holding none of the files, is a problem of its own."""
    from router.yamlconf import ConfigError, is_folder, present  # noqa: PLC0415

    report = CheckReport()
    try:  # a folder that may not be searched: one line, as an unreadable file is, never a traceback
        if not is_folder(folder):
            what = "is not a folder" if present(folder) else "no such folder"
            report.problems.append(f"{folder}: {what}")
            return report
        found = [name for name in FILES if present(folder / name)]
    except ConfigError as exc:
        report.problems.extend(exc.problems)
        return report
    if not found:
        report.problems.append(f"{folder}: no config file here (expected {', '.join(FILES)})")
        return report
    from router.server.settings import missing_main_file  # noqa: PLC0415

    if (problem := missing_main_file(folder)) is not None:  # the check never passes a folder run refuses
        report.problems.append(problem)
        return report
    checks: dict[str, Callable[[], str]] = {
        SERVICE_FILE: lambda: _service(folder),
        TEAMS_FILE: lambda: _teams(folder),
        RULES_FILE: lambda: _rules(folder, report),
        BOT_FILE: lambda: _bot(folder),
        IDENTITY_FILE: lambda: _identity(folder),
        CSAT_FILE: lambda: _csat(folder),
    }
    for name, load in checks.items():
        if name in found:
            report.run(folder / name, load)
        else:
            report.summary.append(f"{folder / name}: absent, {_ABSENT[name]}")
    if not report.problems:  # the files alone are sound: what they say of each other
        report.problems.extend(_across(folder))
    return report


def _across(folder: Path) -> list[str]:
    from router.routing.decide import default_team_problem  # noqa: PLC0415
    from router.server.settings import load_settings  # noqa: PLC0415

    problem = default_team_problem(load_settings(folder).routing, folder)
    return [problem] if problem is not None else []


_ABSENT = {
    SERVICE_FILE: "the embedded defaults apply",
    TEAMS_FILE: "no teams (rules that name a team are refused)",
    RULES_FILE: "every conversation goes to the default team",
    BOT_FILE: "no bot: conversations sent to the bot wait for an agent",
    IDENTITY_FILE: "the default identity rules apply",
    CSAT_FILE: "no satisfaction survey is asked",
}


def _check(args: argparse.Namespace) -> int:
    report = check_folder(Path(args.folder))
    for line in report.problems + report.warnings:
        print(line, file=sys.stderr)
    if report.problems:
        print(f"{args.folder}: {counted(len(report.problems), 'problem', 'problems')}", file=sys.stderr)
        return 1
    print("\n".join(report.summary))
    print(f"{args.folder}: ok")
    return 0


def add_commands(sub: Any) -> None:
    """Register ``config`` and its subcommands on the main parser's subparsers."""
    config = sub.add_parser("config", help="check a configuration folder")
    cmds = config.add_subparsers(dest="config_command", required=True)
    check = cmds.add_parser(
        "check", help="validate every YAML file of a config folder (starts nothing, writes nothing)",
        description=f"Checks {', '.join(FILES)} with the service's own loaders. Prints file:line: message "
                    "for every problem and exits 1, or a summary per file and exits 0.",
    )
    check.add_argument("folder", nargs="?", default="config", help="the config folder (default: config/)")
    check.set_defaults(func=_check)
