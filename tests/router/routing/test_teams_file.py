"""teams.yaml as an admin writes it: capacities for some kinds only, kinds of
their own, usernames in another case. Each was accepted and then offered the
agent nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from router.bus import EventBus
from router.config import RoutingConfig
from router.core import Router
from router.hotreload import INTERVAL
from router.metrics import Metrics
from router.routing.assignment import Assigner, Policy
from router.routing.decide import TeamsWatch, assignment_policy, make_routing
from router.routing.rules import RulesRouting, load_rules
from router.routing.rules.schema import TeamsFile
from router.store.sqlite import SQLiteStore
from tests.router.routing.rules.conftest import write_config
from tests.router.routing.rules.test_escalation import Clock, online, owner, write

RULES = """\
rules: []
default: {queue: {team: support}}
"""


def test_a_kind_an_entry_leaves_out_has_its_default() -> None:
    """``capacity: {chat: 2}`` took the agent's email to 0, and a kind of the admin's own was 0 for everyone."""
    teams = TeamsFile.model_validate({
        "channel_kinds": {"webchat": "site", "mail": "email"}, "teams": {"support": {}},
        "agents": [{"username": "anna", "teams": ["support"], "capacity": {"chat": 2}},
                   {"username": "boris", "teams": ["support"]},
                   {"username": "vera", "teams": ["support"], "capacity": {"site": 0}}],
    })
    assert [a.capacity for a in teams.agents] == [{"chat": 2, "email": 5, "site": 3},
                                                  {"chat": 3, "email": 5, "site": 3},
                                                  {"site": 0, "chat": 3, "email": 5}]  # a 0 given stays 0


async def _assigned(tmp_path: Path, teams: str, account: str) -> bool:
    clock = Clock()
    routing = RulesRouting(load_rules(write_config(tmp_path / "config", RULES, teams)), clock)
    async with SQLiteStore(tmp_path / "teams.db") as store:
        router = Router(store, EventBus(), routing, Metrics(), clock=clock)
        assigner = Assigner(store, EventBus(), Policy(routing.ruleset.teams, routing.ruleset), clock)
        ids = await online(router, clock, account)
        conversation = await write(router, 1, "где мой заказ?")
        await assigner.assign_round()
        return await owner(router, conversation) == ids[account]


async def test_a_conversation_of_the_admins_own_kind_is_offered_with_the_default_capacity(tmp_path: Path) -> None:
    teams = "channel_kinds: {webchat: site}\nteams: {support: {}}\nagents:\n  - {username: olga, teams: [support]}\n"
    assert await _assigned(tmp_path, teams, "olga")


async def test_teams_yaml_names_an_account_whatever_its_case(tmp_path: Path) -> None:
    """``username: Olga`` for the account ``olga``: the roster said "source: none" and she got nothing."""
    teams = "teams: {support: {}}\nagents:\n  - {username: Olga, teams: [support]}\n"
    assert await _assigned(tmp_path, teams, "olga")


async def test_without_rules_an_edited_teams_yaml_applies_while_running(tmp_path: Path,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    """Started without rules.yaml, the service read teams.yaml once: an agent
    added while it ran was never offered a conversation."""
    folder = tmp_path / "config"
    folder.mkdir()
    teams = folder / "teams.yaml"
    teams.write_text("teams: {support: {}}\nagents: []\n", encoding="utf-8")
    clock = Clock()
    routing = make_routing(RoutingConfig(), folder)
    async with SQLiteStore(tmp_path / "teams.db") as store:
        router = Router(store, EventBus(), routing, Metrics(), clock=clock)
        assigner = Assigner(store, EventBus(), assignment_policy(routing, folder), clock)
        ids = await online(router, clock, "olga")
        first = await write(router, 1, "где мой заказ?")
        await assigner.assign_round()
        assert await owner(router, first) is None
        teams.write_text("teams: {support: {}}\nagents:\n  - {username: olga, teams: [support]}\n", encoding="utf-8")
        await assigner.assign_round()
        assert await owner(router, first) == ids["olga"]
        teams.write_text("teams: {support: {}\n", encoding="utf-8")  # a bad edit: the running teams stay
        (folder / "rules.yaml").write_text("rules: []\ndefault: {queue: {team: support}}\n", encoding="utf-8")
        second = await write(router, 2, "и ещё", sender="v2")
        await assigner.assign_round()
        assert await owner(router, second) == ids["olga"]
        assert "was not reloaded" in caplog.text and "is read at the next start" in caplog.text


def test_without_rules_a_same_size_teams_edit_that_keeps_the_mtime_applies(tmp_path: Path) -> None:
    """``rsync -t``, ``cp -p`` or two edits within a coarse file system's tick:
    the watch compared the mtime and size only, and the old teams stayed."""
    folder = tmp_path / "config"
    folder.mkdir()
    teams = folder / "teams.yaml"
    teams.write_text("teams: {support: {}}\nagents:\n  - {username: olga, teams: [support]}\n", encoding="utf-8")
    now = [0.0]
    watch = TeamsWatch(folder, clock=lambda: now[0])
    assert [a.username for a in watch().teams.agents] == ["olga"]
    before = teams.stat()
    with teams.open("r+", encoding="utf-8") as file:  # in place, the same size: "olga" becomes "oleg"
        file.write("teams: {support: {}}\nagents:\n  - {username: oleg, teams: [support]}\n")
    os.utime(teams, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (teams.stat().st_mtime_ns, teams.stat().st_size) == (before.st_mtime_ns, before.st_size)
    now[0] += INTERVAL  # the bytes are looked at once a second at most, the stat at every round
    assert [a.username for a in watch().teams.agents] == ["oleg"]
