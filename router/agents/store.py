"""What managing agents needs from a store, and no more: an account's role,
name and active flag, the end of a deactivated agent's work (sessions,
presence, conversations), the routing profiles set in the console and the
console's settings of agents. ``Store`` inherits it.

Every method is one atomic step; errors are ``router.store``'s
(``ConflictError``, ``NotFound``...) and the rules' (``router.agents.service``)."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from router.agents.service import AgentsSettings, RoutingProfile, StoredProfile
from router.models import Agent, AgentPresence, ConversationView, Role


@dataclass(frozen=True, slots=True)
class Deactivation:
    """What deactivating an agent changed, for the events that tell the others."""

    agent: Agent
    sessions_ended: int
    # the agent's conversations, back in their queues
    requeued: list[ConversationView] = field(default_factory=list)
    # their presence, now offline (None: they never set one)
    presence: AgentPresence | None = None


class AgentAdminStore(Protocol):
    @abstractmethod
    async def update_agent(self, agent_id: str, *, display_name: str | None = None, role: Role | None = None
                           ) -> Agent:
        """Rename an agent or change their role; ``LastAdmin`` when the last
        active admin would lose the role (``service.last_admin_refusal``);
        ``NotFound`` for an unknown agent.

        Lock: every active admin's ``agents`` row and the agent's, ``FOR
        UPDATE`` in id order, before the admins are counted: two admins
        demoting each other at once cannot both pass the count."""

    @abstractmethod
    async def create_managed_agent(self, username: str, display_name: str, role: Role, password_hash: str,
                                   profile: RoutingProfile | None, now: datetime, by: str | None) -> Agent:
        """A new account and, when given, its console profile, both or neither:
        a failure between the two would leave an account without the profile
        the admin set, and a retry refused as a taken username.
        ``ConflictError`` if the username is taken.

        Lock: none beyond the transaction: the account's INSERT (whose unique
        username is the check) and its profile's, of a row nobody else can see yet."""

    @abstractmethod
    async def deactivate_agent(self, agent_id: str, now: datetime) -> Deactivation:
        """The agent can no longer log in nor be offered anything: inactive,
        every session ended, presence offline, their assigned conversations
        back in the queue (kept whole: messages, route, who answered).
        ``LastAdmin`` for the last active admin; ``NotFound`` for an unknown
        agent. Deactivating an inactive agent again ends what is still
        theirs (a conversation given to them in flight, a session) and
        changes nothing else.

        Lock: the agent's assigned conversations ``FOR UPDATE`` (conversations
        come before agents in the store's order), then every active admin's
        ``agents`` row and the agent's ``FOR UPDATE`` in id order, the lock an
        offer takes on its agent: an offer waiting for it reads the agent
        inactive and is refused."""

    @abstractmethod
    async def reactivate_agent(self, agent_id: str) -> Agent:
        """Active again (offline until they choose); ``NotFound`` for an unknown agent.

        Single statement: an UPDATE of the agent's row, returning it."""

    @abstractmethod
    async def agent_profiles(self) -> dict[str, StoredProfile]:
        """The routing profiles set in the console, by agent id."""

    @abstractmethod
    async def set_agent_profile(self, agent_id: str, profile: RoutingProfile, now: datetime, by: str | None
                                ) -> StoredProfile:
        """Set (or replace) an agent's console profile; ``NotFound`` for an unknown agent.

        Single statement: an INSERT ... ON CONFLICT DO UPDATE, whose foreign key is the check."""

    @abstractmethod
    async def clear_agent_profile(self, agent_id: str) -> bool:
        """Back to teams.yaml's entry; whether there was a profile.

        Single statement: a DELETE."""

    @abstractmethod
    async def agents_settings(self) -> AgentsSettings:
        """The console's settings of agents (their defaults when never set)."""

    @abstractmethod
    async def set_agents_settings(self, settings: AgentsSettings, now: datetime, by: str | None) -> AgentsSettings:
        """Store every setting of ``settings``.

        Single statement: one INSERT ... ON CONFLICT DO UPDATE of every key."""
