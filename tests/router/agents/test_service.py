"""The rules of managing agents: rights by role, the last admin, a password's
strength, and how console profiles and teams.yaml combine for assignment."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

import pytest

from router.agents.profiles import effective_agents, routing_of
from router.agents.service import (
    GRANTS,
    Permission,
    RoutingProfile,
    StoredProfile,
    last_admin_refusal,
    may,
    password_weakness,
)
from router.models import Agent, Role
from router.routing.rules.schema import AgentConfig, TeamConfig, TeamsFile

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_rights_come_from_the_role_and_a_role_nobody_granted_may_do_nothing() -> None:
    assert all(may(Role.ADMIN, p) for p in Permission)
    assert not any(may(Role.AGENT, p) for p in Permission)
    # a supervisor sees everything and may reassign, but manages no account nor setting
    assert may(Role.SUPERVISOR, Permission.SUPERVISE) and may(Role.SUPERVISOR, Permission.VIEW_ROSTER)
    assert not may(Role.SUPERVISOR, Permission.MANAGE_AGENTS)
    assert not may(Role.SUPERVISOR, Permission.MANAGE_SETTINGS)
    # they move conversations and people's presence; rules, team replies and integrations stay an admin's
    assert may(Role.SUPERVISOR, Permission.REASSIGN) and may(Role.SUPERVISOR, Permission.MANAGE_PRESENCE)
    assert not any(may(Role.SUPERVISOR, p) for p in (Permission.MANAGE_RULES, Permission.MANAGE_TEAM_REPLIES,
                                                     Permission.MANAGE_INTEGRATIONS))
    # a role GRANTS does not name (one added to the enum and forgotten) gets nothing by default
    assert set(GRANTS) <= set(Role)
    assert not any(may(cast(Role, "auditor"), p) for p in Permission)


@pytest.mark.parametrize(("role", "active", "others", "kwargs", "refused"), [
    (Role.ADMIN, True, 0, {"deactivating": True}, True),
    (Role.ADMIN, True, 0, {"new_role": Role.AGENT}, True),
    (Role.ADMIN, True, 0, {"new_role": Role.ADMIN}, False),
    (Role.ADMIN, True, 0, {}, False),  # a rename
    (Role.ADMIN, True, 1, {"deactivating": True}, False),
    (Role.ADMIN, False, 0, {"new_role": Role.AGENT}, False),  # an inactive admin manages nothing
    (Role.AGENT, True, 0, {"deactivating": True}, False),
])
def test_the_last_active_admin_stays(role: Role, active: bool, others: int, kwargs: dict[str, object],
                                     refused: bool) -> None:
    assert (last_admin_refusal(role, active, others, **kwargs) is not None) is refused  # type: ignore[arg-type]


@pytest.mark.parametrize(("password", "weak"), [
    ("", True), ("short1!", True), ("aaaaaaaaaaaa", True), ("abababab12", False), ("annpetrova", True),
    ("ANN", True), ("correct horse battery", False), ("ann", True),
])
def test_weak_passwords_are_refused(password: str, weak: bool) -> None:
    assert (password_weakness(password, "ann", "Ann Petrova") is not None) is weak


def _agent(username: str, active: bool = True) -> Agent:
    return Agent(id=f"agt_{username}", username=username, display_name=username.title(), role=Role.AGENT,
                 created_at=T0, active=active)


TEAMS = TeamsFile(skills=["billing", "tech"], teams={"support": TeamConfig(), "senior": TeamConfig()},
                  agents=[AgentConfig(username="ann", teams=["support"], skills={"tech": 2}, capacity={"chat": 2}),
                          AgentConfig(username="ghost", teams=["support"])])


def _stored(agent: Agent, **fields: object) -> StoredProfile:
    return StoredProfile(agent_id=agent.id, profile=RoutingProfile.model_validate(fields), updated_at=T0)


def test_a_console_profile_replaces_the_files_entry_of_that_agent_only() -> None:
    ann, bob, cid = _agent("ann"), _agent("bob"), _agent("cid")
    profiles = {ann.id: _stored(ann, teams=["senior"], skills={"billing": 4}, capacity={"chat": 1}),
                cid.id: _stored(cid, teams=["support"])}
    found = {c.username: c for c in effective_agents(TEAMS, [ann, bob, cid], profiles)}
    assert found["ann"] == AgentConfig(username="ann", teams=["senior"], skills={"billing": 4},
                                   capacity={"chat": 1, "email": 5})  # a kind left out: its default
    assert found["cid"].teams == ["support"]  # in no teams.yaml entry: the console made them an agent
    assert "bob" not in found  # neither file nor console: offered nothing
    assert found["ghost"].teams == ["support"]  # the file's entry without an account is left to assignment
    assert routing_of(ann, TEAMS, profiles[ann.id]).source == "console"
    assert routing_of(ann, TEAMS, None).source == "file" and routing_of(bob, TEAMS, None).source == "none"


def test_a_deactivated_account_is_no_candidate_whatever_either_source_says() -> None:
    ann, cid = _agent("ann", active=False), _agent("cid", active=False)
    profiles = {cid.id: _stored(cid, teams=["support"])}
    assert [c.username for c in effective_agents(TEAMS, [ann, cid], profiles)] == ["ghost"]


def test_names_the_file_no_longer_has_are_left_out_and_reported() -> None:
    ann = _agent("ann")
    stored = _stored(ann, teams=["support", "gone"], skills={"tech": 1, "old": 3})
    routing = routing_of(ann, TEAMS, stored)
    assert routing.config is not None and routing.config.teams == ["support"] and routing.config.skills == {"tech": 1}
    assert (routing.stale_teams, routing.stale_skills) == (("gone",), ("old",))
