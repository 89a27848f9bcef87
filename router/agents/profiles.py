"""How the console's routing profiles and teams.yaml combine.

teams.yaml stays the source of the teams, the skills and the rules, and of
every agent's entry that nobody changed in the console. An admin's edit of
one agent's teams, skills and capacity in the console is stored (every node
reads the same) and replaces that agent's teams.yaml entry while it is set;
"Use teams.yaml" removes it. A team or skill that a profile names and that
teams.yaml no longer has is left out (and shown to the admin), as a reload
of the file would refuse it there. A deactivated account is no candidate,
whatever either source says."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from router.agents.service import RoutingProfile, StoredProfile
from router.kinds import default_capacity
from router.models import Agent
from router.routing.rules.schema import AgentConfig, TeamsFile

Source = Literal["console", "file", "none"]


@dataclass(frozen=True, slots=True)
class EffectiveRouting:
    """One account's routing as assignment sees it, and where it comes from."""

    config: AgentConfig | None
    source: Source
    # what a console profile names that teams.yaml no longer has (ignored meanwhile)
    stale_teams: tuple[str, ...] = ()
    stale_skills: tuple[str, ...] = ()


def unknown_names(profile: RoutingProfile, teams: TeamsFile) -> tuple[list[str], list[str]]:
    """The teams and skills of ``profile`` that teams.yaml does not have."""
    known_skills = set(teams.skills)
    return ([t for t in profile.teams if t not in teams.teams],
            [s for s in profile.skills if s not in known_skills])


def unknown_kinds(profile: RoutingProfile, teams: TeamsFile) -> list[str]:
    """The channel kinds ``profile`` gives a capacity that no channel has (``{"fax": 3}``)."""
    known = set(teams.kinds())
    return [k for k in profile.capacity if k not in known]


def routing_of(agent: Agent, teams: TeamsFile, stored: StoredProfile | None) -> EffectiveRouting:
    """Where ``agent`` is routed: their console profile, else their teams.yaml entry, else nowhere."""
    if stored is not None:
        profile = stored.profile
        bad_teams, bad_skills = unknown_names(profile, teams)
        # built without validating again: RoutingProfile checked every field when it was read
        config = AgentConfig.model_construct(
            username=agent.username,
            teams=[t for t in profile.teams if t not in bad_teams],
            skills={s: level for s, level in profile.skills.items() if s not in bad_skills},
            # a kind the profile leaves out at its default, as in teams.yaml
            capacity={**{k: default_capacity(k) for k in teams.kinds()}, **profile.capacity},
        )
        return EffectiveRouting(config, "console", tuple(bad_teams), tuple(bad_skills))
    entry = next((a for a in teams.agents if a.username.lower() == agent.username.lower()), None)
    return EffectiveRouting(entry, "file" if entry is not None else "none")


def effective_agents(teams: TeamsFile, accounts: Iterable[Agent], profiles: Mapping[str, StoredProfile]
                     ) -> list[AgentConfig]:
    """The agents assignment offers conversations to: teams.yaml's entries,
    each replaced by its account's console profile where there is one, with
    the accounts the file does not name but a profile does; no inactive
    account. An entry of the file with no account is kept (assignment skips it)."""
    # teams.yaml's ``Olga`` is the account ``olga``: an admin writes names as people do
    by_name = {a.username.lower(): a for a in accounts}
    found: list[AgentConfig] = []
    named: set[str] = set()
    for entry in teams.agents:
        named.add(entry.username.lower())
        agent = by_name.get(entry.username.lower())
        if agent is None:
            found.append(entry)
        elif agent.active and agent.id not in profiles:
            # by the account's own spelling, which everything after matches it by
            found.append(entry if entry.username == agent.username
                         else entry.model_copy(update={"username": agent.username}))
        elif agent.active:
            config = routing_of(agent, teams, profiles[agent.id]).config
            if config is not None:
                found.append(config)
    for agent in by_name.values():
        if agent.username.lower() not in named and agent.active and agent.id in profiles:
            config = routing_of(agent, teams, profiles[agent.id]).config
            if config is not None:
                found.append(config)
    return found
