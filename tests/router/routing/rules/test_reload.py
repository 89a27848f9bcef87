"""Hot reload: a good edit applies at once, a bad one is refused with its line
and the running rules stay; admins see why in the console API."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from router.appkeys import BUS, ROUTER, RULES_RELOADER, STORE
from router.config import Settings
from router.models import IdentityRef, InboundMessage
from router.routing.rules.engine import rules_version
from router.server.app import create_app
from tests.conftest import ADMIN_PASSWORD
from tests.router.routing.rules.conftest import RULES, TEAMS, edit, write_config

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Client:
    monkeypatch.setenv("OMNIROUTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
    settings.connectors = {}
    config = write_config(tmp_path / "config").parent
    c = await aiohttp_client(create_app(settings, config, base_dir=tmp_path))
    await c.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    return c


async def team_of_new(client: Client, sender: str, text: str) -> tuple[str | None, str | None]:
    msg = InboundMessage(channel="webchat", external_id=sender, sender=IdentityRef(kind="webchat", value=sender),
                         text=text)
    conv = await client.app[STORE].get_conversation((await client.app[ROUTER].on_message(msg)).conversation_id)
    return conv.team, conv.rules_version


async def test_a_good_edit_applies_to_the_next_decision(client: Client, tmp_path: Path) -> None:
    reloader = client.app[RULES_RELOADER]
    before = reloader.status.version
    assert (await team_of_new(client, "a", "x" * 80))[0] == "support"
    async with client.app[BUS].subscribe() as events:
        edit(tmp_path / "config" / "rules.yaml", RULES.replace("queue: {team: support, priority: 10}",
                                                               "queue: {team: senior, priority: 10}"))
        assert reloader.check() is True
        assert (await events.queue.get()) is not None
    team, version = await team_of_new(client, "b", "x" * 80)
    assert (team, version) == ("senior", reloader.status.version) and version != before
    assert reloader.check() is False  # nothing changed since


async def test_a_bad_edit_is_refused_and_the_running_rules_stay(client: Client, tmp_path: Path) -> None:
    reloader = client.app[RULES_RELOADER]
    running = reloader.status.version
    path = tmp_path / "config" / "rules.yaml"
    edit(path, RULES.replace("customer_tier", "customer_teir"))
    assert reloader.check() is False
    assert (await team_of_new(client, "c", "x" * 80)) == ("support", running)
    status = await (await client.get("/api/rules/status")).json()
    assert status["version"] == running
    expected = f"{path}:3: rules.0.when: unknown fact 'customer_teir' (did you mean 'customer_tier'?)"
    assert status["problems"] == [expected]
    edit(path, RULES)  # fixed: the error goes away (same content as running)
    assert reloader.check() is True
    assert (await (await client.get("/api/rules/status")).json())["problems"] == []


async def test_a_teams_edit_is_checked_with_the_rules(client: Client, tmp_path: Path) -> None:
    reloader = client.app[RULES_RELOADER]
    edit(tmp_path / "config" / "teams.yaml", "teams: {support: {}}\n")  # senior is still used by a rule
    assert reloader.check() is False
    assert "unknown team 'senior'" in reloader.status.problems[0]


async def test_rules_status_is_for_admins(client: Client, tmp_path: Path) -> None:
    resp = await client.post("/api/agents", json={"username": "ann", "display_name": "Ann",
                                                   "password": "agent-password-1", "role": "agent"})
    assert resp.status == 201
    await client.post("/api/logout", json={})
    await client.post("/api/login", json={"username": "ann", "password": "agent-password-1"})
    assert (await client.get("/api/rules/status")).status == 403


async def test_a_survey_config_naming_an_unknown_team_is_refused_and_the_running_one_stays(
    client: Client, tmp_path: Path
) -> None:
    """csat.yaml reloads with the rules, and names teams.yaml's teams: a team
    it does not know (in csat.yaml, or dropped from teams.yaml) is refused
    with its file:line, and the running rules and survey config stay."""
    reloader, surveys = client.app[RULES_RELOADER], client.app[ROUTER].surveys
    csat, teams = tmp_path / "config" / "csat.yaml", tmp_path / "config" / "teams.yaml"
    with_sales = TEAMS.replace("  senior: {}\n", "  senior: {}\n  sales: {}\n")
    edit(teams, with_sales)
    edit(csat, "enabled: true\nteams:\n  sales: {enabled: false}\n")
    assert reloader.check() is True
    assert surveys.config.policy("support").enabled and not surveys.config.policy("sales").enabled
    assert "sales" in reloader.routing.ruleset.teams.teams  # a teams.yaml edit applies, rules.yaml unchanged
    running, version = surveys.config, reloader.status.version

    edit(csat, "enabled: false\nteams:\n  senior: {}\n  salse: {enabled: true}\n")
    assert reloader.check() is False
    assert surveys.config == running
    status = await (await client.get("/api/rules/status")).json()
    assert status["problems"] == [f"{csat}:4: teams.salse: unknown team 'salse' (did you mean 'sales'?)"]

    edit(csat, "enabled: true\nteams:\n  sales: {enabled: false}\n")  # fixed, as it runs
    edit(teams, TEAMS)  # and now teams.yaml loses the team csat.yaml names
    assert reloader.check() is False
    assert surveys.config == running and reloader.status.version == version
    status = await (await client.get("/api/rules/status")).json()
    assert status["problems"] == [f"{csat}:3: teams.sales: unknown team 'sales' (teams: senior, support)"]


@pytest.mark.parametrize("same", ["mtime", "mtime_and_inode"])
async def test_a_same_size_edit_that_keeps_the_mtime_applies(client: Client, tmp_path: Path, same: str) -> None:
    """``rsync -t``, ``cp -p``, ``touch -r`` or two edits within a coarse file
    system's tick: the watch compared the mtime and size only, and the old
    rules silently stayed, /api/rules/status saying nothing was wrong."""
    reloader = client.app[RULES_RELOADER]
    path = tmp_path / "config" / "rules.yaml"
    edit(path, RULES.replace("priority: 10}", "priority: 15}"))
    assert reloader.check() is True
    before = path.stat()
    text = RULES.replace("priority: 10}", "priority: 16}")
    if same == "mtime_and_inode":  # written in place, as an editor that keeps the file's inode does
        with path.open("r+", encoding="utf-8") as file:
            file.write(text)
    else:  # written to a new file and renamed over the old one, as rsync does
        (tmp_path / "config" / "rules.yaml.new").write_text(text, encoding="utf-8")
        (tmp_path / "config" / "rules.yaml.new").replace(path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)
    assert reloader.check() is True
    assert reloader.status.version == rules_version(text)
    assert (await team_of_new(client, "c", "x" * 80))[1] == rules_version(text)
