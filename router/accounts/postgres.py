"""The accounts slice's SQL on PostgreSQL. Mixed into ``PostgresStore``, which gives it
the pool (``router.store.pg_engine``); storage and atomicity only, the rules are the
slice's. Each write holds the lock its method's docstring names (``router.accounts.store``)."""

from __future__ import annotations

from datetime import datetime

from router.accounts.store import AccountStore
from router.models import Agent, Role
from router.store.pg_engine import PgConnections


class PostgresAccounts(AccountStore, PgConnections):
    """Accounts over the pool of the store it is mixed into."""

    async def create_agent(self, username: str, display_name: str, role: Role, password_hash: str) -> Agent:
        raise NotImplementedError("postgres: not yet")

    async def agent_credentials(self, username: str) -> tuple[Agent, str] | None:
        raise NotImplementedError("postgres: not yet")

    async def set_password_hash(self, agent_id: str, password_hash: str) -> None:
        raise NotImplementedError("postgres: not yet")

    async def get_agent(self, agent_id: str) -> Agent:
        raise NotImplementedError("postgres: not yet")

    async def list_agents(self) -> list[Agent]:
        raise NotImplementedError("postgres: not yet")

    async def create_session(self, token_hash: str, agent_id: str, expires_at: datetime) -> None:
        raise NotImplementedError("postgres: not yet")

    async def session_agent(self, token_hash: str, now: datetime) -> Agent | None:
        raise NotImplementedError("postgres: not yet")

    async def delete_session(self, token_hash: str) -> None:
        raise NotImplementedError("postgres: not yet")

    async def delete_agent_sessions(self, agent_id: str) -> int:
        raise NotImplementedError("postgres: not yet")
