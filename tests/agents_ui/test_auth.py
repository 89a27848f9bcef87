"""Who may use the console: sessions, the login throttle, roles."""

from __future__ import annotations

import asyncio
import hashlib
import re
import sqlite3

import aiohttp
import pytest
from argon2 import PasswordHasher

from agents_ui.endpoints import ENDPOINTS, Endpoint
from agents_ui.sessions import ADDRESS_THROTTLE, COOKIE, THROTTLE, PasswordChecks
from router.appkeys import SETTINGS, STORE
from router.config import Settings
from router.models import Role
from router.store.postgres import PostgresStore
from tests.agents_ui.conftest import AGENT_PASSWORD, Client, OpenSession, create_agent, error_of, login
from tests.conftest import ADMIN_PASSWORD, AppClient, sqlite_only

PRIVATE = [ep for ep in ENDPOINTS if not ep.public]
ADMIN_ONLY = [ep for ep in ENDPOINTS if ep.admin]


def route_id(ep: Endpoint) -> str:
    return f"{ep.method} {ep.path}"


def concrete(path: str) -> str:
    # every path parameter filled in (a literal "{kind}" would match no route at all)
    return re.sub(r"{(\w+)}", lambda m: "conv_x" if m[1] == "id" else "x", path)


async def stored_session_hashes(client: Client) -> list[str]:
    """What the sessions table holds, read past the store (on either backend)."""
    store = client.app[STORE]
    if isinstance(store, PostgresStore):
        rows = await store._pg.read(lambda conn: conn.fetch("SELECT token_hash FROM sessions"))
        return [row[0] for row in rows]
    with sqlite3.connect(client.app[SETTINGS].store.path) as db:
        return [row[0] for row in db.execute("SELECT token_hash FROM sessions")]


async def test_login_sets_a_strict_session_cookie_whose_token_is_stored_hashed(client: Client) -> None:
    assert (await error_of(await client.get("/api/me")))[:2] == (401, "unauthenticated")
    resp = await client.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert resp.status == 200
    assert (await resp.json())["agent"] | {"id": "", "created_at": ""} == {
        "id": "", "created_at": "", "username": "admin", "display_name": "Administrator", "role": "admin",
        "language": None, "active": True}
    morsel = resp.cookies[COOKIE]
    assert morsel["httponly"] and morsel["samesite"] == "Strict" and morsel["path"] == "/"
    assert not morsel["secure"]  # plain http here; https requests get Secure
    assert int(morsel["max-age"]) == int(client.app[SETTINGS].console.session_hours * 3600)

    assert await stored_session_hashes(client) == [hashlib.sha256(morsel.value.encode()).hexdigest()]
    assert (await (await client.get("/api/me")).json())["agent"]["username"] == "admin"


async def test_the_cookie_is_secure_when_the_public_address_is_https(make_client: AppClient,
                                                                    settings: Settings) -> None:
    settings.server.public_url = "https://console.example.com"  # TLS ends at a proxy in front of us
    client = await make_client(settings)
    resp = await client.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert resp.cookies[COOKIE]["secure"]


async def test_logout_ends_the_session_for_good(client: Client, open_session: OpenSession) -> None:
    await login(client)
    token = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value
    resp = await client.post("/api/logout", json={})
    assert resp.status == 204
    assert (await client.get("/api/me")).status == 401
    # the old cookie, replayed, opens nothing
    replay = await open_session(client)
    resp = await replay.get("/api/me", headers={"Cookie": f"{COOKIE}={token}"})
    assert (await error_of(resp))[:2] == (401, "unauthenticated")


async def test_wrong_password_and_unknown_user_are_the_same_401(client: Client) -> None:
    for username in ("admin", "nobody"):
        resp = await client.post("/api/login", json={"username": username, "password": "guess"})
        assert (await error_of(resp))[:2] == (401, "invalid_credentials")
    assert (await client.get("/api/me")).status == 401


async def fail_login(client: Client, times: int, username: str = "admin") -> None:
    for _ in range(times):
        resp = await client.post("/api/login", json={"username": username, "password": "guess"})
        assert resp.status == 401


@sqlite_only("a clock the test moves, which the database's is not: tests/router/cluster/test_shared_state.py")
async def test_repeated_failures_lock_out_until_the_lockout_passes(client: Client) -> None:
    now = [1000.0]
    client.app[THROTTLE].clock = lambda: now[0]
    await fail_login(client, 5)
    # locked: even the right password is not looked at
    resp = await client.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    status, code, message = await error_of(resp)
    assert (status, code) == (429, "too_many_attempts") and "60 s" in message
    assert resp.headers["Retry-After"] == "60"
    now[0] += 45
    resp = await client.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert resp.status == 429 and resp.headers["Retry-After"] == "15"
    # another account from the same address is not locked
    assert (await client.post("/api/login", json={"username": "ann", "password": "x"})).status == 401
    now[0] += 15
    await login(client)


@sqlite_only("a clock the test moves, which the database's is not: tests/router/cluster/test_shared_state.py")
async def test_failures_spread_beyond_the_window_do_not_lock(client: Client) -> None:
    now = [1000.0]
    client.app[THROTTLE].clock = lambda: now[0]
    await fail_login(client, 4)
    now[0] += 61
    await fail_login(client, 4)  # the first four have left the 60 s window
    await fail_login(client, 1)  # the fifth inside it locks
    assert (await client.post("/api/login", json={"username": "admin", "password": "guess"})).status == 429


