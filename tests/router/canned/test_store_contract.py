"""The canned replies' part of the store contract (router/canned/store.py),
on every backend of tests/router/store/test_contract.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from router.canned.types import CannedReply, Scope
from router.models import Role, new_id
from router.store.base import Store
from router.store.errors import ConflictError, NotFound
from router.store.postgres import PostgresStore
from tests.router.store.test_contract import BACKENDS, T0


@pytest.fixture(params=sorted(BACKENDS))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with BACKENDS[request.param](request, tmp_path)() as s:
        yield s


def reply(scope: Scope, owner: str, shortcut: str, **texts: str) -> CannedReply:
    return CannedReply(id=new_id("cnd"), scope=scope, owner=owner, shortcut=shortcut, title=f"title {shortcut}",
                       texts=texts or {"ru": f"текст {shortcut}"}, created_by=None, created_at=T0, updated_at=T0)


async def test_a_reply_is_stored_and_read_back_as_written(store: Store) -> None:
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "h")
    both = reply(Scope.PERSONAL, ann.id, "hello", ru="Здравствуйте, {customer.name}!", en="Hello, {customer.name}!")
    team = reply(Scope.TEAM, "support", "late", en="Your order {customer.order_id} is late")
    assert await store.create_canned(both) == both
    await store.create_canned(team)
    assert await store.get_canned(both.id) == both
    assert await store.get_canned(team.id) == team
    with pytest.raises(NotFound):
        await store.get_canned("cnd_missing")


async def test_a_shortcut_is_unique_per_owner_only(store: Store) -> None:
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "h")
    bob = await store.create_agent("bob", "Bob", Role.AGENT, "h")
    await store.create_canned(reply(Scope.PERSONAL, ann.id, "hi"))
    await store.create_canned(reply(Scope.PERSONAL, bob.id, "hi"))  # another agent's
    await store.create_canned(reply(Scope.TEAM, "support", "hi"))  # a team's
    await store.create_canned(reply(Scope.TEAM, "senior", "hi"))  # another team's
    with pytest.raises(ConflictError):
        await store.create_canned(reply(Scope.PERSONAL, ann.id, "hi"))
    with pytest.raises(ConflictError):
        await store.create_canned(reply(Scope.TEAM, "support", "hi"))
    assert len(await store.list_canned(None, None)) == 2  # nothing of the refused ones was stored


async def test_a_personal_reply_of_an_unknown_agent_is_a_conflict(store: Store) -> None:
    with pytest.raises(ConflictError):
        await store.create_canned(reply(Scope.PERSONAL, "agt_missing", "hi"))
    assert await store.list_canned("agt_missing", None) == []


async def test_an_update_changes_the_words_never_the_owner(store: Store) -> None:
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "h")
    first = await store.create_canned(reply(Scope.PERSONAL, ann.id, "hi"))
    other = await store.create_canned(reply(Scope.PERSONAL, ann.id, "bye"))
    changed = first.model_copy(update={"shortcut": "hello", "title": "Hello", "texts": {"en": "Hello!"},
                                       "updated_at": T0 + timedelta(minutes=1), "owner": "agt_someone_else"})
    updated = await store.update_canned(changed)
    assert updated == changed.model_copy(update={"owner": ann.id})
    assert await store.get_canned(first.id) == updated
    with pytest.raises(ConflictError):  # the other reply's shortcut
        await store.update_canned(updated.model_copy(update={"shortcut": "bye"}))
    assert (await store.get_canned(first.id)).shortcut == "hello"
    assert (await store.get_canned(other.id)).shortcut == "bye"
    with pytest.raises(NotFound):
        await store.update_canned(changed.model_copy(update={"id": "cnd_missing"}))


async def test_delete(store: Store) -> None:
    kept = await store.create_canned(reply(Scope.TEAM, "support", "a"))
    gone = await store.create_canned(reply(Scope.TEAM, "support", "b"))
    await store.delete_canned(gone.id)
    with pytest.raises(NotFound):
        await store.get_canned(gone.id)
    with pytest.raises(NotFound):
        await store.delete_canned(gone.id)
    assert [r.id for r in await store.list_canned(None, None)] == [kept.id]


async def test_a_list_holds_the_agents_own_and_the_teams_asked_for(store: Store) -> None:
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "h")
    bob = await store.create_agent("bob", "Bob", Role.AGENT, "h")
    a_hi = await store.create_canned(reply(Scope.PERSONAL, ann.id, "hi"))
    await store.create_canned(reply(Scope.PERSONAL, bob.id, "bobs"))
    support_hi = await store.create_canned(reply(Scope.TEAM, "support", "hi"))
    senior_hi = await store.create_canned(reply(Scope.TEAM, "senior", "hi"))
    senior_a = await store.create_canned(reply(Scope.TEAM, "senior", "a"))
    sales = await store.create_canned(reply(Scope.TEAM, "sales", "z"))

    def ids(replies: list[CannedReply]) -> list[str]:
        return [r.id for r in replies]

    # by shortcut; within one, personal first, then teams by name
    assert ids(await store.list_canned(ann.id, ["support", "senior"])) == [senior_a.id, a_hi.id, senior_hi.id,
                                                                          support_hi.id]
    assert ids(await store.list_canned(ann.id, [])) == [a_hi.id]
    assert ids(await store.list_canned(None, ["sales"])) == [sales.id]
    assert ids(await store.list_canned(ann.id, None)) == [senior_a.id, a_hi.id, senior_hi.id, support_hi.id,
                                                          sales.id]


async def test_the_list_is_in_code_point_order_on_every_backend(store: Store) -> None:
    """A collation (PostgreSQL's en_US puts "ab" before "a-c", ignoring the hyphen) never
    decides the order: both backends list the same replies the same way. The test server's
    databases are C-locale: the column is given a language's collation, as a database
    created in one has."""
    if isinstance(store, PostgresStore):
        conn = await asyncpg.connect(store.dsn)
        try:
            icu = await conn.fetchval("SELECT collname FROM pg_collation WHERE collname IN ('und-x-icu', 'en_US')"
                                      " ORDER BY collname DESC LIMIT 1")
            if icu is None:
                pytest.skip("this PostgreSQL has no language collation to order by")
            await conn.execute(f'ALTER TABLE canned_replies ALTER COLUMN shortcut TYPE text COLLATE "{icu}"')
        finally:
            await conn.close()
    for shortcut in ("ab", "a-c", "a_b", "aa", "б", "z"):
        await store.create_canned(reply(Scope.TEAM, "support", shortcut))
    await store.create_canned(reply(Scope.TEAM, "Sales", "ab"))
    listed = [(r.shortcut, r.owner) for r in await store.list_canned(None, None)]
    assert listed == [("a-c", "support"), ("a_b", "support"), ("aa", "support"), ("ab", "Sales"),
                      ("ab", "support"), ("z", "support"), ("б", "support")]
