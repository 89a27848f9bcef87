"""The rules of managing agents, in plain Python (the SQLite writer process
loads this module: nothing here imports more than the models).

Roles and rights: each role holds a set of ``Permission``; an endpoint asks
``may(role, permission)``, never ``role is ADMIN``, so a new role (a
supervisor, between agent and admin) is one line of ``GRANTS`` and a role
nobody granted anything may do nothing."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from router.kinds import DEFAULT_CAPACITY
from router.models import Role
from router.store.errors import ConflictError


class Permission(StrEnum):
    # list every account with its presence, teams, skills and load
    VIEW_ROSTER = "view_roster"
    # add, rename, change the role of, deactivate, reactivate, reset passwords; set teams, skills, capacity
    MANAGE_AGENTS = "manage_agents"
    # the console's settings of agents (presence at sign-in)
    MANAGE_SETTINGS = "manage_settings"
    # see every team's queues and conversations, the wallboard and the reports (CSAT surveys of a period)
    SUPERVISE = "supervise"
    # give a conversation to another agent; take over, transfer, resolve or hand to the bot a colleague's
    REASSIGN = "reassign"
    # switch another agent's presence (online, away, offline)
    MANAGE_PRESENCE = "manage_presence"
    # the routing rules: their status (the last refused edit) and, later, their editing
    MANAGE_RULES = "manage_rules"
    # write the canned replies of every team, and read every team's
    MANAGE_TEAM_REPLIES = "manage_team_replies"
    # what integrations write and hear: the CRM's value attributes of customers, the outbound webhooks
    MANAGE_INTEGRATIONS = "manage_integrations"


# A supervisor runs the floor: sees everything, moves conversations and people's presence,
# and changes nothing that configures the service (rules, teams, accounts, settings, team
# replies, integrations): those stay an admin's, so a team lead cannot rewrite routing.
GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.SUPERVISOR: frozenset({Permission.VIEW_ROSTER, Permission.SUPERVISE, Permission.REASSIGN,
                                Permission.MANAGE_PRESENCE}),
    Role.AGENT: frozenset(),
}


def permissions_of(role: Role) -> list[Permission]:
    """What ``role`` may do, in ``Permission``'s order (the console shows and hides by it)."""
    return [p for p in Permission if may(role, p)]


def may(role: Role, permission: Permission) -> bool:
    """Whether ``role`` holds ``permission``; a role missing from ``GRANTS`` holds none."""
    return permission in GRANTS.get(role, frozenset())


# the role whose last active holder may not be deactivated nor demoted: someone must be able to manage
MANAGING_ROLE = Role.ADMIN


class AgentChangeRefused(ConflictError):
    """A change of an account that would leave the console unmanaged; ``code``
    is the API's error code. Raised in a store's transaction (possibly in the
    SQLite writer process): only its message is an argument, so it pickles."""

    code = "refused"


class LastAdmin(AgentChangeRefused):
    code = "last_admin"


class SelfDeactivation(AgentChangeRefused):
    code = "self_deactivation"


class WeakPassword(ValueError):
    """A password an admin may not set; the message says why."""


def last_admin_refusal(role: Role, active: bool, other_active_admins: int, *, new_role: Role | None = None,
                       deactivating: bool = False) -> str | None:
    """Why a change of an account may not be made (``LastAdmin``), or None:
    the last active admin is neither deactivated nor given another role."""
    if role is not MANAGING_ROLE or not active or other_active_admins > 0:
        return None
    if deactivating:
        return "the last active admin cannot be deactivated: make another agent an admin first"
    if new_role is not None and new_role is not MANAGING_ROLE:
        return "the last active admin must stay an admin: make another agent an admin first"
    return None


MIN_PASSWORD = 8
_MIN_DISTINCT = 4


def password_weakness(password: str, username: str, display_name: str = "") -> str | None:
    """Why ``password`` is too weak for an account (``WeakPassword``), or
    None: at least 8 characters, 4 of them different, and not the username
    or the name."""
    if len(password) < MIN_PASSWORD:
        return f"the password must have at least {MIN_PASSWORD} characters"
    if len(set(password)) < _MIN_DISTINCT:
        return "the password repeats too few characters: use at least 4 different ones"
    lowered = password.casefold()
    if lowered in {username.casefold(), display_name.casefold().replace(" ", "")}:
        return "the password must not be the username or the name"
    return None


PresenceAtLogin = Literal["ask", "online"]


class AgentsSettings(BaseModel):
    """The console's settings of agents, kept in the store (every node reads the same)."""

    model_config = ConfigDict(extra="forbid")

    # at sign-in, an agent who is offline is asked whether to go online ("ask"), or put online ("online")
    presence_at_login: PresenceAtLogin = "ask"


Capacity = Annotated[int, Field(ge=0, le=100)]
Level = Annotated[int, Field(ge=1, le=5)]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


class RoutingProfile(BaseModel):
    """An agent's teams, skills and capacity as an admin set them in the
    console; they replace the agent's entry of teams.yaml while set."""

    model_config = ConfigDict(extra="forbid")

    teams: Annotated[list[Name], Field(max_length=64)] = Field(default_factory=list)
    skills: Annotated[dict[Name, Level], Field(max_length=64)] = Field(default_factory=dict)
    capacity: Annotated[dict[Name, Capacity], Field(max_length=16)] = Field(
        default_factory=lambda: dict(DEFAULT_CAPACITY))

    @field_validator("teams")
    @classmethod
    def _once_each(cls, teams: list[str]) -> list[str]:
        # ["support", "support"] is one team: kept once, in the order given
        return list(dict.fromkeys(teams))


class StoredProfile(BaseModel):
    """A console profile as stored: who set it, and when."""

    agent_id: str
    profile: RoutingProfile
    updated_at: datetime
    updated_by: str | None = None