@sqlite_only("a clock the test moves, which the database's is not: tests/router/cluster/test_shared_state.py")
async def test_one_password_sprayed_over_many_names_locks_out_the_address(client: Client) -> None:
    """The lock-out counts (username, address): a new name each try was never
    counted twice, so one address could guess without end."""
    now = [1000.0]
    client.app[THROTTLE].clock = client.app[ADDRESS_THROTTLE].clock = lambda: now[0]
    budget = client.app[SETTINGS].console.login_attempts_per_address
    for n in range(budget - 1):
        await fail_login(client, 1, f"user{n}")
    await login(client)  # a success from the address: a person is there, its count starts again
    for n in range(budget):
        await fail_login(client, 1, f"other{n}")
    resp = await client.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert (await error_of(resp))[:2] == (429, "too_many_attempts") and resp.headers["Retry-After"] == "60"
    now[0] += 60
    await login(client)


@pytest.mark.real_password_hashing
async def test_logins_in_flight_from_one_address_are_few(client: Client) -> None:
    """argon2's threads are few on purpose: 40 made-up names at once from one
    address had every colleague's login wait 5-9 s behind them."""
    tries = [client.post("/api/login", json={"username": f"u{n}", "password": "guess"}) for n in range(12)]
    answers = await asyncio.gather(*tries)
    refused = [r for r in answers if r.status == 429]
    assert refused and all(r.headers["Retry-After"] == "1" for r in refused)
    assert {r.status for r in answers} == {401, 429}
    assert len(answers) - len(refused) >= PasswordChecks.MAX_IN_FLIGHT
    await login(client)


async def test_a_success_clears_the_failures(client: Client) -> None:
    client.app[THROTTLE].clock = lambda: 1000.0
    await fail_login(client, 4)
    await login(client)
    await fail_login(client, 4)
    await login(client)


@pytest.mark.real_password_hashing
async def test_a_hash_with_old_parameters_is_upgraded_at_login(client: Client) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    store = client.app[STORE]
    agent = await store.create_agent("old", "Old Timer", Role.AGENT, weak.hash("old-password"))
    await login(client, "old", "old-password")
    creds = await store.agent_credentials("old")
    assert creds is not None and creds[0].id == agent.id
    assert creds[1] != weak.hash("old-password") and not PasswordHasher().check_needs_rehash(creds[1])
    await login(client, "old", "old-password")  # the new hash verifies


@pytest.mark.parametrize("ep", PRIVATE, ids=route_id)
async def test_every_private_route_needs_a_session(client: Client, ep: Endpoint) -> None:
    resp = await client.request(ep.method, concrete(ep.path), json={})
    assert (await error_of(resp))[:2] == (401, "unauthenticated")


async def test_every_api_route_of_the_app_is_a_declared_endpoint(client: Client) -> None:
    """A route added beside the registry would escape its auth check."""
    declared = {(ep.method, ep.path) for ep in ENDPOINTS}
    for route in client.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/api") and route.method != "HEAD":
            assert (route.method, path) in declared


@pytest.mark.parametrize("ep", ADMIN_ONLY, ids=route_id)
async def test_agents_may_not_use_admin_routes(client: Client, agent_http: aiohttp.ClientSession,
                                               ep: Endpoint) -> None:
    resp = await agent_http.request(ep.method, concrete(ep.path), json={})
    assert (await error_of(resp))[:2] == (403, "forbidden")


async def test_admins_create_agents(client: Client, open_session: OpenSession) -> None:
    await login(client)
    ann = await create_agent(client, "ann")
    assert ann["role"] == "agent" and ann["display_name"] == "Ann"
    resp = await client.post("/api/agents", json={"username": "ann", "display_name": "Ann 2",
                                                  "password": AGENT_PASSWORD})
    assert (await error_of(resp))[:2] == (409, "username_taken")
    await create_agent(client, "chief", role="admin")
    http = await open_session(client)
    assert (await login(http, "ann", AGENT_PASSWORD))["agent"]["role"] == "agent"
    names = [a["username"] for a in (await (await http.get("/api/agents")).json())["agents"]]
    assert names == ["admin", "ann", "chief"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"username": "Ann"}, "username"),
        ({"username": "a b"}, "username"),
        ({"username": ""}, "username"),
        ({"username": "a" * 65}, "username"),
        ({"password": "short"}, "password"),
        ({"role": "root"}, "role"),
        ({"display_name": "  "}, "display_name"),
        ({"extra": 1}, "extra"),
    ],
)
async def test_new_agents_are_validated(client: Client, change: dict[str, object], field: str) -> None:
    await login(client)
    body = {"username": "ann", "display_name": "Ann", "password": AGENT_PASSWORD} | change
    status, code, message = await error_of(await client.post("/api/agents", json=body))
    assert (status, code) == (422, "invalid") and message.startswith(field)
    assert [a["username"] for a in (await (await client.get("/api/agents")).json())["agents"]] == ["admin"]
