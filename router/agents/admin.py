"""An admin's actions on agents: each checks the rules (``service``), makes
its one store step and publishes what changed, so every console (on every
node) sees it and the assigner acts on it: a deactivated agent's
conversations are offered to others at once."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from router import events
from router.accounts.service import hash_password
from router.accounts.store import AccountStore
from router.agents.profiles import unknown_kinds, unknown_names
from router.agents.service import RoutingProfile, SelfDeactivation, StoredProfile, WeakPassword, password_weakness
from router.agents.store import AgentAdminStore, Deactivation
from router.bus import EventBus
from router.models import Agent, Role, utcnow
from router.routing.rules.schema import TeamsFile

log = logging.getLogger(__name__)


class UnknownNames(ValueError):
    """A profile names teams or skills that teams.yaml does not have."""

    def __init__(self, teams: list[str], skills: list[str]) -> None:
        parts = ([f"unknown team(s): {', '.join(teams)}"] if teams else []) + (
            [f"unknown skill(s): {', '.join(skills)}"] if skills else [])
        super().__init__("; ".join(parts) + " (teams.yaml has the names)")
        self.teams = teams
        self.skills = skills


class UnknownKinds(ValueError):
    """A profile gives a capacity for channel kinds no channel has."""

    def __init__(self, kinds: list[str], known: list[str]) -> None:
        super().__init__(f"no channel is of kind(s) {', '.join(kinds)} (known: {', '.join(known)})")
        self.kinds = kinds
        self.known = known


class AdminStore(AccountStore, AgentAdminStore, Protocol):
    """What an admin's actions use of the store: accounts and their management."""


def generated_password() -> str:
    """A password made for an admin to hand over once: 16 URL-safe characters (96 bits)."""
    return secrets.token_urlsafe(12)


@dataclass(frozen=True, slots=True)
class NewPassword:
    """A password set by an admin: the generated one to show once (None when
    the admin typed it), and how many sessions of the agent it ended."""

    generated: str | None
    sessions_ended: int


class AgentAdmin:
    def __init__(self, store: AdminStore, bus: EventBus, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock

    async def _password_hash(self, password: str | None, username: str, display_name: str) -> tuple[str, str | None]:
        if password is None:
            made = generated_password()
            return await hash_password(made), made
        if (why := password_weakness(password, username, display_name)) is not None:
            raise WeakPassword(why)
        return await hash_password(password), None

    def check_profile(self, profile: RoutingProfile, teams: TeamsFile) -> None:
        """``UnknownNames`` when the profile names a team or skill teams.yaml
        lacks; ``UnknownKinds`` for a capacity of a channel kind nobody has."""
        bad_teams, bad_skills = unknown_names(profile, teams)
        if bad_teams or bad_skills:
            raise UnknownNames(bad_teams, bad_skills)
        if kinds := unknown_kinds(profile, teams):
            raise UnknownKinds(kinds, teams.kinds())

    async def create(self, actor: Agent, username: str, display_name: str, role: Role, password: str | None,
                     profile: RoutingProfile | None, teams: TeamsFile) -> tuple[Agent, str | None]:
        """A new account (and its console profile when given); the generated
        password when none was given. Everything is checked before anything is stored."""
        if profile is not None:
            self.check_profile(profile, teams)
        password_hash, made = await self._password_hash(password, username, display_name)
        # one transaction: never an account without the profile the admin set
        agent = await self.store.create_managed_agent(username, display_name, role, password_hash, profile,
                                                      self.clock(), actor.id)
        log.info("agent %s (%s) created by %s", agent.username, agent.role.value, actor.username)
        self.bus.publish(events.agent_updated(agent))
        return agent, made

    async def update(self, actor: Agent, agent_id: str, display_name: str | None, role: Role | None) -> Agent:
        agent = await self.store.update_agent(agent_id, display_name=display_name, role=role)
        log.info("agent %s updated by %s", agent.username, actor.username)
        self.bus.publish(events.agent_updated(agent))
        return agent

    async def deactivate(self, actor: Agent, agent_id: str) -> Deactivation:
        if agent_id == actor.id:
            raise SelfDeactivation("you cannot deactivate your own account")
        done = await self.store.deactivate_agent(agent_id, self.clock())
        log.info("agent %s deactivated by %s: %d session(s) ended, %d conversation(s) back to the queue",
                 done.agent.username, actor.username, done.sessions_ended, len(done.requeued))
        for view in done.requeued:  # the assigner wakes on these and offers them to others
            self.bus.publish(events.conversation_updated(view))
        if done.presence is not None:
            self.bus.publish(events.agent_presence(done.presence))
        self.bus.publish(events.agent_updated(done.agent, sessions_ended=True))
        return done

    async def reactivate(self, actor: Agent, agent_id: str) -> Agent:
        agent = await self.store.reactivate_agent(agent_id)
        log.info("agent %s reactivated by %s", agent.username, actor.username)
        self.bus.publish(events.agent_updated(agent))
        return agent

    async def reset_password(self, actor: Agent, agent_id: str, password: str | None,
                             actor_session: str | None = None) -> NewPassword:
        """A new password; every session of the agent ends (their consoles show
        the login), but for an admin setting their own: the session they act
        from (``actor_session``, its token hash) stays, so they see the
        password they were given and are not locked out of the console."""
        agent = await self.store.get_agent(agent_id)
        password_hash, made = await self._password_hash(password, agent.username, agent.display_name)
        keep = actor_session if agent.id == actor.id else None
        ended = await self.store.replace_password(agent.id, password_hash, keep)
        log.info("password of %s reset by %s: %d session(s) ended", agent.username, actor.username, ended)
        self.bus.publish(events.agent_updated(agent, sessions_ended=True))
        return NewPassword(made, ended)

    async def set_profile(self, actor: Agent, agent_id: str, profile: RoutingProfile, teams: TeamsFile
                          ) -> StoredProfile:
        self.check_profile(profile, teams)
        agent = await self.store.get_agent(agent_id)
        stored = await self.store.set_agent_profile(agent.id, profile, self.clock(), actor.id)
        log.info("teams, skills and capacity of %s set in the console by %s", agent.username, actor.username)
        self.bus.publish(events.agent_updated(agent))
        return stored

    async def clear_profile(self, actor: Agent, agent_id: str) -> bool:
        agent = await self.store.get_agent(agent_id)
        cleared = await self.store.clear_agent_profile(agent.id)
        if cleared:
            log.info("%s's console profile removed by %s: teams.yaml's entry applies", agent.username,
                     actor.username)
            self.bus.publish(events.agent_updated(agent))
        return cleared
