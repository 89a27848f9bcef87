"""Helpers for rules tests: write a config folder with rules.yaml and teams.yaml."""

from __future__ import annotations

import os
from pathlib import Path
from textwrap import dedent

import pytest

TEAMS = """\
skills: [billing, tech]
channel_kinds: {email: email}
teams:
  support: {}
  senior: {}
agents:
  - username: anna
    teams: [senior]
    skills: {billing: 3}
"""

RULES = """\
rules:
  - name: vip
    when: customer_tier == 'gold' or customer_ltv >= 5000
    queue: {team: senior, priority: 80, skills: {billing: 2}}
  - name: simple
    when:
      - not has_attachments
      - text.length <= 50
    bot: {then: {team: support, priority: 20}}
default:
  queue: {team: support, priority: 10}
"""


def write_config(folder: Path, rules: str = RULES, teams: str | None = TEAMS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if teams is not None:
        (folder / "teams.yaml").write_text(dedent(teams), encoding="utf-8")
    path = folder / "rules.yaml"
    path.write_text(dedent(rules), encoding="utf-8")
    return path


def edit(path: Path, text: str) -> None:
    """A config file changed as an admin would: the hot reload sees it by its mtime."""
    path.write_text(text, encoding="utf-8")
    st = path.stat()  # a later mtime even on a coarse file system clock
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))


@pytest.fixture
def rules_path(tmp_path: Path) -> Path:
    return write_config(tmp_path / "config")
