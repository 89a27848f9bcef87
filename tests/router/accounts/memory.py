"""The accounts' store protocol in a few dicts: a backend of its own that
passes the accounts' contract (test_store_contract.py), so the service's
rules are tested against it without a database."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from router.accounts.store import AccountStore, SessionEnd
from router.models import Agent, Role, new_id
from router.store.errors import ConflictError, NotFound


class MemoryAccounts(AccountStore):
    def __init__(self) -> None:
        self.agents: dict[str, tuple[Agent, str]] = {}  # by id: the agent and its password hash
        self.sessions: dict[str, tuple[str, datetime]] = {}  # by token hash: the agent's id and the expiry

    async def create_agent(self, username: str, display_name: str, role: Role, password_hash: str) -> Agent:
        if any(a.username == username for a, _ in self.agents.values()):
            raise ConflictError(f"username {username!r} is taken")
        agent = Agent(id=new_id("agt"), username=username, display_name=display_name, role=role,
                      created_at=datetime.now(UTC))
        self.agents[agent.id] = (agent, password_hash)
        return agent

    async def agent_credentials(self, username: str) -> tuple[Agent, str] | None:
        return next((creds for creds in self.agents.values() if creds[0].username == username), None)

    async def set_password_hash(self, agent_id: str, password_hash: str) -> None:
        if agent_id in self.agents:
            self.agents[agent_id] = (self.agents[agent_id][0], password_hash)

    async def set_agent_language(self, agent_id: str, language: str | None) -> None:
        if agent_id not in self.agents:
            raise NotFound(f"agent {agent_id}")
        agent, password_hash = self.agents[agent_id]
        self.agents[agent_id] = (agent.model_copy(update={"language": language}), password_hash)

    async def get_agent(self, agent_id: str) -> Agent:
        if agent_id not in self.agents:
            raise NotFound(f"agent {agent_id}")
        return self.agents[agent_id][0]

    async def list_agents(self) -> list[Agent]:
        return sorted((a for a, _ in self.agents.values()), key=lambda a: a.username)

    async def create_session(self, token_hash: str, agent_id: str, expires_at: datetime,
                             seen_at: datetime | None = None) -> None:
        if token_hash in self.sessions or agent_id not in self.agents:
            raise ConflictError("the session's token is in use or its agent is unknown")
        self.sessions[token_hash] = (agent_id, expires_at)

    async def seen_sessions(self, token_hashes: Collection[str], now: datetime) -> None:
        pass  # the routing that reads it is not in this store

    async def session_agent(self, token_hash: str, now: datetime) -> Agent | None:
        session = self.sessions.get(token_hash)
        if session is None or session[1] <= now:
            return None
        return self.agents[session[0]][0]

    async def end_session(self, token_hash: str, now: datetime) -> SessionEnd | None:
        ended = self.sessions.pop(token_hash, None)
        if ended is None:
            return None
        left = sum(1 for owner, expires in self.sessions.values() if owner == ended[0] and expires > now)
        return SessionEnd(ended[0], left)

    async def delete_agent_sessions(self, agent_id: str) -> int:
        ended = [t for t, (owner, _) in self.sessions.items() if owner == agent_id]
        for token_hash in ended:
            del self.sessions[token_hash]
        return len(ended)

    async def replace_password(self, agent_id: str, password_hash: str, keep_session: str | None = None) -> int:
        if agent_id not in self.agents:
            raise NotFound(f"agent {agent_id}")
        self.agents[agent_id] = (self.agents[agent_id][0], password_hash)
        ended = [t for t, (owner, _) in self.sessions.items() if owner == agent_id and t != keep_session]
        for token_hash in ended:
            del self.sessions[token_hash]
        return len(ended)
